"""Hybrid retrieval: the searcher's rankings (passage vectors, best-matching sentence, BM25 over Chinese
words and over the English renderings) plus places the question names or whose titles it matches, fused
with weighted reciprocal rank fusion; near-duplicates collapse."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Sequence
from functools import cached_property

import numpy as np

from assistant.embed.base import Embedder
from assistant.index.view import Filters, IndexView
from assistant.ingest.curation import GlossaryEntry
from assistant.models import Hit
from assistant.retrieve.dictionary import DictionaryBridge
from assistant.retrieve.places import PlaceIndex, PlaceReference
from assistant.retrieve.query import Query, QueryPreparer
from assistant.retrieve.searchers import PassageSearcher
from assistant.settings import Settings
from assistant.text import bigram_set, en_tokens, zh_tokens

log = logging.getLogger(__name__)

# Query vectors kept: answering embeds the same text again right after retrieval, and the app's few
# concurrent users ask a handful of questions at a time.
QUERY_CACHE_SIZE = 64
NO_FILTERS = Filters()


def rrf_fuse(rankings: dict[str, Sequence[int]], weights: dict[str, float], k: int) -> list[tuple[int, float]]:
    """Weighted reciprocal rank fusion: score(d) = Σ_r w_r / (k + rank_r(d)), rank from 1. Best first;
    ties keep the order in which items were first seen."""
    scores: dict[int, float] = {}
    for name, ranking in rankings.items():
        weight = weights.get(name, 1.0)
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])


def near_duplicate(a: set[str], b: set[str], threshold: float) -> bool:
    return bool(a and b) and len(a & b) / len(a | b) >= threshold


class HybridRetriever:
    def __init__(
        self,
        view: IndexView,
        searcher: PassageSearcher,
        embedder: Embedder,
        settings: Settings,
        glossary: Sequence[GlossaryEntry] = (),
    ) -> None:
        self.view = view
        self.searcher = searcher
        self.embedder = embedder
        self.settings = settings
        self.preparer = QueryPreparer(view.documents, glossary, settings.max_question_chars)
        self.places = PlaceIndex(view)
        self.bigrams = [bigram_set(p.chunk.text) for p in view.passages]
        self._recent_queries: dict[str, np.ndarray] = {}
        self._cache_lock = threading.Lock()  # the web app searches from several threads
        self.reranker = make_reranker(settings)
        # The dictionary stands in for English renderings, where some plan has none: with every plan
        # rendered, the English word search does its work (dev, curated: retrieval up, answers 2 of 98 fewer).
        self.some_plan_unrendered = not all(p.text_en for p in view.passages)

    def prepare(self, question: str) -> Query:
        query = self.preparer.prepare(question)
        if query.lang == "en" and self.settings.dictionary_bridge and self.some_plan_unrendered:
            query = dataclasses.replace(query, dictionary_terms=self.dictionary.terms(query.search_text))
        return query

    @cached_property
    def dictionary(self) -> DictionaryBridge:
        """Built on the first English question (about a second), from the words of the plans."""
        return DictionaryBridge.for_corpus(p.tokens for p in self.view.passages)

    def query_vector(self, text: str) -> np.ndarray:
        """The query's embedding; the last few are kept, as answering asks again for the same text."""
        with self._cache_lock:
            cached = self._recent_queries.get(text)
        if cached is None:
            cached = self.embedder.embed_queries([text])[0]
            with self._cache_lock:
                self._recent_queries[text] = cached
                if len(self._recent_queries) > QUERY_CACHE_SIZE:
                    self._recent_queries.pop(next(iter(self._recent_queries)))
        return cached

    def search(self, question: str | Query, top_k: int | None = None, filters: Filters = NO_FILTERS) -> list[Hit]:
        query = question if isinstance(question, Query) else self.prepare(question)
        top_k = top_k or self.settings.top_k
        if filters.doc_id is None and query.named_doc is not None:
            filters = Filters(query.named_doc, filters.chapter, filters.section)
        rankings = self.rankings(query, filters)
        s = self.settings
        weights = {
            "dense": s.dense_weight,
            "dense_sentence": s.sentence_weight,
            "bm25": s.bm25_weight,
            "bm25_en": s.english_weight,
            "dense_en": s.english_dense_weight,
            "outline": s.outline_weight,
            "named_place": s.named_place_weight,
        }
        fused = rrf_fuse(rankings, weights, s.rrf_k)
        hits = self.collapse(fused, rankings, max(top_k, s.rerank_depth if self.reranker else 0))
        if self.reranker is not None:
            hits = self.reranker.rerank(query.text, hits)
        return [Hit(h.chunk, h.score, rank, h.sources) for rank, h in enumerate(hits[:top_k], 1)]

    def rankings(self, query: Query, filters: Filters) -> dict[str, list[int]]:
        s, searcher = self.settings, self.searcher
        vector = self.query_vector(query.dense_text)
        rankings = {
            "dense": searcher.dense(vector, s.dense_depth, filters),
            "dense_sentence": searcher.best_sentence(vector, s.dense_depth, filters),
        }
        zh_query = zh_tokens(query.search_text if query.lang == "zh" else query.chinese_words_text)
        rankings["bm25"] = searcher.lexical(zh_query, s.bm25_depth, filters, "zh")
        if query.lang == "en" and s.use_renderings:
            rankings["bm25_en"] = searcher.lexical(en_tokens(query.search_text), s.bm25_depth, filters, "en")
        if query.lang == "en" and s.use_renderings and s.english_dense:
            # the English question as written: the Chinese side embeds it with the glossary's Chinese terms
            # added; reusing that vector here saves ~27 ms a question but ranked worse on the held-out set
            english_vector = self.query_vector(query.search_text)
            rankings["dense_en"] = searcher.best_sentence(english_vector, s.dense_depth, filters, english=True)
        allowed = self.view.allowed(filters)
        rankings["outline"] = self.outline_ranking(query, vector, allowed)
        rankings["named_place"] = self.named_place_ranking(query, vector, allowed)
        return {name: ranking for name, ranking in rankings.items() if ranking}

    def within_places(self, places: list[int], vector: np.ndarray, allowed: np.ndarray) -> list[list[int]]:
        """The allowed passages of each place, best dense match first."""
        out = []
        for place in places:
            rows = [r for r in self.places.rows_of[place] if allowed[r]]
            scores = self.searcher.dense_scores(vector, rows) if rows else np.zeros(0)
            out.append([rows[i] for i in np.argsort(-scores, kind="stable")])
        return out

    def named_place_ranking(self, query: Query, vector: np.ndarray, allowed: np.ndarray) -> list[int]:
        """Passages of the places the question names outright (a section or box title quoted whole,
        专栏5 / Box 5, 第三章第二节, a glossary term), places saying more first, best dense match first
        within a place."""
        reference = PlaceReference.parse(query.search_text)
        scores = [reference.matches(path) for path in self.places.paths]
        named = [p for p in range(len(scores)) if scores[p] > 0]
        if not named:
            return []
        rows = [r for p in named for r in self.places.rows_of[p] if allowed[r]]
        dense = dict(zip(rows, self.searcher.dense_scores(vector, rows))) if rows else {}
        return sorted(rows, key=lambda r: (-scores[self.places.place_of[r]], -dense[r], r))

    def outline_ranking(self, query: Query, vector: np.ndarray, allowed: np.ndarray) -> list[int]:
        """Passages of the places whose titles the question names, best places first."""
        text = query.search_text
        tokens = zh_tokens(text) + en_tokens(text) + zh_tokens(query.chinese_words_text)
        best = self.places.best_matching(tokens, self.settings.outline_places)
        return [row for rows in self.within_places(best, vector, allowed) for row in rows]

    def collapse(self, fused: list[tuple[int, float]], rankings: dict[str, list[int]], limit: int) -> list[Hit]:
        """Fused hits in order, a near-duplicate of a better hit dropped."""
        positions = {name: {row: rank for rank, row in enumerate(r, 1)} for name, r in rankings.items()}
        threshold = self.settings.near_duplicate_jaccard
        kept: list[Hit] = []
        kept_rows: list[int] = []
        for row, score in fused:
            if any(near_duplicate(self.bigrams[row], self.bigrams[k], threshold) for k in kept_rows):
                continue
            sources = {name: pos[row] for name, pos in positions.items() if row in pos}
            kept.append(Hit(self.view.passages[row].chunk, score, len(kept) + 1, sources))
            kept_rows.append(row)
            if len(kept) >= limit:
                break
        return kept


def make_reranker(settings: Settings):
    if not settings.reranker:
        return None
    from assistant.retrieve.reranking import CrossEncoderReranker

    return CrossEncoderReranker(settings)
