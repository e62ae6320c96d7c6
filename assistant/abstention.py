"""Deciding that the plans do not say: the question names something the plans never mention, asks about a
year or for a quantity in a unit the evidence lacks, or the evidence covers too little of an English question."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from assistant.segmentation import en_tokens

# Quantities a question may ask for, and what evidence giving one looks like (a figure with its unit).
FIGURE = r"\d[\d.,]*\s*"
UNITS = {
    "money": (
        r"元|yuan|rmb|budget|funding|how much money|投资多少|资金多少",
        FIGURE + r"(?:亿|万|千)?元|" + FIGURE + r"(?:billion |million |thousand )?yuan",
    ),
    "mass": (
        r"吨|tonnes?|\btons?\b",
        FIGURE + r"(?:亿|万|千)?吨|" + FIGURE + r"(?:billion |million |thousand )?(?:tonnes?|tons?)",
    ),
    "power": (
        r"千瓦|\bkw\b|watts?",
        FIGURE + r"(?:亿|万)?千瓦|" + FIGURE + r"(?:billion |million )?(?:kw|gw|mw|kilowatts?)",
    ),
    "area": (
        r"公顷|亩|hectares?|square kilomet|平方公里",
        FIGURE + r"(?:万)?(?:公顷|亩|平方公里)|" + FIGURE + r"(?:million )?(?:hectares?|mu|square kilomet)",
    ),
}
SPECIFIC_POS = {"ns", "nr", "nz", "nt", "j"}  # place, person, other proper nouns, organisations, abbreviations


@dataclass(frozen=True)
class AbstentionSettings:
    min_english_coverage: float = 0.3  # share of an English question's words found in the evidence renderings
    min_noun_chars: int = 3  # a common noun this long that the plans never use is a specific ask


@dataclass(frozen=True)
class Verdict:
    abstain: bool
    reason: str = ""


@lru_cache(maxsize=1)
def _posseg():
    import jieba.posseg

    return jieba.posseg


def unknown_terms(question: str, corpus_text: str, settings: AbstentionSettings) -> list[str]:
    """Specific terms of a Chinese question (proper nouns, long nouns) that occur nowhere in the plans."""
    found = []
    for token in _posseg().cut(question):
        word, flag = token.word, token.flag
        specific = flag in SPECIFIC_POS or (flag.startswith("n") and len(word) >= settings.min_noun_chars)
        if specific and len(word) >= 2 and word not in corpus_text:
            found.append(word)
    return found


def missing_unit(question: str, evidence: str) -> str | None:
    """The kind of quantity the question asks for, when the evidence gives no such figure."""
    q, e = question.lower(), evidence.lower()
    for family, (asked, given) in UNITS.items():
        if re.search(asked, q) and not re.search(given, e):
            return family
    return None


def missing_year(question: str, evidence: str) -> str | None:
    """A year the question asks about ("到2035年", "by 2035") that the evidence never mentions."""
    for year in re.findall(r"(?<!\d)(?:19|20)\d\d(?!\d)", question):
        if year not in evidence:
            return year
    return None


def english_coverage(question: str, renderings: str) -> float:
    words = set(en_tokens(question))
    if not words:
        return 1.0
    text = renderings.lower()
    return sum(1 for w in words if w in text) / len(words)


def judge(
    lang: str,
    question: str,
    evidence_zh: str,
    evidence_en: str,
    corpus_text: str,
    settings: AbstentionSettings = AbstentionSettings(),
) -> Verdict:
    if lang == "zh":
        unknown = unknown_terms(question, corpus_text, settings)
        if unknown:
            return Verdict(True, f"the plans never mention {', '.join(unknown)}")
    year = missing_year(question, evidence_zh + " " + evidence_en)
    if year:
        return Verdict(True, f"the passages found say nothing about {year}")
    unit = missing_unit(question, evidence_zh + " " + evidence_en)
    if unit:
        return Verdict(True, f"the question asks for a {unit} figure the passages do not give")
    if lang == "en" and evidence_en and english_coverage(question, evidence_en) < settings.min_english_coverage:
        return Verdict(True, "the passages found cover too little of the question")
    return Verdict(False)
