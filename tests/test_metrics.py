"""Metrics against hand-computed examples (Chinese text, numbers with units, lists)."""

from __future__ import annotations

import json

import pytest

from assistant.evaluate.dataset import load_dataset
from assistant.evaluate.metrics import (
    char_f1,
    first_relevant_rank,
    fold,
    hit_at_k,
    key_fact_accuracy,
    percentile,
    reciprocal_rank,
    token_f1,
)


def test_first_relevant_rank():
    passages = ["盐湖资源丰富", "光伏资源理论可开发量达35亿千瓦", "风能"]
    assert first_relevant_rank(passages, ["35亿千瓦"]) == 2
    assert first_relevant_rank(passages, ["不存在", "风能"]) == 3
    assert first_relevant_rank(passages, ["水塔"]) is None


def test_hit_at_k_and_reciprocal_rank():
    assert (hit_at_k(3, 5), hit_at_k(6, 5), hit_at_k(None, 5)) == (1.0, 0.0, 0.0)
    assert (reciprocal_rank(4), reciprocal_rank(None)) == (0.25, 0.0)


def test_key_fact_accuracy_with_units_lists_and_alternatives():
    keys = [["35亿千瓦", "3.5 billion kW"], ["90%"]]
    assert key_fact_accuracy("可开发量达35亿千瓦，比重超过90%。", keys) == 1.0
    assert key_fact_accuracy("It reaches 3.5 Billion kW, over ９０％.", keys) == 1.0  # case and full width fold
    assert key_fact_accuracy("可开发量达35亿千瓦。", keys) == 0.0  # a list: every item is needed
    assert key_fact_accuracy("anything", []) == 1.0
    assert key_fact_accuracy("产能7,555万千瓦", [["7555万千瓦"]]) == 1.0  # thousands separators do not count


def test_fold():
    assert fold("３５％  Total") == "35% total"


def test_char_f1_chinese():
    # prediction 青海盐湖 vs reference 盐湖资源: overlap {盐, 湖} = 2; P = 2/4, R = 2/4 -> F1 = 0.5
    assert char_f1("青海盐湖", "盐湖资源") == pytest.approx(0.5)
    assert char_f1("，。", "盐湖") == 0.0


def test_token_f1_english():
    # pred: salt lake lithium (3), ref: lithium salt (2): overlap 2; P = 2/3, R = 1 -> F1 = 0.8
    assert token_f1("Salt lake lithium", "lithium, salt") == pytest.approx(0.8)
    assert token_f1("", "x") == 0.0


def test_percentile():
    assert percentile([10, 20, 30, 40], 50) == 25
    assert percentile([], 50) != percentile([], 50)  # NaN for no data


def test_dataset_bad_lines_are_reported_with_their_number(tmp_path):
    good = {
        "id": "q1",
        "lang": "zh",
        "question": "问？",
        "doc_id": None,
        "chapter": 1,
        "section": None,
        "box": None,
        "evidence": ["甲"],
        "answer_keys": [["甲"]],
        "type": "fact",
    }
    bad_lang = {**good, "id": "q2", "lang": "fr"}
    bad_chapter = {**good, "id": "q3", "chapter": "一"}
    lines = [json.dumps(good, ensure_ascii=False), "{broken", json.dumps(bad_lang), json.dumps(bad_chapter), ""]
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    questions, problems = load_dataset(path)
    assert [q.id for q in questions] == ["q1"]
    assert [p.line for p in problems] == [2, 3, 4]
    assert "lang must be zh or en" in problems[1].reason and "integer" in problems[2].reason
