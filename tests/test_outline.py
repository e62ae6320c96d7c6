"""Outline recovery from headings (clean plans) and from a table of contents (the shuffled plan).
Expected titles come from corpus/outline_en.json, curated by hand from the documents."""

from __future__ import annotations

import json

import pytest

from assistant.ingest.documents import parse_document
from assistant.ingest.outline import parse_headed, parse_toc
from tests.conftest import CLEAN, CORPUS, SHUFFLED, SMALL_PLAN

CURATED = {d["source"]: d for d in json.loads((CORPUS / "outline_en.json").read_text(encoding="utf-8"))["documents"]}


def curated_outline(source: str) -> list[tuple[int, str, list[str]]]:
    return [(c["n"], c["title_zh"], [s["title_zh"] for s in c["sections"]]) for c in CURATED[source]["chapters"]]


def test_clean_plan_chapters_sections_boxes_and_glossary_exactly():
    outline, units = parse_headed(CLEAN.read_text(encoding="utf-8"))
    got = [(c.n, c.title, [s.title for s in c.sections]) for c in outline.chapters]
    assert got == curated_outline(CLEAN.name)
    assert len(outline.chapters) == 13
    assert [(b.n, b.title) for b in outline.boxes] == [(b["n"], b["title_zh"]) for b in CURATED[CLEAN.name]["boxes"]]
    assert len(outline.boxes) == 10
    assert [(t.n, t.term) for t in outline.glossary] == [
        (t["n"], t["term_zh"]) for t in CURATED[CLEAN.name]["glossary"]
    ]
    assert len(outline.glossary) == 40
    # every box sits in the chapter it is printed in, and holds the projects listed under it
    assert [b.chapter for b in outline.boxes] == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    box1 = [u.text for u in units if u.path.box == 1]
    assert box1[0].startswith("“中华水塔”保护工程") and len(box1) == 10


def test_clean_plan_notice_and_preface():
    _, units = parse_headed(CLEAN.read_text(encoding="utf-8"))
    notice = [u.text for u in units if u.path.part == "notice"]
    preface = [u.text for u in units if u.path.part == "preface"]
    assert notice[0].startswith("各市、自治州人民政府") and notice[-1] == "2021年11月24日"
    assert len(preface) == 2 and preface[0].startswith("“十四五”时期是开启")


def test_every_line_of_the_clean_plan_is_kept_once():
    text = CLEAN.read_text(encoding="utf-8")
    _, units = parse_headed(text)
    for unit in units:
        assert text[unit.start : unit.end] == unit.text


def test_table_of_contents_of_the_shuffled_plan():
    outline, start, end = parse_toc(SHUFFLED.read_text(encoding="utf-8"))
    got = [(c.n, c.title, [s.title for s in c.sections]) for c in outline.chapters]
    assert got == curated_outline(SHUFFLED.name)
    assert len(outline.chapters) == 12


def test_small_plan_with_arabic_and_chinese_numerals():
    text = SMALL_PLAN.replace("第二章", "第2章")
    doc = parse_document(text, "water.txt", None, curation=no_curation())
    assert [c.n for c in doc.outline.chapters] == [1, 2]
    assert doc.title == "示范省水资源保护规划"
    assert [(t.n, t.term) for t in doc.outline.glossary] == [(1, "河湖长制"), (2, "千吨万人")]


def test_title_falls_back_to_file_name():
    doc = parse_document("第一章 总则\n正文内容。\n", "my-plan.txt", None, curation=no_curation())
    assert doc.title == "my-plan"


def no_curation():  # noqa: N802 - reads as a value
    from assistant.ingest.curation import Curation

    return Curation()


@pytest.mark.parametrize("source", [SHUFFLED.name, CLEAN.name])
def test_english_titles_are_curated(curation, source):
    doc = CURATED[source]
    assert curation.title_en(source, doc["title_zh"]) == doc["title_en"]
