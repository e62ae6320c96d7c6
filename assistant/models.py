"""The few dataclasses every pipeline stage passes along: documents, their places, passages, hits, answers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


def content_hash(text: str, length: int = 16) -> str:
    """Stable short id of a text (sha256 of its UTF-8 bytes)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


@dataclass(frozen=True)
class SectionPath:
    """Where a piece of text sits in a plan: notice, preface, a chapter/section, a box or a glossary term."""

    part: str  # "notice" | "preface" | "body" | "box" | "glossary"
    chapter: int | None = None
    chapter_title: str = ""
    section: int | None = None
    section_title: str = ""
    box: int | None = None
    box_title: str = ""
    term: int | None = None
    term_title: str = ""
    # How the plan numbers its chapters and sections: "chapters" (第三章 / 第二节) or "enumerated"
    # (三、 / （二）), which plans without 第X章 headings use; labels follow the plan's own style.
    numbering: str = "chapters"

    @property
    def titles(self) -> tuple[str, str, str, str]:
        """The titles along the path: chapter, section, box, glossary term ("" where it has none)."""
        return (self.chapter_title, self.section_title, self.box_title, self.term_title)

    def label(self, lang: str = "zh") -> str:
        """Human-readable place in Chinese, e.g. `第三章 生态安全 › 第二节 完善生态安全屏障体系`."""
        from assistant.text import place_label

        return place_label(self, lang)


@dataclass(frozen=True)
class OutlineSection:
    n: int
    title: str


@dataclass(frozen=True)
class OutlineChapter:
    n: int
    title: str
    sections: tuple[OutlineSection, ...] = ()

    def section_title(self, n: int | None) -> str:
        return next((s.title for s in self.sections if s.n == n), "")


@dataclass(frozen=True)
class OutlineBox:
    n: int
    title: str
    chapter: int | None


@dataclass(frozen=True)
class GlossaryTerm:
    n: int
    term: str


@dataclass(frozen=True)
class Outline:
    chapters: tuple[OutlineChapter, ...] = ()
    boxes: tuple[OutlineBox, ...] = ()
    glossary: tuple[GlossaryTerm, ...] = ()
    numbering: str = "chapters"  # as in `SectionPath`

    def chapter(self, n: int | None) -> OutlineChapter | None:
        return next((c for c in self.chapters if c.n == n), None)


@dataclass(frozen=True)
class Unit:
    """A paragraph (or, for a shuffled source, a sentence) attributed to one place, with its source offsets."""

    path: SectionPath
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Document:
    id: str
    source: str
    title: str
    title_en: str
    text: str
    outline: Outline
    units: tuple[Unit, ...]
    structure: str  # "headings" (outline read from headings) or "recovered" (from the table of contents)


@dataclass(frozen=True)
class Chunk:
    """A passage: never crosses a section, box or glossary term."""

    id: str
    doc_id: str
    path: SectionPath
    text: str  # shown to the user
    embed_text: str  # heading path + text, what the embedder sees
    spans: tuple[tuple[int, int], ...]  # character offsets into the source text
    ordinal: int  # position of the passage within its document


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float
    rank: int
    sources: dict[str, int] = field(default_factory=dict)  # retriever name -> rank there


@dataclass(frozen=True)
class Citation:
    n: int
    chunk: Chunk
    doc_title: str
    heading: str
    heading_en: str
    quote: str


@dataclass(frozen=True)
class Answer:
    question: str
    lang: str
    text: str
    abstained: bool
    mode: str
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    timings_ms: dict[str, float]
    notes: tuple[str, ...] = ()
    kind: str = "fact"  # "overview" | "fact" | "list" | "abstained"
    cached: bool = False  # given again from the answer cache (timings are then the lookup's)
