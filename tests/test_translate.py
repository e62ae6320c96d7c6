"""`planqa translate` against a real HTTP endpoint (the loopback stub LLM) over a small indexed plan:
drafts are checked, written per batch, flagged as drafts and loadable; bad replies are rejected unwritten."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from assistant.errors import GeneratorUnavailableError, PlanqaError
from assistant.index.build import english_rendering, ensure_index
from assistant.index.folder import read_index
from assistant.ingest.curation import Curation, load_renderings
from assistant.interfaces.cli import main
from assistant.models import content_hash
from assistant.settings import Settings
from assistant.translate.drafts import (
    check_batch,
    document_sentences,
    missing_figures,
    parse_reply,
    plan_translation,
    translate,
)
from assistant.translate.translators import OpenAITranslator
from tests.conftest import SMALL_PLAN
from tests.stub_llm import StubLLM, batch_of
from tests.stub_llm import stand_in_rendering as fake_english

GLOSSARY = "zh\ten\taliases\tkind\n水源地\twater source area\t\tterm\n河湖长制\triver and lake chief system\t\tterm\n"
SENTENCES = 13  # the sentences of SMALL_PLAN's passages


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder) -> Path:
    """The small plan (and a glossary) indexed once; each test works on its own copy."""
    root = tmp_path_factory.mktemp("translate")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "water.txt").write_text(SMALL_PLAN, encoding="utf-8")
    (corpus / "glossary_zh_en.tsv").write_text(GLOSSARY, encoding="utf-8")
    settings = Settings.load(environ={}, corpus_dir=corpus, index_dir=root / "index")
    ensure_index(settings, lambda: embedder, progress=False)
    return root


@pytest.fixture
def settings(built: Path, tmp_path: Path) -> Settings:
    shutil.copytree(built / "corpus", tmp_path / "corpus")
    shutil.copytree(built / "index", tmp_path / "index", symlinks=True)
    return Settings.load(environ={}, corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")


@pytest.fixture
def stub():
    with StubLLM() as server:
        server.respond = translator()
        yield server


def translator(mangle=lambda zh, en: en):
    return lambda body: json.dumps([mangle(zh, fake_english(zh)) for zh in batch_of(body)])


def cli(settings: Settings, *args: str) -> int:
    return main(["--corpus", str(settings.corpus_dir), "--index", str(settings.index_dir), "translate", *args])


def run(settings: Settings, base_url: str, out: Path | None = None, redo_all: bool = False, batch_size: int = 5):
    settings = settings.with_(openai_base_url=base_url, openai_model="stub-model")
    index = read_index(settings.index_dir)
    curation = Curation.load(settings.corpus_dir)
    job = plan_translation(index, index.documents[0], settings.corpus_dir, curation, out, redo_all)
    return translate(job, OpenAITranslator(settings), curation.glossary, settings.prompts_dir, batch_size)


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_cli_drafts_every_missing_sentence(settings, stub, monkeypatch, capsys):
    monkeypatch.setenv("PLANQA_OPENAI_BASE_URL", stub.base_url)
    monkeypatch.setenv("PLANQA_OPENAI_MODEL", "stub-model")
    monkeypatch.setenv("PLANQA_TRANSLATOR", "openai")
    assert cli(settings, "water.txt", "--batch-size", "4") == 0
    assert f"{SENTENCES} drafted, 0 skipped (already rendered), 0 rejected" in capsys.readouterr().out
    assert len(stub.requests) == 4  # 13 sentences in batches of 4

    out = settings.corpus_dir / "translations" / "water.en.jsonl"
    written = records(out)
    assert all(r["draft"] is True and r["model"] == "stub-model" for r in written)
    index = read_index(settings.index_dir)
    sentences = document_sentences(index, index.documents[0].id)
    assert [r["zh"] for r in written] == sentences and len(sentences) == SENTENCES
    renderings = load_renderings(out.parent)
    assert all(renderings[content_hash(s)] == fake_english(s) for s in sentences)  # keyed to its own sentence
    curation = Curation.load(settings.corpus_dir)
    assert all(english_rendering(c.text, curation) for c in index.chunks)  # every passage now has its English

    users = [r["messages"][-1]["content"] for r in stub.requests]  # a batch's glossary terms, and only those
    uses_term = [any("河湖长制" in s for s in batch_of(r)) for r in stub.requests]
    assert ["河湖长制 = river and lake chief system" in u for u in users] == uses_term == [False, False, True, False]
    assert "(4 in all)" in users[0]
    systems = {r["messages"][0]["content"] for r in stub.requests}
    assert len(systems) == 1 and "$" not in systems.pop()  # the same instructions each time: a local model reuses them


def test_a_second_run_skips_what_is_rendered(settings, stub):
    first = run(settings, stub.base_url)
    assert (first.drafted, first.skipped, first.rejected) == (SENTENCES, 0, ())
    again = run(settings, stub.base_url)
    assert (again.drafted, again.skipped) == (0, SENTENCES) and len(stub.requests) == 3


def test_a_draft_that_drops_a_figure_is_rejected(settings, stub):
    stub.respond = translator(lambda zh, en: en.replace("95%", "ninety-five percent"))
    report = run(settings, stub.base_url)
    sentence = "全省河湖水质持续改善，地表水优良比例达到95%。"
    assert [(r.zh, r.reason) for r in report.rejected] == [(sentence, "figures missing from the rendering: 95%")]
    written = [r["zh"] for r in records(report.out)]
    assert report.drafted == len(written) == SENTENCES - 1 and sentence not in written
    stub.respond = translator()  # a re-run drafts only the rejected sentence
    again = run(settings, stub.base_url)
    assert (again.drafted, again.skipped) == (1, SENTENCES - 1)


def test_a_dropped_figure_is_asked_for_again_with_the_figure_named(settings, stub):
    def drops_unless_reminded(body: dict) -> str:
        reminded = "Keep every figure, including: 95%" in body["messages"][-1]["content"]
        return json.dumps([fake_english(zh).replace("95%", "95%" if reminded else "most") for zh in batch_of(body)])

    stub.respond = drops_unless_reminded
    report = run(settings, stub.base_url)
    sentence = "全省河湖水质持续改善，地表水优良比例达到95%。"
    assert report.rejected == () and {r["zh"]: r["en"] for r in records(report.out)}[sentence] == fake_english(sentence)
    retried = [r for r in stub.requests if "Keep every figure" in r["messages"][-1]["content"]]
    assert [batch_of(r) for r in retried] == [[sentence]]  # that sentence alone, once


def test_a_word_the_model_only_echoes_is_rendered_from_its_pieces(settings, stub):
    """Qwen2.5-Coder-1.5B left 综合整治 in a draft and, asked for it alone, wrote it back unchanged; its
    jieba pieces 综合 + 整治 it renders."""
    sentence = "全省河湖水质持续改善，地表水优良比例达到95%。"

    def leaves_and_echoes(body: dict) -> str:
        batch = batch_of(body)
        words = {"综合": "integrated", "整治": "improvement"}
        if batch == ["综合整治"]:
            return json.dumps(["综合整治"])
        if all(w in words for w in batch):
            return json.dumps([words[w] for w in batch])
        return json.dumps([fake_english(zh) + (" 综合整治" if zh == sentence else "") for zh in batch])

    stub.respond = leaves_and_echoes
    report = run(settings, stub.base_url)
    assert report.rejected == ()
    kept = {r["zh"]: r["en"] for r in records(report.out)}
    assert kept[sentence] == fake_english(sentence) + " integrated improvement"


def test_a_reply_that_does_not_line_up_is_asked_for_again_in_halves(settings, stub):
    """A reply one rendering short, or with no JSON at all, writes nothing of its batch; the batch is asked
    for again as two halves, down to single sentences, and what lines up then is kept."""
    broken = "全省河湖水质持续改善，地表水优良比例达到95%。"  # every request holding it gets no JSON

    def reply(body: dict) -> str:
        batch = batch_of(body)
        if broken in batch:
            return "Sure! Here are the translations you asked for."
        drafts = [fake_english(zh) for zh in batch]
        return json.dumps(drafts[:-1] if len(batch) == 5 else drafts)  # five at once: one rendering short

    stub.respond = reply
    report = run(settings, stub.base_url)  # batches of 5
    assert [(r.zh, r.reason) for r in report.rejected] == [(broken, "the reply holds no JSON array")]
    written = [r["zh"] for r in records(report.out)]
    assert report.drafted == len(written) == SENTENCES - 1 and broken not in written
    sizes = [len(batch_of(b)) for b in stub.requests]
    assert sizes[0] == 5 and 1 in sizes and max(sizes) == 5


def test_parse_reply_and_check_batch():
    assert parse_reply('```json\n["A 1", "B"]\n```', 2) == ["A 1", "B"]
    with pytest.raises(ValueError, match="not an array of strings"):
        parse_reply('["A", 2]', 2)
    assert parse_reply('["A", "B",]', 2) == ["A", "B"]  # a small model's slip, mended by json-repair
    with pytest.raises(ValueError, match="3 renderings for 2"):  # mended into three strings: not lined up
        parse_reply('["Build “three fields" and one channel", "B"]', 2)
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_reply("[]]", 1)
    result = check_batch(["到2025年达到100%。", "湖泊治理。"], '["By 2025, 100%.", "湖泊 governance."]')
    assert result.accepted == (("到2025年达到100%。", "By 2025, 100%."),)
    assert result.rejected[0].reason == "the rendering contains Chinese"


def test_figures_may_change_scale_but_not_value():
    zh = "光伏资源理论可开发量达35亿千瓦，风能7555万千瓦，占比95%，2021年3月。"
    assert missing_figures(zh, "3.5 billion kW, wind 75.55 million kW, 95% of it, March 2021.") == []
    assert missing_figures(zh, "3.5 billion kW, wind 75.55 million kW, 95 percent, March 2021.") == ["95%"]
    assert missing_figures(zh, "35 billion kW, wind 7,555 kW, 95%, in 2021 (3).") == ["35亿"]
    assert missing_figures("供水人口10000人", "a population of 10,000") == []


def test_the_endpoint_failing_midway_is_a_typed_error_and_keeps_earlier_batches(settings, stub):
    def first_then_broken(body: dict) -> str:
        stub.garbage = True  # every later request gets an HTTP reply that is not JSON
        return translator()(body)

    stub.respond = first_then_broken
    with pytest.raises(GeneratorUnavailableError, match=rf"endpoint {re.escape(stub.base_url)} \(model stub-model\)"):
        run(settings, stub.base_url, batch_size=10)
    written = records(settings.corpus_dir / "translations" / "water.en.jsonl")
    assert len(stub.requests) == 2 and [r["zh"] for r in written] == batch_of(stub.requests[0])


def test_the_endpoint_down_is_a_typed_error(settings):
    with StubLLM() as down:
        url = down.base_url  # a port nothing listens on any more
    with pytest.raises(GeneratorUnavailableError, match=re.escape(url)):
        run(settings, url)
    assert not (settings.corpus_dir / "translations").exists()


def test_cli_endpoint_down_exits_2_with_the_address(settings, monkeypatch, capsys):
    with StubLLM() as down:
        url = down.base_url
    monkeypatch.setenv("PLANQA_OPENAI_BASE_URL", url)
    assert cli(settings, "water.txt") == 2
    err = capsys.readouterr().err
    assert f"planqa: error: the LLM endpoint {url}" in err and "Traceback" not in err


def test_cli_without_an_llm_configured_exits_2(settings, monkeypatch, capsys):
    for name in ("PLANQA_OPENAI_BASE_URL", "PLANQA_OPENAI_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert cli(settings, "water.txt") == 2
    err = capsys.readouterr().err
    assert "no translator is configured: run `planqa model fetch`" in err and "PLANQA_TRANSLATOR=openai" in err
    assert not (settings.corpus_dir / "translations").exists()


def test_out_file_and_all(settings, stub, tmp_path):
    out = tmp_path / "drafts" / "water.en.jsonl"
    first = run(settings, stub.base_url, out=out, batch_size=20)
    assert first.drafted == SENTENCES and not (settings.corpus_dir / "translations").exists()
    again = run(settings, stub.base_url, out=out, redo_all=True)  # what is in --out already counts as done
    assert (again.drafted, again.skipped) == (0, SENTENCES)
    with pytest.raises(PlanqaError, match="--all would put drafts over the reviewed renderings"):
        run(settings, stub.base_url, redo_all=True)
