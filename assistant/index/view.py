"""A built index as typed, read-only data: documents, passages, sentences with their renderings, vectors;
loaded once (through the folder's validation) with lookups by id. Every stage reads what it needs here."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

from assistant.errors import PlanqaError
from assistant.models import Chunk, Outline, SectionPath
from assistant.text import PlaceTitles, place_label

SentenceKind = Literal["heading", "body", "english"]


@dataclass(frozen=True)
class StoredDocument:
    id: str
    source: str  # file name in the corpus folder
    title: str
    title_en: str  # "" when the corpus has no English title for it
    structure: str  # "headings" or "recovered"
    file_sha256: str
    passages: int
    outline: Outline
    text: str


@dataclass(frozen=True)
class Passage:
    """A passage as stored: the chunk, its row, its words for BM25 and its English (when curated)."""

    row: int
    chunk: Chunk
    tokens: tuple[str, ...]
    tokens_en: tuple[str, ...]
    text_en: str  # the passage in English when every sentence has a rendering, else ""
    heading_en: str  # its place in English, e.g. "Chapter 3 … › Section 2 …"; "" when unknown

    @property
    def id(self) -> str:
        return self.chunk.id


@dataclass(frozen=True)
class StoredSentence:
    """A text embedded for a passage: its heading path, one of its sentences, or an English rendering."""

    row: int  # the passage's row
    text: str
    kind: SentenceKind
    en: str = ""  # a body sentence's English rendering, when the corpus has one


@dataclass(frozen=True)
class Filters:
    """Which passages a search may return."""

    doc_id: str | None = None
    chapter: int | None = None
    section: int | None = None

    def allows(self, chunk: Chunk) -> bool:
        return (
            (self.doc_id is None or chunk.doc_id == self.doc_id)
            and (self.chapter is None or chunk.path.chapter == self.chapter)
            and (self.section is None or chunk.path.section == self.section)
        )


@dataclass(frozen=True)
class IndexView:
    folder: Path
    manifest: dict[str, Any]
    documents: tuple[StoredDocument, ...]
    passages: tuple[Passage, ...]  # in row order
    sentences: tuple[StoredSentence, ...]
    sentence_vectors: np.ndarray  # one row per sentence, same order
    passage_vectors: np.ndarray  # one row per passage

    # --- lookups -------------------------------------------------------------------------------

    @cached_property
    def _documents_by_id(self) -> dict[str, StoredDocument]:
        return {d.id: d for d in self.documents}

    @cached_property
    def _rows_by_id(self) -> dict[str, int]:
        return {p.id: p.row for p in self.passages}

    @cached_property
    def _body_by_row(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for i, s in enumerate(self.sentences):
            if s.kind == "body":
                out.setdefault(s.row, []).append(i)
        return out

    @cached_property
    def _renderings(self) -> dict[str, str]:
        return {s.text: s.en for s in self.sentences if s.kind == "body" and s.en}

    @cached_property
    def _place_rows(self) -> dict[tuple[str, SectionPath], list[int]]:
        out: dict[tuple[str, SectionPath], list[int]] = {}
        for p in self.passages:
            out.setdefault((p.chunk.doc_id, p.chunk.path), []).append(p.row)
        return out

    def document(self, doc_id: str) -> StoredDocument:
        return self._documents_by_id[doc_id]

    def find_document(self, key: str) -> StoredDocument:
        """A document by id, id prefix (4 characters or more), file name or title."""
        for doc in self.documents:
            if key in (doc.id, doc.source, doc.title) or (len(key) >= 4 and doc.id.startswith(key)):
                return doc
        known = ", ".join(f"{d.id} ({d.source})" for d in self.documents)
        raise PlanqaError(f"no document {key!r} in the index; known: {known}")

    def row_of(self, passage_id: str) -> int:
        return self._rows_by_id[passage_id]

    def passage(self, passage_id: str) -> Passage:
        return self.passages[self.row_of(passage_id)]

    def sentences_of(self, row: int) -> list[tuple[str, np.ndarray]]:
        """The body sentences of a passage with their vectors, in order."""
        return [(self.sentences[i].text, self.sentence_vectors[i]) for i in self._body_by_row.get(row, [])]

    def rendering(self, sentence: str) -> str | None:
        """The English of one of the index's sentences, or None."""
        return self._renderings.get(sentence.strip())

    def learn_renderings(self, renderings: dict[str, str]) -> None:
        """Add English renderings made after the build (machine drafts of sentences and titles, made at
        question time or in the background): seen at once by every lookup here; the next build stores
        them with the passages. The only thing about a view that changes."""
        self._renderings.update({zh.strip(): en for zh, en in renderings.items() if zh.strip() and en})

    @property
    def rendering_count(self) -> int:
        """How many sentences and titles have English: grows as renderings are learned."""
        return len(self._renderings)

    def english_title(self, doc_id: str) -> str:
        """A plan's English title: curated, else a rendering of its Chinese title; "" if neither."""
        doc = self.document(doc_id)
        return doc.title_en or self._renderings.get(doc.title.strip(), "")

    def english_heading(self, passage_id: str) -> str:
        """A passage's place in English: curated, else from renderings of every title on its path."""
        passage = self.passage(passage_id)
        if passage.heading_en:
            return passage.heading_en
        path = passage.chunk.path
        titles = path.titles
        english = [self._renderings.get(t.strip(), "").rstrip(".") if t else "" for t in titles]
        if any(t and not e for t, e in zip(titles, english)):
            return ""
        return place_label(path, "en", PlaceTitles(*english))

    def english_text(self, passage_id: str) -> str:
        """A passage in English when every sentence of it has a rendering (curated or drafted); else ""."""
        passage = self.passage(passage_id)
        if passage.text_en:
            return passage.text_en
        parts = [self._renderings.get(text.strip()) for text, _ in self.sentences_of(passage.row)]
        return " ".join(parts) if parts and all(parts) else ""  # type: ignore[arg-type]

    def rendering_of_text(self, text: str) -> str | None:
        """The English of a sentence, or of each sentence of a lead joined with its continuation."""
        from assistant.text import sentences

        whole = self.rendering(text)
        if whole:
            return whole
        parts = [self.rendering(s) for s in sentences(text)]
        return " ".join(p for p in parts if p) if parts and all(parts) else None

    def place_passages(self, doc_id: str, path: SectionPath) -> list[Passage]:
        """The passages of one place (a section, box or glossary term), in order."""
        return [self.passages[row] for row in self._place_rows.get((doc_id, path), [])]

    @property
    def chunks(self) -> list[Chunk]:
        return [p.chunk for p in self.passages]

    @cached_property
    def corpus_text(self) -> str:
        """The Chinese text of all the plans, for "do the plans ever mention X"."""
        return "\n".join(d.text for d in self.documents)

    def sentences_of_kind(self, kind: SentenceKind) -> tuple[list[int], np.ndarray]:
        """(passage row of each, vectors) of the sentences of one kind."""
        picked = [i for i, s in enumerate(self.sentences) if s.kind == kind]
        return [self.sentences[i].row for i in picked], self.sentence_vectors[picked]

    @cached_property
    def _allowed(self) -> dict[Filters, np.ndarray]:
        return {}

    def allowed(self, filters: Filters) -> np.ndarray:
        """A mask over the rows: which passages the filters let through (kept per filter: a question's
        rankings all ask for the same one)."""
        mask = self._allowed.get(filters)
        if mask is None:
            mask = np.array([filters.allows(p.chunk) for p in self.passages], dtype=bool)
            self._allowed[filters] = mask
        return mask
