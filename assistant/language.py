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


def named_document(question: str, titles: dict[str, tuple[str, str]]) -> str | None:
    """The document a question names as "the … plan" / "…规划", when exactly one title fits.

    `titles` maps a document id to its (Chinese title, English title)."""
    scores: dict[str, float] = {}
    for doc_id, (title_zh, title_en) in titles.items():
        scores[doc_id] = max(
            _zh_mention(question, title_core_zh(title_zh)), _en_mention(question, title_core_en(title_en))
        )
    best = sorted(scores.items(), key=lambda kv: -kv[1])
    if not best or best[0][1] < 0.5 or (len(best) > 1 and best[1][1] >= best[0][1]):
        return None
    return best[0][0]


def _zh_mention(question: str, core: str) -> float:
    """Share of the title core's character pairs found just before a 规划 in the question."""
    pairs = {core[i : i + 2] for i in range(len(core) - 1)}
    best = 0.0
    for m in re.finditer("规划", question):
        before = question[max(0, m.start() - len(core) - 2) : m.start()]
        found = {before[i : i + 2] for i in range(len(before) - 1)}
        if pairs:
            best = max(best, len(pairs & found) / len(pairs))
    return best


def _en_mention(question: str, core: set[str]) -> float:
    """Share of the English title's distinctive words found in the few words before "plan"."""
    words = [w[:6] for w in re.findall(r"[a-z]+", question.lower())]  # "environmental" ~ "environment"
    best = 0.0
    for i, word in enumerate(words):
        if word in {"plan", "plans"} and core:  # (cut to six letters, as the words are)
            window = set(words[max(0, i - 5) : i])
            best = max(best, len(core & window) / len(core))
    return best
