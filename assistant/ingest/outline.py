"""Recovers a plan's outline from its headings: chapters, sections, 专栏 boxes, the 名词解释 glossary,
the issuing notice and the preface; and reads a table of contents (目录) when there is one."""

from __future__ import annotations

import re

from assistant.models import GlossaryTerm, Outline, OutlineBox, OutlineChapter, OutlineSection, SectionPath, Unit
from assistant.text import Line, parse_numeral, split_lines

NUM = r"[一二三四五六七八九十百零〇两\d]+"
CHAPTER_RE = re.compile(rf"^\s*第({NUM})章\s*(.*?)\s*$")
SECTION_RE = re.compile(rf"^\s*第({NUM})节\s*(.*?)\s*$")
BOX_RE = re.compile(rf"^\s*专栏\s*({NUM})\s*(.*?)\s*$")
GLOSSARY_HEAD_RE = re.compile(r"^\s*名\s*词\s*解\s*释\s*$")
GLOSSARY_TERM_RE = re.compile(r"^\s*(\d{1,3})\s*[.．、]\s*(.{1,60}?)\s*[:：]")
APPENDIX_RE = re.compile(r"^\s*附\s*件\s*\d*\s*$")
PREFACE_RE = re.compile(r"^\s*前\s*言\s*$")
DATE_LINE_RE = re.compile(r"^\s*\d{4}年\d{1,2}月\d{1,2}日\s*$|此件公开发布")
TOC_ENTRY_RE = re.compile(rf"(前言|第({NUM})([章节]))\s*([^…．.\n]*?)\s*[…．.·]{{2,}}\s*[(（]?\s*\d+\s*[)）]?")
TITLE_RE = re.compile(r"《([^《》\n]{4,80})》")


def find_title(text: str, fallback: str) -> str:
    """The plan's own name: the first 《…》 near the top that names a plan, else the file name."""
    head = text[:3000]
    for m in TITLE_RE.finditer(head):
        if re.search("规划|计划|方案|纲要|意见|办法", m.group(1)):
            return m.group(1)
    return fallback


def parse_toc(text: str) -> tuple[Outline, int, int] | None:
    """The outline listed in a table of contents, with the span of the contents; None if there is none."""
    start = text.find("目录")
    if start < 0:
        return None
    chapters: list[OutlineChapter] = []
    end = start
    for m in TOC_ENTRY_RE.finditer(text, start):
        if m.start() - end > 200 and chapters:
            break  # the entries have ended; what follows is body text
        end = m.end()
        if m.group(1) == "前言":
            continue
        n, kind, title = parse_numeral(m.group(2)), m.group(3), m.group(4).strip()
        if kind == "章":
            chapters.append(OutlineChapter(n, title))
        elif chapters:
            last = chapters[-1]
            chapters[-1] = OutlineChapter(last.n, last.title, last.sections + (OutlineSection(n, title),))
    if not chapters:
        return None
    return Outline(chapters=tuple(chapters)), start, end


def count_heading_lines(text: str) -> int:
    return sum(1 for line in split_lines(text) if CHAPTER_RE.match(line.text) and len(line.text) < 60)


def parse_headed(text: str) -> tuple[Outline, list[Unit]]:
    """Outline and attributed paragraphs of a plan whose headings stand on their own lines."""
    builder = _HeadedParser()
    for line in split_lines(text):
        builder.feed(line)
    return builder.outline(), builder.units


class _HeadedParser:
    """Walks the lines once, keeping the current place; each paragraph becomes a `Unit` there."""

    def __init__(self) -> None:
        self.chapters: list[OutlineChapter] = []
        self.boxes: list[OutlineBox] = []
        self.terms: list[GlossaryTerm] = []
        self.units: list[Unit] = []
        self.path = SectionPath(part="notice")
        self.seen_text = False

    def outline(self) -> Outline:
        return Outline(tuple(self.chapters), tuple(self.boxes), tuple(self.terms))

    def feed(self, line: Line) -> None:
        text = line.text
        short = len(text) < 60
        if (m := CHAPTER_RE.match(text)) and short:
            chapter = OutlineChapter(parse_numeral(m.group(1)), m.group(2))
            self.chapters.append(chapter)
            self.path = SectionPath("body", chapter.n, chapter.title)
        elif (m := SECTION_RE.match(text)) and short and self.chapters:
            self._add_section(OutlineSection(parse_numeral(m.group(1)), m.group(2)))
        elif (m := BOX_RE.match(text)) and short:
            box = OutlineBox(parse_numeral(m.group(1)), m.group(2), self.path.chapter)
            self.boxes.append(box)
            self.path = SectionPath("box", self.path.chapter, self.path.chapter_title, box=box.n, box_title=box.title)
        elif GLOSSARY_HEAD_RE.match(text):
            self.path = SectionPath("glossary")
        elif APPENDIX_RE.match(text):
            return
        elif PREFACE_RE.match(text):
            self.path = SectionPath("preface")
        elif self.path.part == "glossary" and (m := GLOSSARY_TERM_RE.match(text)):
            term = GlossaryTerm(int(m.group(1)), m.group(2))
            self.terms.append(term)
            self.path = SectionPath("glossary", term=term.n, term_title=term.term)
            self._add_unit(line)
        else:
            self._add_unit(line)
            if self.path.part == "notice" and DATE_LINE_RE.search(text):
                self.path = SectionPath("preface")

    def _add_section(self, section: OutlineSection) -> None:
        last = self.chapters[-1]
        self.chapters[-1] = OutlineChapter(last.n, last.title, last.sections + (section,))
        self.path = SectionPath("body", last.n, last.title, section.n, section.title)

    def _add_unit(self, line: Line) -> None:
        if self.path.part == "notice" and not self.seen_text and not looks_like_notice(line.text):
            self.path = SectionPath("preface")  # no issuing notice at the top: the text starts with the preface
        self.seen_text = True
        self.units.append(Unit(self.path, line.text, line.start, line.end))


def looks_like_notice(text: str) -> bool:
    return bool(re.search(r"通知|印发|各市|人民政府|办公厅|发布日期", text))
