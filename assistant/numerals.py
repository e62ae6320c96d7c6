"""Chinese numerals as used in plan headings (第十二章, 第三节), both ways."""

from __future__ import annotations

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
