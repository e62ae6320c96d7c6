"""The passage-search seam: a small protocol that ranks one built index's passages by one signal (vectors,
best sentence, BM25 in Chinese or English), a registry chosen by `Settings.store`, and the local searcher
over the index folder (FAISS vectors, bm25s). Fusing the rankings happens above, in `hybrid`."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from assistant.errors import SettingsError
from assistant.index.view import Filters, IndexView
from assistant.settings import Settings

log = logging.getLogger(__name__)

Field = Literal["zh", "en"]


class PassageSearcher(Protocol):
    """Rankings of passages (rows of the `IndexView`), best first, only rows the filters allow and only
    rows that score above zero."""

    name: str

    def dense(self, vector: np.ndarray, depth: int, filters: Filters) -> list[int]:
        """Passages by the similarity of their vector to `vector`."""
        ...

    def best_sentence(self, vector: np.ndarray, depth: int, filters: Filters, english: bool = False) -> list[int]:
        """Passages by their best-matching sentence (Chinese, or with `english` the English renderings)."""
        ...

    def lexical(self, tokens: Sequence[str], depth: int, filters: Filters, field: Field = "zh") -> list[int]:
        """Passages by BM25 over their Chinese words, or their English rendering's words."""
        ...

    def dense_scores(self, vector: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        """The similarity of the given passages' vectors to `vector` (to order passages within a place)."""
        ...


STORES: dict[str, str] = {
    "local": "assistant.retrieve.searchers:LocalSearcher",
    "milvus": "assistant.retrieve.milvus_store:MilvusSearcher",
}


def make_searcher(view: IndexView, settings: Settings) -> PassageSearcher:
    try:
        module, _, attr = STORES[settings.store].partition(":")
    except KeyError:
        raise SettingsError(f"unknown store {settings.store!r}; choose one of {', '.join(STORES)}") from None
    return getattr(importlib.import_module(module), attr)(view, settings)


@dataclass
class LexicalIndex:
    """BM25 (bm25s) over pre-tokenised documents; empty documents never score."""

    tokens: Sequence[Sequence[str]]
    _bm25: object = field(init=False, repr=False)

    def __post_init__(self) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
        self._bm25 = bm25s.BM25()
        # bm25s rejects an empty document; a placeholder token keeps rows aligned and never matches
        self._bm25.index([list(t) or ["\u0000"] for t in self.tokens], show_progress=False)

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        if not query_tokens:
            return np.zeros(len(self.tokens), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(list(query_tokens)), dtype=np.float32)


def top_rows(scores: np.ndarray, allowed: np.ndarray, depth: int) -> list[int]:
    order = np.argsort(-scores, kind="stable")
    return [int(i) for i in order if allowed[i] and scores[i] > 0][:depth]


class LocalSearcher:
    """Exact search in memory over the index folder: the passage vectors (stored as a FAISS flat index)
    scored with one matrix product, and bm25s over the stored words. At a few thousand passages exact
    search takes a few milliseconds and returns the same ranking on every run."""

    name = "local"

    def __init__(self, view: IndexView, settings: Settings) -> None:
        limit_blas_threads()
        self.view = view
        self.passage_vectors = view.passage_vectors
        self.sentence_rows, self.sentence_vectors = self._sentences("body")
        self.english_rows, self.english_vectors = self._sentences("english")
        self.zh_index = LexicalIndex([p.tokens for p in view.passages])
        self.en_index = LexicalIndex([p.tokens_en for p in view.passages])

    def _sentences(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        rows, vectors = self.view.sentences_of_kind(kind)  # type: ignore[arg-type]
        return np.array(rows, dtype=np.int64), vectors

    def dense(self, vector: np.ndarray, depth: int, filters: Filters) -> list[int]:
        return top_rows(self.passage_vectors @ vector, self.view.allowed(filters), depth)

    def best_sentence(self, vector: np.ndarray, depth: int, filters: Filters, english: bool = False) -> list[int]:
        rows, vectors = (
            (self.english_rows, self.english_vectors) if english else (self.sentence_rows, self.sentence_vectors)
        )
        if not len(rows):
            return []
        best = np.full(len(self.passage_vectors), -1.0, dtype=np.float32)
        np.maximum.at(best, rows, vectors @ vector)
        return top_rows(best, self.view.allowed(filters), depth)

    def lexical(self, tokens: Sequence[str], depth: int, filters: Filters, field: Field = "zh") -> list[int]:
        index = self.zh_index if field == "zh" else self.en_index
        return top_rows(index.scores(tokens), self.view.allowed(filters), depth)

    def dense_scores(self, vector: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        return self.passage_vectors[list(rows)] @ vector


def limit_blas_threads() -> None:
    """One BLAS thread. The embedder runs its own OpenMP threads; OpenBLAS's spinning threads fighting
    them over two cores made every search three times slower, and our matrices are too small to gain."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
