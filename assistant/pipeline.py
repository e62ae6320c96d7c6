"""`Assistant`: the one object the CLI, the web app and Python users call. It wires the stages: loads (or
builds) the index once, opens the configured searcher and embedder, and answers searches and questions,
checking every generator's draft before it is shown."""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from assistant import wording
from assistant.answer.abstention import Verdict, judge
from assistant.answer.answer_cache import AnswerCache
from assistant.answer.citations import check_answer, make_citations
from assistant.answer.generators import AnswerContext, Draft, Generator, TokenSink, make_generator
from assistant.answer.refusal import (
    EXEMPLARS_FILE,
    TRANSLATED,
    Exemplars,
    RefusalModel,
    Support,
    SupportMeter,
    exemplar_texts,
    load_models,
    load_or_embed_exemplars,
)
from assistant.embed.base import Embedder, make_embedder
from assistant.embed.query_batching import QueryBatchingEmbedder
from assistant.errors import BadQuestionError, GeneratorUnavailableError
from assistant.index.build import BuildReport, ensure_index
from assistant.index.view import Filters, IndexView
from assistant.ingest.curation import Curation, GlossaryEntry
from assistant.models import Answer, Hit
from assistant.retrieve.hybrid import HybridRetriever
from assistant.retrieve.query import Query
from assistant.retrieve.searchers import make_searcher
from assistant.settings import Settings
from assistant.text import sentences
from assistant.translate.answer_english import AnswerEnglish, missing_english, title_renderings
from assistant.translate.question import QuestionTranslations
from assistant.translate.translators import TranslatorHolder

log = logging.getLogger(__name__)

# An English question about plans without English, with no translator, is read against the Chinese through
# the dictionary's words for it, which the model fitted on translated questions was not: its probabilities
# run lower. On the dev sets (two plans without their curated files) off-topic questions scored at most
# 0.024 and answerable ones at least 0.029; unanswerable near misses (0.016-0.235) do not separate.
DICTIONARY_REFUSAL_THRESHOLD = 0.025
# Rounds of rendering for one English answer: the second renders sentences that the first round's
# renderings brought to the top. Bounded, as each round is a translator call of a second or more.
ENGLISH_ROUNDS = 2


