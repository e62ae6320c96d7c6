"""Places in the plans a question points at: those it names outright (专栏5 / Box 5, 第三章第二节, a
section title quoted whole, 名词解释 / glossary) and those whose titles its words match."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from assistant.index.view import IndexView
from assistant.models import SectionPath
from assistant.retrieve.searchers import LexicalIndex
from assistant.text import en_tokens, parse_numeral, zh_tokens

CHAPTER_RE = re.compile(r"第([一二三四五六七八九十\d]+)章|chapter (\d+)", re.I)
SECTION_RE = re.compile(r"第([一二三四五六七八九十\d]+)节|section (\d+)", re.I)
BOX_RE = re.compile(r"专栏\s*(\d+)|box (\d+)", re.I)
GLOSSARY_RE = re.compile(r"名词解释|glossary", re.I)


@dataclass(frozen=True)
class PlaceReference:
    """What a question says outright about where to look."""

    text: str
    chapter: int | None
    section: int | None
    box: int | None
    glossary: bool

    @classmethod
    def parse(cls, question: str) -> PlaceReference:
        def number(pattern: re.Pattern) -> int | None:
            m = pattern.search(question)
            return None if m is None else parse_numeral(m.group(1) or m.group(2))

        return cls(question, number(CHAPTER_RE), number(SECTION_RE), number(BOX_RE), bool(GLOSSARY_RE.search(question)))

    def matches(self, path: SectionPath, with_terms: bool = True) -> int:
        """How many things the question says about this place hold (0: none, or one contradicts).
        A glossary term in the question (碳达峰) points at its entry only `with_terms`: the terms are
        common words too."""
        said = [
            (self.chapter is not None, path.chapter == self.chapter),
            (self.section is not None, path.section == self.section and path.part == "body"),
            (self.box is not None, path.box == self.box),
            (self.glossary, path.part == "glossary"),
            (len(path.section_title) >= 4 and path.section_title in self.text, True),
            (len(path.box_title) >= 4 and path.box_title in self.text, True),
            (with_terms and len(path.term_title) >= 2 and path.term_title in self.text, True),
        ]
        if any(asked and not holds for asked, holds in said[:4]):
            return 0
        return sum(1 for asked, holds in said if asked and holds)


class PlaceIndex:
    """Each distinct place (document, chapter, section/box/term) of a built index, with BM25 over its
    Chinese and English titles."""

    def __init__(self, view: IndexView) -> None:
        keys: dict[tuple, int] = {}
        texts: list[list[str]] = []
        self.paths: list[SectionPath] = []
        self.place_of: list[int] = []  # the place of each passage row
        for passage in view.passages:
            chunk = passage.chunk
            key = (chunk.doc_id, chunk.path)
            if key not in keys:
                path = chunk.path
                label = " ".join(filter(None, [path.chapter_title, path.section_title, path.box_title]))
                keys[key] = len(texts)
                texts.append(zh_tokens(label + path.term_title) + en_tokens(passage.heading_en))
                self.paths.append(path)
            self.place_of.append(keys[key])
        self.rows_of: list[list[int]] = [[] for _ in texts]
        for row, place in enumerate(self.place_of):
            self.rows_of[place].append(row)
        self.title_index = LexicalIndex(texts)

    def best_matching(self, tokens: list[str], n: int) -> list[int]:
        """The `n` places whose titles best match the words, best first (none that match nothing)."""
        scores = self.title_index.scores(tokens)
        return [int(p) for p in np.argsort(-scores)[:n] if scores[p] > 0]
