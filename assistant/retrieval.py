"""Hybrid retrieval: dense (FAISS) + BM25 over jieba-segmented Chinese + BM25 over the English renderings
+ outline (heading) matches, fused with weighted reciprocal rank fusion. English questions are bridged
to the Chinese text through the curated glossary; Traditional Chinese is converted first."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant.curation import Curation
from assistant.embedding import Embedder
from assistant.language import GlossaryBridge, detect_language, find_document_mention, to_simplified
from assistant.models import Chunk, Hit, SectionPath
from assistant.numerals import parse_numeral
from assistant.segmentation import en_tokens, zh_tokens
from assistant.settings import Settings
from assistant.store import StoredIndex, read_jsonl

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Query:
    """A question made ready for search."""

    original: str
    text: str  # Simplified Chinese, trimmed
    lang: str
    zh_terms: tuple[str, ...] = ()  # Chinese glossary terms an English question names
    named_doc: str | None = None  # the document the question names ("the ecological economy plan")
    topic: str = ""  # the text to match: the question without the plan's name, when it names one
    # Embed the topic rather than the whole question? A full 《title》 swamps a short question's
    # embedding; an informal "生态经济规划" still says what the question is about (measured on the dev
    # set), so only the former is left out of the dense query.
    embed_topic: bool = False

    @property
    def search_text(self) -> str:
        return self.topic or self.text


@dataclass(frozen=True)
class Filters:
    doc_id: str | None = None
    chapter: int | None = None
    section: int | None = None

    def allows(self, chunk: Chunk) -> bool:
        return (
            (self.doc_id is None or chunk.doc_id == self.doc_id)
            and (self.chapter is None or chunk.path.chapter == self.chapter)
            and (self.section is None or chunk.path.section == self.section)
        )


def rrf_fuse(rankings: dict[str, Sequence[int]], weights: dict[str, float], k: int) -> list[tuple[int, float]]:
    """Weighted reciprocal rank fusion: score(d) = Σ_r w_r / (k + rank_r(d)), rank from 1. Best first;
    ties keep the order in which items were first seen."""
    scores: dict[int, float] = {}
    for name, ranking in rankings.items():
        weight = weights.get(name, 1.0)
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])


def bigram_set(text: str) -> set[str]:
    compact = "".join(text.split())
    return {compact[i : i + 2] for i in range(len(compact) - 1)}


def near_duplicate(a: set[str], b: set[str], threshold: float = 0.85) -> bool:
    return bool(a and b) and len(a & b) / len(a | b) >= threshold


@dataclass
class LexicalIndex:
    """BM25 (bm25s) over pre-tokenised documents; empty documents never score."""

    tokens: list[list[str]]
    _bm25: object = field(init=False, repr=False)

    def __post_init__(self) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
        self._bm25 = bm25s.BM25()
        # bm25s rejects an empty document; a placeholder token keeps rows aligned and never matches
        self._bm25.index([t or ["\u0000"] for t in self.tokens], show_progress=False)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        if not query_tokens:
            return np.zeros(len(self.tokens), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(query_tokens), dtype=np.float32)


class HybridRetriever:
    def __init__(self, index: StoredIndex, embedder: Embedder, settings: Settings, curation: Curation) -> None:
        limit_blas_threads()
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.curation = curation
        self.bridge = GlossaryBridge(curation.glossary)
        records = read_jsonl(index.folder / "chunks.jsonl")
        self.text_en = [r.get("text_en", "") for r in records]
        self.zh_index = LexicalIndex([r["tokens"] for r in records])
        self.en_index = LexicalIndex([r.get("tokens_en", []) for r in records])
        self.doc_titles = {d["id"]: (d["title"], d["source"]) for d in index.documents}
        self.place_of, place_texts, self.place_paths = self._places()
        self.place_index = LexicalIndex(place_texts)
        self.bigrams = [bigram_set(c.text) for c in index.chunks]
        self.passage_vectors = index.store.vectors()
        # sentence vectors (headings and English left out) and the passage row of each, for max-sentence matching
        body = [i for i, s in enumerate(index.sentences) if not s.get("heading") and not s.get("english")]
        self.sentence_vectors = index.sentence_vectors[body]
        self.sentence_rows = np.array([index.sentences[i]["chunk"] for i in body], dtype=np.int64)
        self._sentence_texts = [index.sentences[i]["text"] for i in body]
        self._sentences_by_row: dict[int, list[int]] = {}
        for position, row in enumerate(self.sentence_rows):
            self._sentences_by_row.setdefault(int(row), []).append(position)
        english = [i for i, s in enumerate(index.sentences) if s.get("english")]
        self.english_vectors = index.sentence_vectors[english]
        self.english_rows = np.array([index.sentences[i]["chunk"] for i in english], dtype=np.int64)
        self._row_of = {c.id: i for i, c in enumerate(index.chunks)}
        self._recent_queries: dict[str, np.ndarray] = {}
        self._cache_lock = threading.Lock()  # the web app searches from several threads
        self.reranker = make_reranker(settings)

    def _places(self) -> tuple[list[int], list[list[str]], list[SectionPath]]:
        """Each distinct place (document, chapter, section/box/term) with its Chinese and English titles."""
        keys: dict[tuple, int] = {}
        texts: list[list[str]] = []
        paths: list[SectionPath] = []
        place_of = []
        for chunk in self.index.chunks:
            key = (chunk.doc_id, chunk.path)
            if key not in keys:
                title, source = self.doc_titles[chunk.doc_id]
                heading_en = self.curation.heading_en(source, title, chunk.path)
                label = " ".join(
                    filter(None, [chunk.path.chapter_title, chunk.path.section_title, chunk.path.box_title])
                )
                keys[key] = len(texts)
                texts.append(zh_tokens(label + chunk.path.term_title) + en_tokens(heading_en))
                paths.append(chunk.path)
            place_of.append(keys[key])
        return place_of, texts, paths

    def query_vector(self, text: str) -> np.ndarray:
        """The query's embedding; the last few are kept, as answering asks again for the same text."""
        with self._cache_lock:
            cached = self._recent_queries.get(text)
        if cached is None:
            cached = self.embedder.embed_queries([text])[0]
            with self._cache_lock:
                self._recent_queries[text] = cached
                if len(self._recent_queries) > 64:
                    self._recent_queries.pop(next(iter(self._recent_queries)))
        return cached

    def dense_text(self, query: Query) -> str:
        text = query.search_text if query.embed_topic else query.text
        return text if not query.zh_terms else f"{text} ({' '.join(query.zh_terms)})"

    def sentences_of(self, row: int) -> list[tuple[str, np.ndarray]]:
        """The sentences of a passage (by row) with their vectors."""
        return [(self._sentence_texts[i], self.sentence_vectors[i]) for i in self._sentences_by_row.get(row, [])]

    def row_of(self, chunk: Chunk) -> int:
        return self._row_of[chunk.id]

    def prepare(self, question: str) -> Query:
        text = to_simplified(" ".join(question.split()))[: self.settings.max_question_chars]
        lang = detect_language(text)
        terms: tuple[str, ...] = ()
        if lang == "en":
            terms = tuple(dict.fromkeys(m.entry.zh for m in self.bridge.matches(text)))
        titles = {d["id"]: (d["title"], d["title_en"]) for d in self.index.documents}
        mention = find_document_mention(text, titles)
        if mention is None:
            return Query(question, text, lang, terms)
        return Query(question, text, lang, terms, mention.doc_id, mention.removed_from(text), mention.quoted)

    def search(self, question: str | Query, top_k: int | None = None, filters: Filters = Filters()) -> list[Hit]:
        query = question if isinstance(question, Query) else self.prepare(question)
        top_k = top_k or self.settings.top_k
        if filters.doc_id is None and query.named_doc is not None:
            filters = Filters(query.named_doc, filters.chapter, filters.section)
        allowed = np.array([filters.allows(c) for c in self.index.chunks])
        rankings = self.rankings(query, allowed)
        weights = {
            "dense": self.settings.dense_weight,
            "dense_sentence": self.settings.sentence_weight,
            "bm25": self.settings.bm25_weight,
            "bm25_en": self.settings.english_weight,
            "dense_en": self.settings.english_dense_weight,
            "outline": self.settings.outline_weight,
            "named_place": self.settings.named_place_weight,
        }
        fused = rrf_fuse(rankings, weights, self.settings.rrf_k)
        hits = self.collapse(fused, rankings, max(top_k, self.settings.rerank_depth if self.reranker else 0))
        if self.reranker is not None:
            hits = self.reranker.rerank(query.text, hits)
        return [Hit(h.chunk, h.score, rank, h.sources) for rank, h in enumerate(hits[:top_k], 1)]

    def rankings(self, query: Query, allowed: np.ndarray) -> dict[str, list[int]]:
        dense_text = self.dense_text(query)
        query_vector = self.query_vector(dense_text)
        dense_scores = self.passage_vectors @ query_vector
        rankings = {"dense": top_rows(dense_scores, allowed, self.settings.dense_depth)}
        best_sentence = np.full(len(dense_scores), -1.0, dtype=np.float32)
        np.maximum.at(best_sentence, self.sentence_rows, self.sentence_vectors @ query_vector)
        rankings["dense_sentence"] = top_rows(best_sentence, allowed, self.settings.dense_depth)
        zh_query = zh_tokens(query.search_text) if query.lang == "zh" else zh_tokens(" ".join(query.zh_terms))
        rankings["bm25"] = top_rows(self.zh_index.scores(zh_query), allowed, self.settings.bm25_depth)
        if query.lang == "en" and self.settings.use_renderings:
            rankings["bm25_en"] = top_rows(
                self.en_index.scores(en_tokens(query.search_text)), allowed, self.settings.bm25_depth
            )
            rankings["dense_en"] = self.english_dense_ranking(query, allowed)
        rankings["outline"] = self.outline_ranking(query, dense_scores, allowed)
        rankings["named_place"] = self.named_place_ranking(query, dense_scores, allowed)
        return {name: ranking for name, ranking in rankings.items() if ranking}

    def english_dense_ranking(self, query: Query, allowed: np.ndarray) -> list[int]:
        """Passages by their best-matching English rendering sentence, for the English question as
        written (the Chinese side embeds it with the glossary's Chinese terms added; reusing that vector
        here saves ~27 ms a question but ranked worse on the held-out set). Empty when the index holds
        no English vectors (`english_dense` off, or no renderings)."""
        if not len(self.english_rows):
            return []
        best = np.full(len(self.index.chunks), -1.0, dtype=np.float32)
        np.maximum.at(best, self.english_rows, self.english_vectors @ self.query_vector(query.search_text))
        return top_rows(best, allowed, self.settings.dense_depth)

    def named_place_ranking(self, query: Query, dense_scores: np.ndarray, allowed: np.ndarray) -> list[int]:
        """Passages of the places the question names outright (a section or box title quoted whole,
        专栏5 / Box 5, 第三章第二节, a glossary term), best dense match first within each place."""
        reference = PlaceReference.parse(query.search_text)
        scores = [reference.matches(path) for path in self.place_paths]
        if not any(scores):
            return []
        rows = [i for i in range(len(self.place_of)) if allowed[i] and scores[self.place_of[i]] > 0]
        return sorted(rows, key=lambda i: (-scores[self.place_of[i]], -dense_scores[i]))

    def outline_ranking(self, query: Query, dense_scores: np.ndarray, allowed: np.ndarray) -> list[int]:
        """Passages of the places whose titles the question names, best places first."""
        text = query.search_text
        tokens = zh_tokens(text) + en_tokens(text) + zh_tokens(" ".join(query.zh_terms))
        place_scores = self.place_index.scores(tokens)
        best_places = [int(p) for p in np.argsort(-place_scores)[:3] if place_scores[p] > 0]
        ranking: list[int] = []
        for place in best_places:
            rows = [i for i, p in enumerate(self.place_of) if p == place and allowed[i]]
            ranking.extend(sorted(rows, key=lambda i: -dense_scores[i]))
        return ranking

    def collapse(self, fused: list[tuple[int, float]], rankings: dict[str, list[int]], limit: int) -> list[Hit]:
        """Fused hits in order, a near-duplicate of a better hit dropped."""
        positions = {name: {row: rank for rank, row in enumerate(r, 1)} for name, r in rankings.items()}
        kept: list[Hit] = []
        kept_rows: list[int] = []
        for row, score in fused:
            if any(near_duplicate(self.bigrams[row], self.bigrams[k]) for k in kept_rows):
                continue
            sources = {name: pos[row] for name, pos in positions.items() if row in pos}
            kept.append(Hit(self.index.chunks[row], score, len(kept) + 1, sources))
            kept_rows.append(row)
            if len(kept) >= limit:
                break
        return kept


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


def limit_blas_threads() -> None:
    """One BLAS thread. The embedder runs its own OpenMP threads; OpenBLAS's spinning threads fighting
    them over two cores made every search three times slower, and our matrices are too small to gain."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def top_rows(scores: np.ndarray, allowed: np.ndarray, depth: int) -> list[int]:
    order = np.argsort(-scores, kind="stable")
    return [int(i) for i in order if allowed[i] and scores[i] > 0][:depth]


def make_reranker(settings: Settings):
    if not settings.reranker:
        return None
    from assistant.reranking import CrossEncoderReranker

    return CrossEncoderReranker(settings)
