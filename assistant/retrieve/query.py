"""A question made ready for search: Simplified Chinese, its language, the Chinese glossary terms an English
question names, and the plan it names ("《青海省生态经济发展规划》…", "the environmental protection plan")."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.index.view import StoredDocument
from assistant.ingest.curation import GlossaryEntry
from assistant.text import HAN, detect_language, stem_plural, to_simplified


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
    translation: str = ""  # an English question in Chinese, from the translator ("" without one)
    # The Chinese a dictionary gives for an English question's words (see `retrieve.dictionary`): for
    # word matching only, as in the embedded text they were noise.
    dictionary_terms: tuple[str, ...] = ()

    @property
    def search_text(self) -> str:
        return self.topic or self.text

    @property
    def chinese_words_text(self) -> str:
        """The Chinese an English question brings to word matching: its glossary terms, the dictionary's
        words and its translation."""
        return " ".join([*self.zh_terms, *self.dictionary_terms, self.translation]).strip()

    @property
    def dense_text(self) -> str:
        """What is embedded for the vector search: an English question with its Chinese glossary terms
        and its translation, which the plans' Chinese sentences match better than English."""
        text = self.search_text if self.embed_topic else self.text
        chinese = " ".join([*self.zh_terms, self.translation]).strip()
        return f"{text} ({chinese})" if chinese else text


class QueryPreparer:
    """Turns questions into `Query`s for one corpus: its glossary and its documents' titles."""

    def __init__(self, documents: Sequence[StoredDocument], glossary: Sequence[GlossaryEntry], max_chars: int) -> None:
        self.bridge = GlossaryBridge(tuple(glossary))
        self.max_chars = max_chars
        self.titles = {d.id: DocumentTitles.of(d, glossary) for d in documents}

    def prepare(self, question: str) -> Query:
        text = to_simplified(" ".join(question.split()))[: self.max_chars]
        lang = detect_language(text)
        terms: tuple[str, ...] = ()
        if lang == "en":
            terms = tuple(dict.fromkeys(m.entry.zh for m in self.bridge.matches(text)))
        mention = find_document_mention(text, self.titles)
        if mention is None:
            return Query(question, text, lang, terms)
        return Query(question, text, lang, terms, mention.doc_id, mention.removed_from(text), mention.quoted)


@dataclass(frozen=True)
class GlossaryMatch:
    english: str  # the form found in the question
    entry: GlossaryEntry


class GlossaryBridge:
    """Finds the glossary terms an English question names (longest forms first, whole words only)."""

    def __init__(self, glossary: tuple[GlossaryEntry, ...]) -> None:
        forms: dict[str, GlossaryEntry] = {}
        for entry in glossary:
            for form in entry.english_forms:
                key = normalise_english(form)
                if len(key) >= 3 and key not in forms:
                    forms[key] = entry
        self._forms = sorted(forms.items(), key=lambda kv: -len(kv[0]))

    def matches(self, question: str) -> list[GlossaryMatch]:
        text = f" {normalise_english(question)} "
        found: list[GlossaryMatch] = []
        for form, entry in self._forms:
            needle = f" {form} "
            if needle in text:
                found.append(GlossaryMatch(form, entry))
                text = text.replace(needle, " | ")  # a longer form hides the shorter ones inside it
        return found


def normalise_english(text: str) -> str:
    text = text.lower().replace("’", "'").replace("-", " ")
    text = re.sub(r"[^a-z0-9.%' ]+", " ", text)
    return " ".join(stem_plural(w) for w in text.split())


# Words of any plan's title that say what kind of document it is, not which one. Years, periods ("“十四五”",
# "14th Five-Year") and the issuing region are taken out by rule (see `DocumentTitles`).
GENERIC_TITLE_WORDS_ZH = ("规划", "（", "(")
GENERIC_TITLE_WORDS_EN = frozenset({"plan", "the", "of", "and", "five", "year", "provincial", "province", "municipal"})
FIVE_YEAR_PERIOD_RE = re.compile(r"[“\"]?十[一二三四五六七八九]?五[”\"]?")
ISSUER_RE = re.compile(f"([{HAN}]{{2,10}}?)人民政府")
REGION_SUFFIX_RE = re.compile(r"(省|市|自治区|自治州|县|区)$")


@dataclass(frozen=True)
class DocumentTitles:
    """A plan's Chinese and English titles, and what tells each apart from other plans' titles."""

    zh: str
    en: str
    core_zh: str
    core_en: frozenset[str]

    @classmethod
    def of(cls, doc: StoredDocument, glossary: Sequence[GlossaryEntry] = ()) -> DocumentTitles:
        region = issuing_region(doc.title, doc.text)
        short = REGION_SUFFIX_RE.sub("", region)
        region_en = {w for e in glossary if region and e.zh in (region, short) for w in e.en.lower().split()}
        return cls(doc.title, doc.title_en, title_core_zh(doc.title, region), title_core_en(doc.title_en, region_en))


