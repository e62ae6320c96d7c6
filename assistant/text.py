"""Text rules, one copy each: script detection, sentences and lines, word tokens (jieba / English with a
plural stem), Chinese numerals, character bigrams and the labels of a place in a plan."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from assistant import wording

if TYPE_CHECKING:
    from assistant.models import SectionPath

# --- script ---------------------------------------------------------------------------------------

HAN = r"\u3400-\u4dbf\u4e00-\u9fff"  # CJK unified ideographs and extension A
HAN_RE = re.compile(f"[{HAN}]")
NOT_HAN_RE = re.compile(f"[^{HAN}]")
# Chinese text also runs through these without spaces: CJK punctuation, full-width forms, quotes, 《》
CJK_RUN = HAN + r"\u3000-\u303f\uff00-\uffef“”‘’《》、"
LATIN_WORD_RE = re.compile(r"[A-Za-z]{2,}")


def has_han(text: str) -> bool:
    return bool(HAN_RE.search(text))


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
    return _t2s().convert(text) if has_han(text) else text


# --- lines and sentences --------------------------------------------------------------------------

SENTENCE_RE = re.compile(r"[^。！？!?\n]+(?:[。！？!?]+[”’」』)）]*)?")


@dataclass(frozen=True)
class Line:
    """A stretch of a source text (a line or a sentence), stripped, with its offsets."""

    text: str
    start: int
    end: int


def split_lines(text: str) -> list[Line]:
    """Non-blank lines with their offsets (stripped)."""
    lines, pos = [], 0
    for raw in text.split("\n"):
        stripped = raw.strip()
        if stripped:
            start = pos + raw.index(stripped)
            lines.append(Line(stripped, start, start + len(stripped)))
        pos += len(raw) + 1
    return lines


def split_sentences(text: str, offset: int = 0) -> list[Line]:
    """Sentences (ending at 。！？!? and their closing quotes) with offsets; newlines always end one."""
    out = []
    for m in SENTENCE_RE.finditer(text):
        piece = m.group(0)
        stripped = piece.strip()
        if stripped:
            start = offset + m.start() + piece.index(stripped)
            out.append(Line(stripped, start, start + len(stripped)))
    return out


def sentences(text: str) -> list[str]:
    """The sentences of a text, as the index stores them and the English renderings are keyed by."""
    return [s.text for s in split_sentences(text)]


def split_claims(text: str) -> list[str]:
    """An answer cut after each sentence end, Chinese or English ("…。", "… . "), pieces stripped."""
    return [p.strip() for p in re.split(r"(?<=[。！？!?])|(?<=\.)\s+", text.strip()) if p and p.strip()]


def join_claims(pieces: list[str], like: str) -> str:
    """Pieces joined as the text they came from writes: no space in Chinese, one in English."""
    return ("" if has_han(like) else " ").join(pieces)


# --- words ----------------------------------------------------------------------------------------

ZH_STOPWORDS = frozenset(
    """
    的 了 和 与 及 等 在 是 为 对 以 把 将 由 从 中 上 下 其 之 并 或 也 而 就 都 所 有 于 向 到
    加强 推进 推动 建设 实施 加快 持续 开展 全面 进一步 积极 深入 不断 提升 提高 完善 健全 强化 发展
    哪些 什么 怎么 如何 多少 是否 关于 规划 提出 要求 方面 工作 主要
    """.split()
)
EN_STOPWORDS = frozenset(
    """
    a an the of and or to in on for by with as at from is are be was were this that these those it its
    what which who whom how why when where does do did has have had will would should can could may
    plan plans say says said about province provincial please tell me i we you they there
    """.split()
)
TOKEN_RE = re.compile(r"[a-z0-9]+(?:[.\-][a-z0-9]+)*")


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


# A year in Chinese numerals (二〇三五年): plans write their long-range goals this way
CHINESE_YEAR_RE = re.compile(r"[〇零一二三四五六七八九]{4}(?=年)")
CHINESE_DIGITS = str.maketrans("〇零一二三四五六七八九", "00123456789")


def arabic_years(text: str) -> str:
    """The text with years in Chinese numerals written in digits (二〇三五年 -> 2035年), as questions write them."""
    return CHINESE_YEAR_RE.sub(lambda m: m.group(0).translate(CHINESE_DIGITS), text)


def zh_tokens(text: str) -> list[str]:
    """Content words of a Chinese (or mixed) text, lower-cased, without punctuation and stopwords; years in
    digits (a question's "2035" finds a plan's 二〇三五年)."""
    tokens = []
    for token in _jieba().lcut(arabic_years(text).lower()):
        token = token.strip()
        if not token or token in ZH_STOPWORDS or not re.search(r"[\w]", token):
            continue
        tokens.append(token)
    return tokens


def stem_plural(word: str) -> str:
    """A crude English stem: the plural s of a longer word ("zones" -> "zone", not "gas" or "process")."""
    return word[:-1] if len(word) > 4 and word.endswith("s") and not word.endswith("ss") else word


def en_tokens(text: str) -> list[str]:
    """Content words of an English text, lower-cased, stemmed (plural s), without stopwords."""
    return [stem_plural(t) for t in TOKEN_RE.findall(text.lower()) if t not in EN_STOPWORDS]


def bigram_set(text: str) -> set[str]:
    """The character pairs of a text, spaces removed: what near-duplicate Chinese texts share."""
    compact = "".join(text.split())
    return {compact[i : i + 2] for i in range(len(compact) - 1)}


def content_units(text: str) -> set[str]:
    """Chinese character pairs and English content words: what a claim and a passage can share."""
    return bigram_set(NOT_HAN_RE.sub("", text)) | set(en_tokens(text))


# --- Chinese numerals (第十二章, 第三节) ------------------------------------------------------------

DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
NUMERAL_CHARS = "零〇一二两三四五六七八九十百"


def parse_numeral(text: str) -> int:
    """`十二` -> 12, `二十一` -> 21, `12` -> 12. Raises ValueError on anything else."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    if not text or any(ch not in NUMERAL_CHARS for ch in text):
        raise ValueError(f"not a Chinese numeral: {text!r}")
    total, current = 0, 0
    for ch in text:
        if ch == "百":
            total += (current or 1) * 100
            current = 0
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = DIGITS[ch]
    return total + current


