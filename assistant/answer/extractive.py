"""The extractive generator: no LLM; the answer is the best sentences of the retrieved passages, scored
against the question, each marked with its citation (in English through the passages' renderings)."""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass

from assistant import wording
from assistant.answer.abstention import asked_years, year_text
from assistant.answer.generators import AnswerContext, Draft, TokenSink
from assistant.answer.overview import asks_overview, compose, group_places
from assistant.models import Hit
from assistant.retrieve.places import PlaceReference
from assistant.retrieve.query import Query
from assistant.text import en_tokens, zh_tokens

log = logging.getLogger(__name__)

DEFINITION_QUESTION_RE = re.compile(
    r"什么意思|是指|含义|指的是|是什么|what (does|do) .+ mean|meaning of|define|definition", re.I
)
NUMBER_QUESTION_RE = re.compile(
    r"多少|几|比例|比重|目标|达到|规模|how (much|many|large|big|high|fast|far)|capacity|number of|amount of"
    r"|what (percentage|share|rate|proportion|level|target)|by 20\d\d",
    re.I,
)
# "Apart from X, what else…" / "除了X以外": X is what the answer must not be about
EXCLUSION_RE = re.compile(
    r"(?:apart from|aside from|besides|other than|except for)\s+[^,?]+,?\s*"
    r"|除了?[^，,？?]{2,30}?(?:以外|之外|外)[，,]?",
    re.I,
)
DIGIT_RE = re.compile(r"\d")
# Where a question asks a second thing: after a question mark or semicolon, or "，又/还/另外…"
PART_BREAK_RE = re.compile(
    r"[？?；;]\s*|，(?=又|还|另外|同时|并且)|,? and (?=what|how|which|when|where|who|is|are|can|does|do)\b", re.I
)
LIST_QUESTION_RE = re.compile(
    r"哪些|哪几|几个方面|几条|几项|包括|措施|举措|安排|考虑|如何|怎样|怎么"
    r"|\bwhich\b|what (?:are|kinds?|types?|sorts?|measures|steps|projects)|\bhow (?:will|does|do|is|are|can|should)\b",
    re.I,
)


@dataclass(frozen=True)
class Evidence:
    """One sentence picked from a retrieved passage."""

    hit: Hit
    sentence: str
    score: float


@dataclass(frozen=True)
class SentencePicker:
    """Scores the sentences of the top passages against the question: embedding similarity, word
    overlap (Chinese words, or for English the glossary terms and the English rendering), the passage's
    rank, and for number questions whether the sentence has figures (weights: `Settings`)."""

    context: AnswerContext
    passages: int  # how many of the top passages are read

    def pick(self, query: Query, hits: list[Hit]) -> list[Evidence]:
        s, view = self.context.settings, self.context.view
        if EXCLUSION_RE.search(query.search_text):
            query = dataclasses.replace(query, topic=EXCLUSION_RE.sub("", query.search_text), embed_topic=True)
        query_vector = self.context.query_vector(query.dense_text)
        wanted = set(zh_tokens(query.search_text)) | set(query.zh_terms) | set(zh_tokens(query.translation))
        # the dictionary's Chinese for an English question's words (plans without English only): on the dev
        # sets, English key-fact 0.568 / 0.485 / 0.600 -> 0.659 / 0.545 / 0.733 (dev / dev_en / dev_more)
        wanted |= set(query.dictionary_terms)
        wanted_en = set(en_tokens(query.search_text)) if query.lang == "en" else set()
        asks_number = bool(NUMBER_QUESTION_RE.search(query.text))
        asks_definition = bool(DEFINITION_QUESTION_RE.search(query.text))
        years = asked_years(query.search_text)
        scored = []
        for hit in hits[: self.passages]:
            sentences = view.sentences_of(view.row_of(hit.chunk.id))
            for i, (text, vector) in enumerate(sentences):
                overlap = word_overlap(text, wanted)
                if wanted_en and s.use_renderings:
                    rendering = view.rendering(text) or ""
                    overlap = max(overlap, len(wanted_en & set(en_tokens(rendering))) / len(wanted_en))
                score = float(vector @ query_vector) + s.overlap_weight * overlap + s.rank_weight / hit.rank
                if asks_number and DIGIT_RE.search(text):
                    score += s.figure_bonus
                if asks_definition and hit.chunk.path.part == "glossary":
                    score += s.definition_bonus
                if years and any(year in year_text(text) for year in years):
                    score += s.year_bonus
                scored.append(Evidence(hit, self.with_continuation(hit, sentences, i), score))
        return sorted(scored, key=lambda e: -e.score)

    def with_continuation(self, hit: Hit, sentences: list, i: int) -> str:
        """A lead sentence ("国土绿化巩固提升工程。") with the sentence after it, which says what it is;
        a sentence after a lead with its lead, which names what it is about."""
        lead_chars = self.context.settings.lead_chars
        text = sentences[i][0]
        if len(text) <= lead_chars and i + 1 < len(sentences):
            joined = text + sentences[i + 1][0]
            if joined in hit.chunk.text:
                return joined
        if i > 0 and len(sentences[i - 1][0]) <= lead_chars < len(text):
            joined = sentences[i - 1][0] + text
            if joined in hit.chunk.text:
                return joined
        return text


def overlapping(a: Evidence, b: Evidence) -> bool:
    return a.sentence in b.sentence or b.sentence in a.sentence


