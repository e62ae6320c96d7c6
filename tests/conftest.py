"""Shared fixtures: the real corpus, a small corpus written per test, real PDFs made with reportlab."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.ingest.curation import Curation
from assistant.settings import PROJECT_ROOT, Settings

CORPUS = PROJECT_ROOT / "corpus"
SHUFFLED = CORPUS / "000_3fcb09e08d7a1545.txt"
CLEAN = CORPUS / "001_1c30f51bc815055d.txt"


@pytest.fixture(autouse=True, scope="session")
def no_fetched_model(tmp_path_factory):
    """Tests never see the model `planqa model fetch` put in the user's cache: with `translator = auto`,
    that would make every English answer depend on what this machine happens to have. A test that wants
    a local model passes its file (gemma) explicitly."""
    patch = pytest.MonkeyPatch()
    patch.setenv("PLANQA_CACHE", str(tmp_path_factory.mktemp("planqa-cache")))
    yield
    patch.undo()


SMALL_PLAN = """各市、自治州人民政府，省政府各委、办、厅、局:
《示范省水资源保护规划》已经省政府常务会议审议通过，现印发给你们，请认真抓好贯彻落实。
示范省人民政府办公厅
2022年3月1日
为保护水资源，制定本规划。
第一章 发展基础
第一节 主要成就
全省河湖水质持续改善，地表水优良比例达到95%。湖泊治理取得明显成效。
第二节 面临挑战
部分地区地下水超采问题依然突出，城镇污水管网建设滞后。
第二章 主要任务
第一节 加强水源保护
划定饮用水水源保护区，实施水源地规范化建设，到2025年县级水源地达标率达到100%。
专栏1 水源保护重大工程
水源地规范化建设工程。实施水源地隔离防护、标志设置等项目。
附件
名词解释
1.河湖长制:由各级党政主要负责人担任河长湖长，负责组织领导相应河湖的管理和保护工作。
2.千吨万人:实际供水人口在10000人或日供水在1000吨以上的水源地。
"""


@pytest.fixture(scope="session")
def curation() -> Curation:
    return Curation.load(CORPUS)


@pytest.fixture(scope="session")
def embedder():
    from assistant.embed.base import CachingEmbedder, make_embedder

    return CachingEmbedder(make_embedder(Settings.load(environ={})))


@pytest.fixture
def small_settings(tmp_path: Path) -> Settings:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "water.txt").write_text(SMALL_PLAN, encoding="utf-8")
    return Settings.load(environ={}, corpus_dir=corpus, index_dir=tmp_path / "index")


@pytest.fixture
def copy_of_corpus(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


def make_pdf(path: Path, pages: list[list[str]], header: str | None = None, footer_numbers: bool = False) -> Path:
    """A real PDF with a Chinese text layer (reportlab's built-in STSong CID font, nothing to download)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c = canvas.Canvas(str(path))
    for number, lines in enumerate(pages, 1):
        c.setFont("STSong-Light", 11)
        if header:
            c.drawString(72, 810, header)
        y = 780
        for line in lines:
            c.drawString(72, y, line)
            y -= 18
        if footer_numbers:
            c.drawString(290, 40, f"- {number} -")
        c.showPage()
    c.save()
    return path


@pytest.fixture(scope="session")
def real_assistant(tmp_path_factory, embedder):
    """The assistant over the real corpus, built once per session (the embedder cache is shared with the
    structure-recovery tests, so each sentence is embedded once)."""
    from assistant.pipeline import Assistant

    settings = Settings.load(environ={}, index_dir=tmp_path_factory.mktemp("index"))
    return Assistant.from_settings(settings, embedder=embedder)