def issuing_region(title: str, text: str) -> str:
    """The region whose government issued the plan, when the title starts with it: the 青海省 of
    "青海省人民政府办公厅" and "青海省生态经济发展规划"; "" if none does."""
    names = {m.group(1) for m in ISSUER_RE.finditer(text[:5000])}
    return max((n for n in names if title.startswith(n)), key=len, default="")


def title_core_zh(title: str, region: str = "") -> str:
    """What tells a plan's Chinese title apart: `青海省生态经济发展规划(2021—2025年)` -> `生态经济发展`."""
    core = FIVE_YEAR_PERIOD_RE.sub("", re.sub(r"[(（].*?[)）]", "", title))
    if region:
        core = core.replace(region, "").replace(REGION_SUFFIX_RE.sub("", region), "")
    for word in GENERIC_TITLE_WORDS_ZH:
        core = core.replace(word, "")
    return core


def title_core_en(title: str, region_words: set[str] = frozenset()) -> frozenset[str]:
    """The distinctive words of an English title, cut to six letters (no years, ordinals or region)."""
    words = re.findall(r"[a-z0-9]+", title.lower())
    return frozenset(
        w[:6] for w in words if w not in GENERIC_TITLE_WORDS_EN and w not in region_words and not re.search(r"\d", w)
    )


@dataclass(frozen=True)
class DocumentMention:
    """Where a question names one of the plans: the document, and the characters naming it."""

    doc_id: str
    start: int
    end: int

    quoted: bool = False  # named by its full title in 《》

    def removed_from(self, question: str) -> str:
        """The question without the plan's name, which otherwise outweighs what is asked about it."""
        rest = " ".join((question[: self.start] + " " + question[self.end :]).split())
        return rest or question


def find_document_mention(question: str, titles: dict[str, DocumentTitles]) -> DocumentMention | None:
    """The document a question names as "the … plan" / "…规划", when exactly one title fits."""
    found: dict[str, tuple[float, int, int]] = {}
    for doc_id, title in titles.items():
        found[doc_id] = max(_zh_mention(question, title.core_zh), _en_mention(question, title.core_en))
    best = sorted(found.items(), key=lambda kv: -kv[1][0])
    if not best or best[0][1][0] < 0.5 or (len(best) > 1 and best[1][1][0] >= best[0][1][0]):
        return None
    doc_id, (_, start, end) = best[0]
    start, end = _widen_to_brackets(question, start, end)
    return DocumentMention(doc_id, start, end, question[start] == "《")


def _zh_mention(question: str, core: str) -> tuple[float, int, int]:
    """Share of the title core's character pairs found just before a 规划 in the question, and the span
    from the first such pair to the end of 规划."""
    pairs = {core[i : i + 2] for i in range(len(core) - 1)}
    best = (0.0, 0, 0)
    for m in re.finditer("规划", question):
        window_start = max(0, m.start() - len(core) - 2)
        before = question[window_start : m.start()]
        found = [i for i in range(len(before) - 1) if before[i : i + 2] in pairs]
        if pairs and found:
            share = len({before[i : i + 2] for i in found}) / len(pairs)
            if share > best[0]:
                best = (share, window_start + found[0], m.end())
    return best


def _en_mention(question: str, core: frozenset[str]) -> tuple[float, int, int]:
    """Share of the English title's distinctive words in the run of title words just before "plan",
    and the span from the first of them to the end of "plan". The run must reach "plan": in "cultural
    ecology protection zones does the plan", "ecology protection" names no plan."""
    words = [(m.group(0).lower()[:6], m.start(), m.end()) for m in re.finditer(r"[A-Za-z0-9]+", question)]
    best = (0.0, 0, 0)
    for i, (word, _, end) in enumerate(words):
        if word not in {"plan", "plans"} or not core:
            continue
        run = []  # words cut to six letters: "environmental" ~ "environment"
        for previous in reversed(words[max(0, i - 8) : i]):
            if previous[0] in core:
                run.append(previous)
            elif previous[0] not in GENERIC_TITLE_WORDS_EN and not re.search(r"\d", previous[0]):
                break
        share = len({w[0] for w in run}) / len(core)
        if run and share > best[0]:
            best = (share, run[-1][1], end)
    return best


def _widen_to_brackets(question: str, start: int, end: int) -> tuple[int, int]:
    """Take in the whole 《…》 when the mention sits inside one."""
    opening, closing = question.rfind("《", 0, start + 1), question.find("》", end - 1)
    if opening != -1 and closing != -1 and "》" not in question[opening:start]:
        return opening, closing + 1
    return start, end