def to_chinese_numeral(n: int) -> str:
    """12 -> `十二` (1..99, as headings use them)."""
    if not 0 < n < 100:
        return str(n)
    tens, ones = divmod(n, 10)
    names = "零一二三四五六七八九"
    head = "" if tens == 0 else ("十" if tens == 1 else names[tens] + "十")
    return head + (names[ones] if ones else "")


# --- labels of places -----------------------------------------------------------------------------

ENUMERATED = "enumerated"  # a plan numbering its parts 一、 / （一） (see `SectionPath.numbering`)


def chapter_label(n: int, title: str, lang: str = "zh", numbering: str = "chapters") -> str:
    if numbering == ENUMERATED:
        return f"{to_chinese_numeral(n)}、{title}" if lang == "zh" else f"{n}. {title}".strip()
    return (f"第{to_chinese_numeral(n)}章 {title}" if lang == "zh" else f"Chapter {n} {title}").strip()


def section_label(n: int, title: str, lang: str = "zh", numbering: str = "chapters") -> str:
    if numbering == ENUMERATED:
        return f"（{to_chinese_numeral(n)}）{title}" if lang == "zh" else f"({n}) {title}".strip()
    return (f"第{to_chinese_numeral(n)}节 {title}" if lang == "zh" else f"Section {n} {title}").strip()


def box_label(n: int, title: str, lang: str = "zh") -> str:
    return (f"专栏{n} {title}" if lang == "zh" else f"Box {n} {title}").strip()


def term_label(n: int | None, title: str, lang: str = "zh") -> str:
    glossary = wording.PART_NAMES["glossary"][lang]
    if n is None or not title:
        return glossary
    return f"{glossary} {n}. {title}".strip()


def place_label(path: SectionPath, lang: str = "zh", titles: PlaceTitles | None = None) -> str:
    """A place as people read it: `第三章 生态安全 › 第二节 完善…`, or in English with the given English
    titles (`Chapter 3 Ecological Security › Section 2 …`)."""
    if path.part in ("notice", "preface"):
        return wording.PART_NAMES[path.part][lang]
    titles = titles or PlaceTitles.of(path)
    if path.part == "glossary":
        return term_label(path.term, titles.term, lang)
    parts = []
    if path.chapter is not None:
        parts.append(chapter_label(path.chapter, titles.chapter, lang, path.numbering))
    if path.section is not None:
        parts.append(section_label(path.section, titles.section, lang, path.numbering))
    if path.box is not None:
        parts.append(box_label(path.box, titles.box, lang))
    return " › ".join(parts)


@dataclass(frozen=True)
class PlaceTitles:
    """The titles of a place's parts in one language."""

    chapter: str = ""
    section: str = ""
    box: str = ""
    term: str = ""

    @classmethod
    def of(cls, path: SectionPath) -> PlaceTitles:
        return cls(*path.titles)