def word_overlap(text: str, wanted: set[str]) -> float:
    if not wanted:
        return 0.0
    return sum(1 for w in wanted if w in text) / len(wanted)


def choose_evidence(ranked: list[Evidence], max_sentences: int, margin: float, budget: int) -> list[Evidence]:
    """The best sentence, plus up to `max_sentences - 1` more that score within `margin` of it, within a
    length budget in characters."""
    if not ranked:
        return []
    chosen = [ranked[0]]
    for evidence in ranked[1:]:
        if len(chosen) >= max_sentences or evidence.score < ranked[0].score - margin:
            break
        if sum(len(e.sentence) for e in chosen) + len(evidence.sentence) > budget:
            continue
        if not any(evidence.sentence in e.sentence or e.sentence in evidence.sentence for e in chosen):
            chosen.append(evidence)
    return chosen


def question_parts(query: Query) -> list[Query]:
    """The sub-questions of a question that asks two things ("…多少？…目标是多少？"); empty if one."""
    pieces = [p.strip(" ，,") for p in PART_BREAK_RE.split(query.search_text)]
    parts = [p for p in pieces if len(p) >= (4 if query.lang == "zh" else 12)]
    if len(parts) < 2:
        return []
    return [dataclasses.replace(query, text=part, topic="", embed_topic=False) for part in parts]


class ExtractiveGenerator:
    """No LLM: the answer is the best one to three sentences of the retrieved passages, each marked
    with its citation. An English question gets the curated English rendering of those sentences (the
    Chinese original stays in the citation), or, for a plan without one, an English frame around the
    Chinese quote."""

    name = "extractive"

    def __init__(self, context: AnswerContext) -> None:
        self.context = context
        self.settings = context.settings
        self.picker = SentencePicker(context, context.settings.picker_passages)

    def draft(self, query: Query, hits: list[Hit], on_token: TokenSink | None = None) -> Draft:
        chosen = self.choose(query, hits)
        draft = self.overview(query, hits, chosen) if asks_overview(query) else self.answer(query, chosen)
        if on_token:
            on_token(draft.text)
        return draft

    def overview(self, query: Query, hits: list[Hit], chosen: list[Evidence]) -> Draft:
        ranked = SentencePicker(self.context, self.settings.overview_passages).pick(query, hits)
        places = group_places(chosen, ranked, query, self.context.view, self.settings)
        text, cited, quotes = compose(
            places, query, self.context.view, self.settings, lambda evidence, n: self.render(query, evidence, n)
        )
        return Draft(text, tuple(cited), tuple(quotes), kind="overview")

    def answer(self, query: Query, chosen: list[Evidence]) -> Draft:
        cited: list[Hit] = []
        quotes: dict[str, list[str]] = {}
        parts = []
        for evidence in chosen:
            if evidence.hit not in cited:
                cited.append(evidence.hit)
            n = cited.index(evidence.hit) + 1
            quotes.setdefault(evidence.hit.chunk.id, []).append(evidence.sentence)
            parts.append(self.render(query, evidence, n))
        text = self.compose(query.lang, parts, cited)
        kind = "list" if LIST_QUESTION_RE.search(query.text) else "fact"
        return Draft(text, tuple(cited), tuple("".join(quotes[h.chunk.id]) for h in cited), kind=kind)

    def choose(self, query: Query, hits: list[Hit]) -> list[Evidence]:
        """The best sentences for the question; then, for a question that asks two things, the best
        sentence for each part that the first choice does not already hold; a list question may take
        more sentences."""
        asks_list = bool(LIST_QUESTION_RE.search(query.text))
        s = self.settings
        named = PlaceReference.parse(query.search_text)
        in_named_place = [h for h in hits if named.matches(h.chunk.path, with_terms=named.glossary)]
        hits = in_named_place or hits  # "专栏5里…", "基本原则": the answer comes from the place named
        chosen = choose_evidence(
            self.picker.pick(query, hits),
            max_sentences=s.list_answer_sentences if asks_list else s.answer_sentences,
            margin=s.list_answer_margin if asks_list else s.answer_margin,
            budget=s.list_answer_chars if asks_list else s.answer_chars,
        )
        for part in question_parts(query):
            # the part's best sentence not chosen yet, if it scores near the part's best ("…, and which
            # are still at the preliminary stage?": the first choice may hold the first part's answer)
            ranked = self.picker.pick(part, hits)
            fresh = [e for e in ranked if not any(overlapping(e, c) for c in chosen)]
            if fresh and fresh[0].score >= ranked[0].score - s.answer_margin:
                chosen.append(fresh[0])
        return chosen

    def render(self, query: Query, evidence: Evidence, n: int) -> str:
        if query.lang == "zh":
            return f"{evidence.sentence}[{n}]"
        rendering = self.context.view.rendering_of_text(evidence.sentence) if self.settings.use_renderings else None
        if rendering:
            return f"{rendering} [{n}]"
        return wording.QUOTED_IN_CHINESE.format(sentence=evidence.sentence, n=n)

    def compose(self, lang: str, parts: list[str], cited: list[Hit]) -> str:
        if lang == "zh" or not cited:
            return "".join(parts)
        view = self.context.view
        first = cited[0]
        doc = view.document(first.chunk.doc_id)
        title = view.english_title(doc.id) or doc.title
        place = view.english_heading(first.chunk.id)
        where = f"{title}, {place}" if place else title
        return wording.ACCORDING_TO.format(where=where) + " ".join(parts)
