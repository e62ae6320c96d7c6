"""Recovers a plan's outline from its headings: chapters, sections, 专栏 boxes, the 名词解释 glossary,
the issuing notice and the preface; and reads a table of contents (目录) when there is one."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.models import GlossaryTerm, Outline, OutlineBox, OutlineChapter, OutlineSection, SectionPath, Unit
from assistant.text import ENUMERATED, Line, parse_numeral, split_lines

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
# Plans without 第X章 headings number their parts 一、 and their sub-parts （一）; the heading is the
# whole line, or the line's first sentence when the text goes on ("（一）加强组织领导。各地区要…").
CN_NUM = r"[一二三四五六七八九十]+"
ENUM_CHAPTER_RE = re.compile(rf"^\s*({CN_NUM})、\s*(.+?)\s*$")
ENUM_SECTION_RE = re.compile(rf"^\s*[（(]({CN_NUM})[)）]\s*(.+?)\s*$")
# The longest enumerated heading: the titles of such plans run to about 20 characters, a list item
# written 一、… in a paragraph runs longer.
ENUM_TITLE_MAX_CHARS = 30


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
    """Outline and attributed paragraphs of a plan whose headings stand on their own lines: 第X章 / 第X节,
    or, in a plan with none, 一、 / （一）."""
    lines = split_lines(text)
    builder = _HeadedParser(ENUMERATED if numbered_by_enumeration(lines) else "chapters")
    for line in lines:
        builder.feed(line)
    return builder.outline(), builder.units


@dataclass(frozen=True)
class EnumeratedHeading:
    n: int
    title: str
    rest: Line | None  # the text after an inline heading, on the same line


def enumerated_heading(line: Line, pattern: re.Pattern[str]) -> EnumeratedHeading | None:
    """The heading a line opens with (一、总体要求 / （一）加强组织领导。各地区要…), if it is one."""
    m = pattern.match(line.text)
    if not m:
        return None
    title, stop, rest = m.group(2).partition("。")
    if len(title) > ENUM_TITLE_MAX_CHARS or re.search(r"[，；,;]$", title):
        return None
    rest = rest.strip()
    tail = Line(rest, line.end - len(rest), line.end) if stop and rest else None
    return EnumeratedHeading(parse_numeral(m.group(1)), title.rstrip("：:"), tail)


def numbered_by_enumeration(lines: list[Line]) -> bool:
    """A plan with no 第X章 heading whose lines open with 一、 and 二、 headings in turn."""
    if any(CHAPTER_RE.match(line.text) and len(line.text) < 60 for line in lines):
        return False
    numbers = [h.n for line in lines if (h := enumerated_heading(line, ENUM_CHAPTER_RE))]
    return numbers[:2] == [1, 2]


class _HeadedParser:
    """Walks the lines once, keeping the current place; each paragraph becomes a `Unit` there."""

    def __init__(self, numbering: str) -> None:
        self.numbering = numbering
        self.chapters: list[OutlineChapter] = []
        self.boxes: list[OutlineBox] = []
        self.terms: list[GlossaryTerm] = []
        self.units: list[Unit] = []
        self.path = SectionPath(part="notice")
        self.seen_text = False

    def outline(self) -> Outline:
        return Outline(tuple(self.chapters), tuple(self.boxes), tuple(self.terms), self.numbering)

    def feed(self, line: Line) -> None:
        if self.numbering == ENUMERATED and self.feed_enumerated(line):
            return
        text = line.text
        short = len(text) < 60
        if (m := CHAPTER_RE.match(text)) and short:
            self._add_chapter(OutlineChapter(parse_numeral(m.group(1)), m.group(2)))
        elif (m := SECTION_RE.match(text)) and short and self.chapters:
            self._add_section(OutlineSection(parse_numeral(m.group(1)), m.group(2)))
        elif (m := BOX_RE.match(text)) and short:
            box = OutlineBox(parse_numeral(m.group(1)), m.group(2), self.path.chapter)
            self.boxes.append(box)
            chapter, title = self.path.chapter, self.path.chapter_title
            self.path = SectionPath("box", chapter, title, box=box.n, box_title=box.title, numbering=self.numbering)
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

    def feed_enumerated(self, line: Line) -> bool:
        """Take the line if it opens the next 一、 chapter or the next （一） section of this one (a number
        out of turn is a list item), with any text after an inline heading as its first paragraph."""
        heading = enumerated_heading(line, ENUM_CHAPTER_RE)
        if heading and heading.n == len(self.chapters) + 1:
            self._add_chapter(OutlineChapter(heading.n, heading.title))
        elif self.chapters and (heading := enumerated_heading(line, ENUM_SECTION_RE)):
            if heading.n != len(self.chapters[-1].sections) + 1:
                return False
            self._add_section(OutlineSection(heading.n, heading.title))
        else:
            return False
        if heading.rest:
            self._add_unit(heading.rest)
        return True

    def _add_chapter(self, chapter: OutlineChapter) -> None:
        self.chapters.append(chapter)
        self.path = SectionPath("body", chapter.n, chapter.title, numbering=self.numbering)

    def _add_section(self, section: OutlineSection) -> None:
        last = self.chapters[-1]
        self.chapters[-1] = OutlineChapter(last.n, last.title, last.sections + (section,))
        self.path = SectionPath("body", last.n, last.title, section.n, section.title, numbering=self.numbering)

    def _add_unit(self, line: Line) -> None:
        if self.path.part == "notice" and not self.seen_text and not looks_like_notice(line.text):
            self.path = SectionPath("preface")  # no issuing notice at the top: the text starts with the preface
        self.seen_text = True
        self.units.append(Unit(self.path, line.text, line.start, line.end))


def looks_like_notice(text: str) -> bool:
    return bool(re.search(r"通知|印发|各市|人民政府|办公厅|发布日期", text))
