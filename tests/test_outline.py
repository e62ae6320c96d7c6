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


ENUMERATED_PLAN = """青海省人民政府办公厅关于印发《青海省农牧区人居环境整治提升行动方案》的通知
各市、自治州人民政府，省政府各委、办、厅、局：
现将《青海省农牧区人居环境整治提升行动方案》印发给你们，请认真贯彻执行。
一、总体要求
（一）指导思想。坚持以人民为中心的发展思想，扎实推进农牧区人居环境整治提升。
（二）工作目标
到2025年，农牧区人居环境显著改善，生活垃圾收运处置体系覆盖90%以上的行政村。
二、重点任务
（一）推进农牧区厕所革命。
一、因地制宜选择改厕模式，二、同步推进粪污资源化利用，三、建立管护长效机制，这是改厕的三项要求。
（二）推进生活污水治理。优先治理水源保护区和城乡接合部的生活污水。
（四）这一行编号不接续，是正文里的列项，不是标题。
专栏1 人居环境整治重点工程
村庄清洁行动：每年开展村庄清洁行动不少于4次。
三、保障措施
（一）加强组织领导。各地区要把人居环境整治摆上重要议事日程。
"""


def test_a_plan_numbered_by_enumeration_gets_its_chapters_and_sections():
    outline, units = parse_headed(ENUMERATED_PLAN)
    got = [(c.n, c.title, [s.title for s in c.sections]) for c in outline.chapters]
    assert got == [
        (1, "总体要求", ["指导思想", "工作目标"]),
        (2, "重点任务", ["推进农牧区厕所革命", "推进生活污水治理"]),
        (3, "保障措施", ["加强组织领导"]),
    ]
    assert outline.numbering == "enumerated"
    by_text = {u.text: u.path for u in units}
    # an inline heading's sentence is the title; what follows it on the line is the section's text
    assert by_text["坚持以人民为中心的发展思想，扎实推进农牧区人居环境整治提升。"].section == 1
    assert by_text["各地区要把人居环境整治摆上重要议事日程。"].label() == "三、保障措施 › （一）加强组织领导"
    assert by_text["各地区要把人居环境整治摆上重要议事日程。"].label("en") == "3. 保障措施 › (1) 加强组织领导"
    # list items and numbers out of turn stay text where they are
    list_item = next(p for t, p in by_text.items() if t.startswith("一、因地制宜"))
    assert (list_item.chapter, list_item.section) == (2, 1)
    assert by_text["（四）这一行编号不接续，是正文里的列项，不是标题。"].section == 2
    assert [(b.n, b.chapter) for b in outline.boxes] == [(1, 2)]
    box = by_text["村庄清洁行动：每年开展村庄清洁行动不少于4次。"]
    assert box.label() == "二、重点任务 › 专栏1 人居环境整治重点工程"
    assert units[0].path.part == "notice"


def test_a_plan_with_chapter_headings_keeps_them_though_lines_open_with_enumerations():
    text = "第一章 总体要求\n一、指导思想\n坚持绿色发展。\n二、主要目标\n到2025年，目标全面实现。\n第二章 重点任务\n"
    outline, units = parse_headed(text)
    assert [(c.n, c.title, c.sections) for c in outline.chapters] == [(1, "总体要求", ()), (2, "重点任务", ())]
    assert outline.numbering == "chapters"
    assert {u.path.label() for u in units} == {"第一章 总体要求"}


def test_an_enumerated_plan_from_a_pdf_keeps_its_headings_apart(tmp_path):
    from assistant.ingest.files import read_plan_file
    from tests.conftest import make_pdf

    pages = [
        ["一、总体要求", "（一）指导思想。坚持以人民为中心的发展思想，扎实推", "进农牧区人居环境整治提升。"],
        ["二、重点任务", "（一）推进厕所革命", "因地制宜选择改厕模式，同步推进粪污资源化", "利用，建立管护长效机制。"],
    ]
    text = read_plan_file(make_pdf(tmp_path / "plan.pdf", pages))
    outline, units = parse_headed(text)
    assert [(c.title, [s.title for s in c.sections]) for c in outline.chapters] == [
        ("总体要求", ["指导思想"]),
        ("重点任务", ["推进厕所革命"]),
    ]
    joined = {u.text: u.path.label() for u in units}
    rejoined = "因地制宜选择改厕模式，同步推进粪污资源化利用，建立管护长效机制。"
    assert joined[rejoined] == "二、重点任务 › （一）推进厕所革命"
