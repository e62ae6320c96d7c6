"""The asker's language, Traditional→Simplified conversion, and the English→Chinese glossary bridge."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from assistant.curation import GlossaryEntry

HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
LATIN_WORD_RE = re.compile(r"[A-Za-z]{2,}")


def detect_language(text: str) -> str:
    """`zh` or `en`. Only these two are served, and they differ by script, so counting script is exact
    where statistical detectors stumble on short mixed questions ("What is 三江源?" is English)."""
    han = len(HAN_RE.findall(text))
    latin_words = len(LATIN_WORD_RE.findall(text))
    if han == 0 and latin_words == 0:
        return "zh"
    return "zh" if han >= 2 * latin_words else "en"


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional Chinese to Simplified (OpenCC); other text passes through unchanged."""
    return _t2s().convert(text) if HAN_RE.search(text) else text


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
    words = [w[:-1] if len(w) > 4 and w.endswith("s") and not w.endswith("ss") else w for w in text.split()]
    return " ".join(words)


COMMON_TITLE_WORDS_ZH = ("青海省", "青海", "“十四五”", "十四五", "规划", "（", "(")
COMMON_TITLE_WORDS_EN = {"qinghai", "plan", "the", "of", "and", "14th", "five", "year", "2021", "2025", "provincial"}


def title_core_zh(title: str) -> str:
    """What tells a plan's Chinese title apart: `青海省生态经济发展规划(2021—2025年)` -> `生态经济发展`."""
    core = re.sub(r"[(（].*?[)）]", "", title)
    for word in COMMON_TITLE_WORDS_ZH:
        core = core.replace(word, "")
    return core


def title_core_en(title: str) -> set[str]:
    return {w[:6] for w in re.findall(r"[a-z]+", title.lower()) if w not in COMMON_TITLE_WORDS_EN}


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


def named_document(question: str, titles: dict[str, tuple[str, str]]) -> str | None:
    mention = find_document_mention(question, titles)
    return mention.doc_id if mention else None


def find_document_mention(question: str, titles: dict[str, tuple[str, str]]) -> DocumentMention | None:
    """The document a question names as "the … plan" / "…规划", when exactly one title fits.

    `titles` maps a document id to its (Chinese title, English title)."""
    found: dict[str, tuple[float, int, int]] = {}
    for doc_id, (title_zh, title_en) in titles.items():
        found[doc_id] = max(
            _zh_mention(question, title_core_zh(title_zh)), _en_mention(question, title_core_en(title_en))
        )
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


def _en_mention(question: str, core: set[str]) -> tuple[float, int, int]:
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
            elif previous[0] not in COMMON_TITLE_WORDS_EN:
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
