"""`Assistant`: the one object the CLI, the web app and Python users call. Loads (or builds) the index,
the embedder and the curated data once; answers searches and questions."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from assistant.abstention import Verdict, judge
from assistant.answering import Draft, ExtractiveGenerator, Generator
from assistant.citations import check_answer, make_citations
from assistant.curation import Curation
from assistant.embedding import Embedder, make_embedder
from assistant.errors import BadQuestionError, GeneratorUnavailableError
from assistant.indexing import BuildReport, ensure_index
from assistant.models import Answer, Hit
from assistant.retrieval import Filters, HybridRetriever, Query
from assistant.settings import Settings
from assistant.store import StoredIndex

log = logging.getLogger(__name__)


@dataclass
class Assistant:
    settings: Settings
    index: StoredIndex
    embedder: Embedder
    curation: Curation
    build_report: BuildReport

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        progress: bool = False,
        rebuild: bool = False,
        embedder: Embedder | None = None,
    ) -> Assistant:
        """Load the index (building it first if needed). `embedder` overrides the configured one."""
        settings = settings or Settings.load()
        holder: dict[str, Embedder] = {"e": embedder} if embedder is not None else {}

        def get_embedder() -> Embedder:
            if "e" not in holder:
                holder["e"] = make_embedder(settings)
            return holder["e"]

        index, report = ensure_index(settings, get_embedder, rebuild=rebuild, progress=progress)
        return cls(settings, index, get_embedder(), Curation.load(settings.corpus_dir), report)

    @cached_property
    def retriever(self) -> HybridRetriever:
        return HybridRetriever(self.index, self.embedder, self.settings, self.curation)

    def with_settings(self, **changes: object) -> Assistant:
        """The same index and models with some settings changed (retrieval and answering ones: the index
        is not rebuilt)."""
        return Assistant(self.settings.with_(**changes), self.index, self.embedder, self.curation, self.build_report)

    def clean_question(self, question: str) -> tuple[str, list[str]]:
        """The question trimmed to the configured length, with a note when it was cut."""
        text = " ".join((question or "").split())
        if not text:
            raise BadQuestionError("the question is empty")
        notes = []
        if len(text) > self.settings.max_question_chars:
            notes.append(
                f"the question was {len(text)} characters; only the first {self.settings.max_question_chars} were used"
            )
            text = text[: self.settings.max_question_chars]
        return text, notes

    def search(
        self,
        question: str,
        top_k: int | None = None,
        doc: str | None = None,
        chapter: int | None = None,
        section: int | None = None,
    ) -> list[Hit]:
        text, _ = self.clean_question(question)
        return self.retriever.search(text, top_k, Filters(self.resolve_doc(doc), chapter, section))

    def resolve_doc(self, key: str | None) -> str | None:
        if key is None:
            return None
        from assistant.browse import find_document

        return find_document(self.index, key)["id"]

    def document(self, doc_id: str) -> dict[str, Any]:
        return next(d for d in self.index.documents if d["id"] == doc_id)

    def heading_en(self, hit: Hit) -> str:
        doc = self.document(hit.chunk.doc_id)
        return self.curation.heading_en(doc["source"], doc["title"], hit.chunk.path)

    # --- answering -------------------------------------------------------------------------------

    def generator(self, mode: str | None = None) -> Generator:
        mode = mode or self.settings.generator
        cache = self.__dict__.setdefault("_generators", {})
        if mode not in cache:
            cache[mode] = make_generator(mode, self.retriever, self.settings)
        return cache[mode]

    def ask(
        self,
        question: str,
        mode: str | None = None,
        doc: str | None = None,
        top_k: int | None = None,
    ) -> Answer:
        """A cited answer in the asker's language, or a statement that the plans do not say."""
        started = time.perf_counter()
        text, notes = self.clean_question(question)
        query = self.retriever.prepare(text)
        hits = self.retriever.search(query, max(top_k or self.settings.top_k, 10), Filters(self.resolve_doc(doc)))
        retrieved = time.perf_counter()
        mode = mode or self.settings.generator
        draft, used_mode = self.checked_draft(query, hits, mode, notes)
        answer = self.finish(query, hits, draft, used_mode, notes)
        done = time.perf_counter()
        timings = {
            "retrieve": round((retrieved - started) * 1000, 1),
            "generate": round((done - retrieved) * 1000, 1),
            "total": round((done - started) * 1000, 1),
        }
        return Answer(**{**answer.__dict__, "timings_ms": timings})

    def checked_draft(self, query: Query, hits: list[Hit], mode: str, notes: list[str]) -> tuple[Draft, str]:
        """The generator's draft if it passes the citation check; otherwise the extractive answer, and a
        note saying why."""
        extractive = self.generator("extractive")
        if mode == "extractive":
            return extractive.draft(query, hits), mode
        try:
            draft = self.generator(mode).draft(query, hits)
        except GeneratorUnavailableError as exc:
            notes.append(f"{mode} is unavailable ({exc}); this is the extractive answer")
            return extractive.draft(query, hits), "extractive"
        if draft.abstained:
            # Whether the plans say is decided by the calibrated checks, not by a small model's modesty.
            fallback = extractive.draft(query, hits)
            if self.verdict(query, fallback).abstain:
                return draft, mode
            notes.append(f"the {mode} model found no answer in its passages; this is the extractive answer")
            return fallback, "extractive"
        problems = check_answer(draft.text, list(draft.cited), self.renderings(draft.cited))
        if problems or not draft.cited:
            reason = problems[0].reason if problems else "the answer cites no passage"
            notes.append(f"the {mode} answer failed the citation check ({reason}); this is the extractive answer")
            return extractive.draft(query, hits), "extractive"
        return draft, mode

    def renderings(self, hits) -> list[str]:
        return [self.retriever.text_en[self.retriever.row_of(h.chunk)] for h in hits]

    def verdict(self, query: Query, draft: Draft) -> Verdict:
        evidence = [(s, self.curation.rendering(s) or "") for s in split_quotes(draft.quotes)]
        texts = {"corpus_text": self.corpus_text, "english_corpus": self.english_corpus}
        return judge(query.lang, query.search_text, evidence, **texts)

    def finish(self, query: Query, hits: list[Hit], draft: Draft, mode: str, notes: list[str]) -> Answer:
        verdict = self.verdict(query, draft)
        if draft.abstained or verdict.abstain or not draft.cited:
            text = ABSTAIN[query.lang]
            if verdict.reason:
                notes.append(verdict.reason)
            return Answer(query.original, query.lang, text, True, mode, (), tuple(hits), {}, tuple(notes))
        docs = {d["id"]: d for d in self.index.documents}
        citations = make_citations(
            list(draft.cited), list(draft.quotes), docs, [self.heading_en(h) for h in draft.cited]
        )
        if query.lang == "en" and self.settings.use_renderings and any(self.renderings(draft.cited)):
            notes.append("English renderings of the Chinese plans are unofficial")
        return Answer(
            query.original, query.lang, draft.text, False, mode, tuple(citations), tuple(hits), {}, tuple(notes)
        )

    @cached_property
    def corpus_text(self) -> str:
        return "\n".join(d["text"] for d in self.index.documents)

    @cached_property
    def english_corpus(self) -> str:
        """All the English the plans have: renderings, glossary and outline titles; empty unless every
        passage has its rendering, since a name could otherwise be in a plan's Chinese only."""
        if not all(self.retriever.text_en):
            return ""
        glossary = (form for entry in self.curation.glossary for form in entry.english_forms)
        docs = {d["id"]: d for d in self.index.documents}
        titles = (
            self.curation.heading_en(docs[c.doc_id]["source"], docs[c.doc_id]["title"], c.path)
            for c in self.index.chunks
        )
        documents = (d["title_en"] for d in docs.values())
        return "\n".join([*self.retriever.text_en, *glossary, *titles, *documents])


ABSTAIN = {
    "zh": "规划文件中没有找到对这个问题的明确表述。下面列出最接近的段落，供参考。",
    "en": "The plans do not say. The closest passages are listed below for reference.",
}


def split_quotes(quotes) -> list[str]:
    from assistant.outline import split_sentences

    return [s.text for quote in quotes for s in split_sentences(quote)]


def make_generator(mode: str, retriever: HybridRetriever, settings: Settings) -> Generator:
    from assistant.llm import LlamaCppGenerator, OpenAIGenerator

    generators = {"extractive": ExtractiveGenerator, "openai": OpenAIGenerator, "llamacpp": LlamaCppGenerator}
    if mode not in generators:
        raise BadQuestionError(f"unknown mode {mode!r}; choose one of {', '.join(generators)}")
    return generators[mode](retriever, settings)
