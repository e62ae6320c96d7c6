"""The answer cache: a question asked again is answered from it, and only while nothing that decides the
answer has changed (settings, document filter, learned English) and the first answer was not cut short."""

from __future__ import annotations

from assistant.answer.answer_cache import AnswerCache
from assistant.pipeline import Assistant
from tests.stub_llm import StubLLM

PV_ZH = "青海光伏资源理论可开发量是多少？"
SMALL_ZH = "县级水源地达标率目标是多少？"


def test_a_question_asked_again_is_answered_from_the_cache(real_assistant):
    assistant = real_assistant.with_settings()  # an assistant of its own, with an empty cache
    first = assistant.ask(PV_ZH)
    again = assistant.ask(f"  {PV_ZH} ")  # the same question once its spacing is normalised
    assert not first.cached and again.cached
    assert (again.text, again.citations, again.kind) == (first.text, first.citations, first.kind)
    assert again.timings_ms["total"] < first.timings_ms["total"]
    doc = first.citations[0].chunk.doc_id
    other = next(d.id for d in assistant.view.documents if d.id != doc)
    assert not assistant.ask(PV_ZH, doc=other).cached  # another filter is another question
    assert not assistant.ask(PV_ZH, top_k=3).cached


def test_size_zero_keeps_nothing(real_assistant):
    assistant = real_assistant.with_settings(answer_cache_size=0)
    assistant.ask(PV_ZH)
    assert not assistant.ask(PV_ZH).cached and len(assistant.answer_cache) == 0


def test_least_recently_asked_goes_first():
    cache = AnswerCache(2)
    cache.put("a", "A")  # type: ignore[arg-type]  # any value: the cache does not look inside
    cache.put("b", "B")  # type: ignore[arg-type]
    assert cache.get("a") == "A"
    cache.put("c", "C")  # type: ignore[arg-type]
    assert cache.get("b") is None and cache.get("a") == "A" and len(cache) == 2


def test_learned_english_makes_a_kept_answer_stale(small_settings, embedder):
    assistant = Assistant.from_settings(small_settings, embedder=embedder)
    assistant.ask(SMALL_ZH)
    assert assistant.ask(SMALL_ZH).cached
    assistant.view.learn_renderings({"湖泊治理取得明显成效。": "Lake management has made clear progress."})
    assert not assistant.ask(SMALL_ZH).cached


def test_an_answer_an_llm_outage_cut_short_is_not_kept(real_assistant):
    with StubLLM() as stub:
        down = real_assistant.with_settings(openai_base_url="http://127.0.0.1:9/v1", llm_timeout=1.0)
        first = down.ask(PV_ZH, mode="openai")
        assert first.mode == "extractive"  # fell back: the model is down
        assert not down.ask(PV_ZH, mode="openai").cached
        stub.reply = "据测算，青海光伏资源理论可开发量达35亿千瓦[1]。"
        up = real_assistant.with_settings(openai_base_url=stub.base_url, llm_timeout=5.0)
        up.ask(PV_ZH, mode="openai")
        assert up.ask(PV_ZH, mode="openai").cached and len(stub.requests) == 1
