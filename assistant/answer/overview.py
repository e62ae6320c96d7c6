"""Topic overviews: a question asking what the plans say, arrange or require about a subject gets every
place that addresses it (document › chapter › section or box), most relevant first, each with its most
informative sentences, cited; bounded in length by the settings."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from assistant import wording
from assistant.answer.refusal import content_words
from assistant.index.view import IndexView
from assistant.models import Hit, SectionPath
from assistant.retrieve.query import Query
from assistant.settings import Settings
from assistant.text import bigram_set, en_tokens
from assistant.text import sentences as split_sentences_of

# What a topic question sounds like: it asks what the plans say, arrange or require about a subject.
TOPIC_QUESTION_RE = re.compile(
    r"(?:有|作|做|提出|作出)了?(?:哪些|什么|何种)(?:具体|主要|重点|重要|相关)?(?:部署|安排|措施|要求|举措|规定|考虑|任务|政策)"
    r"|(?:部署|安排|规划|要求|说|提)了?(?:什么|哪些)|怎么(?:部署|安排|说|推进|发展|做)|如何(?:部署|安排|推进|发展|保护|建设|治理)"
    r"|\bwhat (?:does|do) (?:the |each )?(?:plans?|documents?)\b.*\b(?:say|plan|propose|require|set out|lay out)\b"
    r"|\bwhat (?:\w+ ){0,2}(?:measures|steps|actions|arrangements|policies|tasks)\b|\bhow will\b|\bwhat is planned\b"
    r"|\bwhat are the plans?\b|\bhow (?:do|does) (?:the |each )?(?:plans?|documents?)\b"
    r"|\bwhat (?:does|do|will) [\w' ]{1,40}? (?:intend|plan|aim|want) to do\b|\bwhat will [\w' ]{1,40}? do\b",
    re.I,
)


def asks_overview(query: Query) -> bool:
    return bool(TOPIC_QUESTION_RE.search(query.search_text))


@dataclass(frozen=True)
class PlaceEvidence:
    """The sentences of one place that an overview quotes, best first."""

    doc_id: str
    path: SectionPath
    score: float
    items: list  # Evidence (hit, sentence, score), in the order they are quoted
    answering: int = 0  # how many of the first items are the first answer's (the direct answer), shown whole


# Words of the question's frame, not of its subject ("what do the plans say about …", "规划对…")
FRAME_WORDS = frozenset("规划 规划文件 文件 plan document say set out propose require measure step action".split())


def subject_words(query: Query, lang: str | None = None) -> list[str]:
    """The words naming what a topic question is about: its content words once the topic frame
    ("有哪些部署", "what measures") and the words about the documents are taken out."""
    lang = lang or query.lang
    text = query.search_text if lang == query.lang else query.translation
    return [w for w in content_words(TOPIC_QUESTION_RE.sub(" ", text), lang) if w not in FRAME_WORDS]


def addresses(evidence, query: Query, view: IndexView) -> bool:
    """Does a sentence speak of the question's subject: does it hold one of the subject words (Chinese; or
    for an English question, English words in its rendering, and the glossary's Chinese terms and the
    subject words of the question's translation in the sentence)? (Holding the subject's rarest word
    instead, "湿地" rather than "保护", lost a dev topic question and won none: measured, not kept.)"""
    if query.lang == "zh":
        return any(w in evidence.sentence for w in subject_words(query))
    rendering = set(en_tokens(view.rendering_of_text(evidence.sentence) or ""))
    chinese = [*query.zh_terms, *(subject_words(query, "zh") if query.translation else [])]
    if not rendering and not chinese:
        return True  # nothing to read the sentence against: retrieval's judgement stands
    return any(w in rendering for w in subject_words(query)) or any(t in evidence.sentence for t in chinese)


def group_places(first: list, ranked: list, query: Query, view: IndexView, settings: Settings) -> list[PlaceEvidence]:
    """Places in order: those of the first answer's sentences, then every other place among the passages
    read that speaks of the subject, in the retrieval order of its passages (fused dense and word ranks
    judge a whole passage better than one sentence's score does); each place's sentences that speak of the
    subject, best first, at most `overview_sentences_per_place`; near-duplicates merged."""
    places: dict[tuple[str, SectionPath], PlaceEvidence] = {}
    seen: list[set[str]] = []

    quoted: set[str] = set()

    def take(evidence) -> None:
        if mostly_quoted(evidence.sentence, quoted):  # a heading with a sentence quoted already
            return
        grams = bigram_set(evidence.sentence)
        if any(len(grams & g) / max(len(grams | g), 1) >= settings.near_duplicate_jaccard for g in seen):
            return
        key = (evidence.hit.chunk.doc_id, evidence.hit.chunk.path)
        if key not in places:
            if len(places) >= settings.overview_places:
                return
            places[key] = PlaceEvidence(key[0], key[1], evidence.score, [])
        places[key].items.append(evidence)
        seen.append(grams)
        quoted.update(split_sentences_of(evidence.sentence))

    relevant = [e for e in ranked if addresses(e, query, view)]
    sentences = {e.sentence for e in relevant}
    for evidence in first:
        if evidence.sentence in sentences:  # the best-scoring sentence may match only the frame (措施)
            take(evidence)
    answering = {key: len(place.items) for key, place in places.items()}
    for evidence in sorted(relevant, key=lambda e: (e.hit.rank, -e.score)):
        key = (evidence.hit.chunk.doc_id, evidence.hit.chunk.path)
        if key not in places or len(places[key].items) < settings.overview_sentences_per_place:
            take(evidence)
    return [dataclasses.replace(place, answering=answering.get(key, 0)) for key, place in places.items()]


def mostly_quoted(text: str, quoted: set[str]) -> bool:
    """Is at least half of the text in sentences the overview quotes already?"""
    return sum(len(s) for s in split_sentences_of(text) if s in quoted) * 2 >= len(text)


def fits(place_lines: list[str], lang: str, settings: Settings) -> bool:
    text = "".join(place_lines)
    if lang == "zh":
        return len(text) <= settings.overview_chars
    return len(text.split()) <= settings.overview_words


def compose(places: list[PlaceEvidence], query: Query, view: IndexView, settings: Settings, render) -> tuple:
    """The overview's text and its citations: (text, cited hits, quotes). `render(evidence, n)` writes one
    sentence with its marker in the asker's language. Within the length bound, every place first gets its
    best sentence, then places get their further sentences in order: a place left out costs the reader a
    whole part of the answer, a second sentence only a detail."""
    shown = quoted_counts(places, query.lang, view, settings)
    kept = [(place, place.items[:n]) for place, n in zip(places, shown) if n]
    cited: list[Hit] = []
    for _, items in kept:
        cited.extend(e.hit for e in items if e.hit not in cited)
    lines = [place_line(i + 1, place, items, cited, query.lang, view, render) for i, (place, items) in enumerate(kept)]
    quotes: dict[str, list[str]] = {}
    for _, items in kept:
        for evidence in items:
            quotes.setdefault(evidence.hit.chunk.id, []).append(evidence.sentence)
    text = wording.overview_opening(query.lang, len(lines)) + "\n" + "\n".join(lines)
    return text, cited, ["".join(quotes[h.chunk.id]) for h in cited]


def quoted_counts(places: list[PlaceEvidence], lang: str, view: IndexView, settings: Settings) -> list[int]:
    """How many of each place's sentences the overview quotes. The first answer's sentences, the direct
    answer, are shown whole (and the first place at least once); then one sentence for every further place
    that fits (a longer one is skipped for shorter ones further down); then one more at a time, in place
    order, while the text fits."""
    if not places:
        return []
    counts = [place.answering for place in places]
    counts[0] = max(counts[0], 1)
    for size in range(1, max(len(p.items) for p in places) + 1):
        for i, place in enumerate(places):
            trial = [*counts[:i], size, *counts[i + 1 :]]
            grows = counts[i] == size - 1 and len(place.items) >= size
            if grows and fits(draft_lines(places, trial, lang, view), lang, settings):
                counts[i] = size
    return counts


def draft_lines(places: list[PlaceEvidence], counts: list[int], lang: str, view: IndexView) -> list[str]:
    """The places' lines with that many sentences each, in the asker's language where it is known (markers
    left out: they do not change the length by much)."""
    return [
        place_heading(place, lang, view) + " ".join(sentence_text(e, lang, view) for e in place.items[:n])
        for place, n in zip(places, counts)
        if n
    ]


def sentence_text(evidence, lang: str, view: IndexView) -> str:
    return evidence.sentence if lang == "zh" else view.rendering_of_text(evidence.sentence) or evidence.sentence


def place_line(number: int, place: PlaceEvidence, items: list, cited: list[Hit], lang: str, view, render) -> str:
    separator, joiner = ("：", "") if lang == "zh" else (": ", " ")
    parts = [render(evidence, cited.index(evidence.hit) + 1) for evidence in items]
    return f"{number}. {place_heading(place, lang, view)}{separator}{joiner.join(parts)}"


def place_heading(place: PlaceEvidence, lang: str, view: IndexView) -> str:
    doc = view.document(place.doc_id)
    if lang == "zh":
        return f"《{doc.title}》{place.path.label()}"
    first = view.place_passages(place.doc_id, place.path)
    heading = view.english_heading(first[0].id) if first else ""
    title = view.english_title(doc.id) or doc.title
    return f"{title}, {heading}" if heading else title