@dataclass
class Assistant:
    settings: Settings
    view: IndexView
    embedder: Embedder
    glossary: tuple[GlossaryEntry, ...]
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

        view, report = ensure_index(settings, get_embedder, rebuild=rebuild, progress=progress)
        curation = Curation.load(settings.corpus_dir)
        view.learn_renderings(title_renderings(view, curation))
        return cls(
            settings,
            view,
            QueryBatchingEmbedder.wrap(get_embedder(), settings.query_batch_size),
            curation.glossary,
            report,
        )

    @cached_property
    def retriever(self) -> HybridRetriever:
        searcher = make_searcher(self.view, self.settings)
        return HybridRetriever(self.view, searcher, self.embedder, self.settings, self.glossary)

    @cached_property
    def translator(self) -> TranslatorHolder:
        return TranslatorHolder(self.settings)

    @cached_property
    def question_translations(self) -> QuestionTranslations:
        return QuestionTranslations(self.translator, self.settings.prompts_dir, self.settings.index_dir)

    @cached_property
    def answer_english(self) -> AnswerEnglish:
        return AnswerEnglish(self.translator, self.view, self.settings, self.glossary)

    def prepare(self, text: str) -> Query:
        """The question made ready for search; an English one with its Chinese translation, when a
        translator is configured (searched alongside the English, it finds what the Chinese finds)."""
        query = self.retriever.prepare(text)
        if query.lang != "en" or not self.translator.configured:
            return query
        terms = [e for e in self.glossary if e.zh in query.zh_terms]
        translation = self.question_translations.to_chinese(query.search_text, terms)
        # The dictionary's words stand in for a translation: beside Qwen's they cost dev key-fact 0.432 -> 0.386
        # (uncurated plans; benchmarks/bench_english_translation.py).
        dictionary_terms = () if translation else query.dictionary_terms
        return dataclasses.replace(query, translation=translation, dictionary_terms=dictionary_terms)

    @cached_property
    def answer_context(self) -> AnswerContext:
        return AnswerContext(self.view, self.settings, self.retriever.query_vector)

    def with_settings(self, **changes: object) -> Assistant:
        """The same index and models with some settings changed (retrieval and answering ones: the index
        is not rebuilt)."""
        return Assistant(self.settings.with_(**changes), self.view, self.embedder, self.glossary, self.build_report)

    def clean_question(self, question: str) -> tuple[str, list[str]]:
        """The question trimmed to the configured length, with a note when it was cut."""
        text = " ".join((question or "").split())
        if not text:
            raise BadQuestionError("the question is empty")
        notes = []
        if len(text) > self.settings.max_question_chars:
            notes.append(wording.note_truncated(len(text), self.settings.max_question_chars))
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
        return self.retriever.search(self.prepare(text), top_k, Filters(self.resolve_doc(doc), chapter, section))

    def resolve_doc(self, key: str | None) -> str | None:
        return None if key is None else self.view.find_document(key).id

    # --- answering -------------------------------------------------------------------------------

    def generator(self, mode: str | None = None) -> Generator:
        mode = mode or self.settings.generator
        cache = self.__dict__.setdefault("_generators", {})
        if mode not in cache:
            cache[mode] = make_generator(mode, self.answer_context)
        return cache[mode]

    def ask(
        self,
        question: str,
        mode: str | None = None,
        doc: str | None = None,
        top_k: int | None = None,
        on_token: TokenSink | None = None,
    ) -> Answer:
        """A cited answer in the asker's language, or a statement that the plans do not say. `on_token`
        receives the generator's text as it is written (the answer shown in the end may replace it, when
        the check rejects it)."""
        started = time.perf_counter()
        text, notes = self.clean_question(question)
        mode = mode or self.settings.generator
        doc_id = self.resolve_doc(doc)
        key = (text, mode, doc_id, top_k or self.settings.top_k, self.view.rendering_count)
        if (kept := self.answer_cache.get(key)) is not None:
            total = round((time.perf_counter() - started) * 1000, 2)
            return dataclasses.replace(kept, cached=True, timings_ms={"retrieve": 0.0, "generate": 0.0, "total": total})
        query = self.prepare(text)
        depth = max(top_k or self.settings.top_k, self.settings.min_answer_passages)
        hits = self.retriever.search(query, depth, Filters(doc_id))
        retrieved = time.perf_counter()
        extractive = self.generator("extractive").draft(query, hits)
        refusal = self.refusal(query, hits, extractive)
        if refusal is not None:  # decided before any generator (an LLM) is asked
            answer = self.abstention(query, hits, refusal, None, "extractive", notes)
        else:
            if query.lang == "en":
                extractive = self.with_english(query, hits, extractive, notes)
            draft, used_mode = self.checked_draft(query, hits, mode, notes, on_token, extractive)
            answer = self.finish(query, hits, draft, used_mode, notes)
        done = time.perf_counter()
        timings = {
            "retrieve": round((retrieved - started) * 1000, 1),
            "generate": round((done - retrieved) * 1000, 1),
            "total": round((done - started) * 1000, 1),
        }
        answer = dataclasses.replace(answer, timings_ms=timings)
        if self.complete(answer, mode):
            self.answer_cache.put(key, answer)
        return answer

    def complete(self, answer: Answer, mode: str) -> bool:
        """Whether an answer is one to give again: not one an outage may have cut short, which the next ask
        should retry. An LLM mode that fell back to the extractive answer (the model down, or its draft
        rejected), or an English answer quoting sentences a configured translator left without English."""
        if answer.mode != mode and not answer.abstained:
            return False
        if answer.lang != "en" or not self.translator.configured:
            return True
        return all(self.view.rendering(s) for c in answer.citations for s in sentences(c.quote))

    @cached_property
    def answer_cache(self) -> AnswerCache:
        return AnswerCache(self.settings.answer_cache_size)

    def checked_draft(
        self,
        query: Query,
        hits: list[Hit],
        mode: str,
        notes: list[str],
        on_token: TokenSink | None,
        extractive: Draft,
    ) -> tuple[Draft, str]:
        """The generator's draft if it passes the citation check; otherwise the extractive answer (already
        drafted), and a note saying why."""
        if mode == "extractive":
            if on_token:
                on_token(extractive.text)
            return extractive, mode
        if extractive.kind == "overview":  # the overview's places are the model's context, first
            hits = [*extractive.cited, *(h for h in hits if h not in extractive.cited)]
        try:
            draft = self.generator(mode).draft(query, hits, on_token)
        except GeneratorUnavailableError as exc:
            notes.append(wording.note_generator_unavailable(mode, exc))
            return extractive, "extractive"
        if draft.abstained:
            # Whether the plans say is decided by the calibrated checks, not by a small model's modesty.
            if self.verdict(query, extractive).abstain:
                return draft, mode
            notes.append(wording.note_generator_found_nothing(mode))
            return extractive, "extractive"
        renderings = [self.view.english_text(h.chunk.id) for h in draft.cited]
        problems = check_answer(draft.text, list(draft.cited), renderings)
        if problems or not draft.cited:
            reason = problems[0].reason if problems else "the answer cites no passage"
            notes.append(wording.note_check_failed(mode, reason))
            return extractive, "extractive"
        return draft, mode

    def with_english(self, query: Query, hits: list[Hit], draft: Draft, notes: list[str]) -> Draft:
        """The extractive draft again once the English it lacks has been rendered (with a translator). The
        new renderings can change which sentences score best, so a second round renders those."""
        if not self.settings.translate_on_ask or not self.translator.configured:
            return draft
        for _ in range(ENGLISH_ROUNDS):
            rendered = self.answer_english.render(draft)
            if not rendered.drafted:
                break
            note = wording.NOTE_MACHINE_DRAFTS.format(model=rendered.model)
            if note not in notes:
                notes.append(note)
            draft = self.generator("extractive").draft(query, hits)
        return draft

    def note_missing_english(self, query: Query, draft: Draft, notes: list[str]) -> None:
        """An English answer quoting a plan that has no English says so, and how to get it."""
        if query.lang != "en":
            return
        missing = missing_english(draft, self.view)
        if not missing:
            return
        titles = [self.view.english_title(d) or f"《{self.view.document(d).title}》" for d in missing]
        if not self.translator.configured:
            why = wording.NO_TRANSLATOR_HELP
        elif self.translator.failure:
            why = wording.translator_failed(self.translator.failure)
        else:
            why = wording.DRAFTS_REJECTED
        notes.append(wording.note_no_rendering(titles, why))

    @cached_property
    def support_meter(self) -> SupportMeter:
        return SupportMeter(self.view, self.english_corpus, self.refusal_exemplars)

    @cached_property
    def refusal_exemplars(self) -> Exemplars | None:
        """The questions the refusal models were fitted on, embedded by this embedder: once, then kept
        beside the index (embedding them takes about a second, which every one-shot `planqa ask` paid)."""
        texts = exemplar_texts()
        if not texts or not any("exemplar_margin" in m.features for m in self.refusal_models.values()):
            return None
        return load_or_embed_exemplars(texts, self.embedder, self.settings.index_dir / EXEMPLARS_FILE)

    @cached_property
    def refusal_models(self) -> dict[str, RefusalModel]:
        return load_models(self.embedder.name)

    def support(self, query: Query, hits: list[Hit], draft: Draft, lang: str | None = None) -> Support:
        """How well the top passages support the question; with `lang="zh"` for an English question, its
        Chinese translation (words and vector)."""
        words, vector = self.support_words(query, lang), self.support_vector(query, lang)
        rows = [self.view.row_of(h.chunk.id) for h in hits[: self.settings.picker_passages]]
        best = max((float(v @ vector) for row in rows for _, v in self.view.sentences_of(row)), default=0.0)
        return self.support_meter.measure(words, lang or query.lang, list(draft.quotes), best, vector)

    def support_words(self, query: Query, lang: str | None = None) -> str:
        if lang == "zh" and query.lang == "en":
            return query.translation or " ".join(query.dictionary_terms)
        return query.search_text

    def support_vector(self, query: Query, lang: str | None = None) -> np.ndarray:
        text = query.translation or query.dense_text if lang == "zh" and query.lang == "en" else query.dense_text
        return self.retriever.query_vector(text)

    def refusal(self, query: Query, hits: list[Hit], draft: Draft) -> Verdict | None:
        """A refusal when the question is not about what the plans cover. The model reads an English
        question's words against the plans' English, when every passage has it; otherwise it reads the
        question's Chinese translation against the Chinese, when there is one (with the model fitted on
        translated questions, when the weights have one); else it cannot tell."""
        lang, fitted_for = query.lang, query.lang
        if lang == "en" and not self.english_corpus:
            if not query.translation and not self.settings.dictionary_bridge:
                return None  # nothing to read the question against: it cannot tell
            if not query.translation and not query.dictionary_terms:
                # off-topic dev questions: 6 of 20 had none; every answerable one had some
                return Verdict(True, "no word of the question names anything in the plans", "refused")
            lang, fitted_for = "zh", TRANSLATED if TRANSLATED in self.refusal_models else "zh"
        model = self.refusal_models.get(fitted_for)
        if model is None:
            return None
        p = model.probability(self.support(query, hits, draft, lang))
        threshold = model.threshold
        if lang != query.lang and not query.translation:
            threshold = DICTIONARY_REFUSAL_THRESHOLD  # read through the dictionary's words, not a translation
        if p >= threshold:
            return None
        return Verdict(True, f"the plans do not cover this question (support {p:.3f} < {threshold:.3f})", "refused")

    def verdict(self, query: Query, draft: Draft) -> Verdict:
        evidence = [(s, self.view.rendering(s) or "") for quote in draft.quotes for s in sentences(quote)]
        corpus = self.view.corpus_text
        return judge(
            query.lang, query.search_text, evidence, corpus, self.settings, self.english_corpus, query.translation
        )

    def finish(self, query: Query, hits: list[Hit], draft: Draft, mode: str, notes: list[str]) -> Answer:
        verdict = self.verdict(query, draft)
        if draft.abstained or verdict.abstain or not draft.cited:
            return self.abstention(query, hits, verdict, draft, mode, notes)
        citations = make_citations(list(draft.cited), list(draft.quotes), self.view)
        self.note_missing_english(query, draft, notes)
        rendered = any(self.view.english_text(c.chunk.id) for c in citations)
        if query.lang == "en" and self.settings.use_renderings and rendered:
            notes.append(wording.NOTE_UNOFFICIAL)
        return Answer(
            query.original,
            query.lang,
            draft.text,
            False,
            mode,
            tuple(citations),
            tuple(hits),
            {},
            tuple(notes),
            draft.kind,
        )

    def abstention(
        self, query: Query, hits: list[Hit], verdict: Verdict, draft: Draft | None, mode: str, notes: list[str]
    ) -> Answer:
        """An answer that the plans do not say. With no figure given, it quotes what they do say, cited;
        otherwise no citation is presented as support (the closest passages are listed as such)."""
        if verdict.reason:
            notes.append(verdict.reason)
        lang = query.lang
        if verdict.kind == "no_figure" and draft is not None and draft.cited and not draft.abstained:
            citations = make_citations(list(draft.cited), list(draft.quotes), self.view)
            self.note_missing_english(query, draft, notes)
            text = wording.NO_FIGURE[lang] + draft.text
            answer = Answer(query.original, lang, text, True, mode, tuple(citations), tuple(hits), {}, tuple(notes))
            return dataclasses.replace(answer, kind="abstained")
        text = wording.REFUSE[lang] if verdict.kind == "refused" else wording.ABSTAIN[lang]
        return Answer(query.original, lang, text, True, mode, (), tuple(hits), {}, tuple(notes), "abstained")

    @cached_property
    def english_corpus(self) -> str:
        """All the English the plans have: renderings, glossary and outline titles; empty unless every
        passage has its rendering, since a name could otherwise be in a plan's Chinese only."""
        passages = self.view.passages
        if not all(p.text_en for p in passages):
            return ""
        glossary = (form for entry in self.glossary for form in entry.english_forms)
        titles = (p.heading_en for p in passages)
        documents = (d.title_en for d in self.view.documents)
        return "\n".join([*(p.text_en for p in passages), *glossary, *titles, *documents])
