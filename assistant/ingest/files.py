"""Reads corpus files into text: plain text in any common Chinese encoding, and PDFs via pypdf."""

from __future__ import annotations

import logging
import re
import statistics
from collections import Counter
from pathlib import Path

from assistant.errors import (
    BrokenPdfError,
    EncryptedPdfError,
    ImageOnlyPdfError,
    LoadError,
    UndecodableTextError,
)
from assistant.text import CJK_RUN

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".pdf")
PAGE_NUMBER_RE = re.compile(r"^\s*(?:[-—–]\s*)?(?:第\s*)?\d{1,4}(?:\s*页)?(?:\s*[-—–])?\s*$|^\s*\d+\s*/\s*\d+\s*$")
HEADING_LINE_RE = re.compile(
    r"^\s*(?:第[一二三四五六七八九十百\d]+[章节]|专栏\s*\d+|名\s*词\s*解\s*释|附件|前言|目录|\d+[.．、]"
    r"|[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[)）])"
)
SENTENCE_END = "。！？；!?:：”」）)"


def corpus_files(folder: Path) -> list[Path]:
    """The plan files of a corpus folder (top level, `.txt` and `.pdf`), in name order."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)


def read_plan_file(path: Path) -> str:
    """Text of one corpus file, newlines normalised. Raises a `LoadError` subclass with the reason."""
    if path.suffix.lower() == ".pdf":
        return read_pdf(path)
    return decode_text(path.read_bytes(), str(path))


def decode_text(data: bytes, name: str) -> str:
    """Decode bytes whose encoding is unknown (UTF-8 with or without BOM, UTF-16, GBK/GB18030...)."""
    from charset_normalizer import from_bytes

    if not data.strip():
        return ""
    best = from_bytes(data).best()
    if best is None:
        raise UndecodableTextError(name, "the file is not text in any encoding planqa can detect")
    text = str(best)
    if best.encoding.lower().startswith(("gb2312", "gbk", "big5", "hz")):
        # GB18030 is a superset: decoding with it recovers characters the narrower guess would lose.
        text = data.decode("gb18030", errors="strict") if best.encoding.lower() != "big5" else text
    log.debug("%s decoded as %s", name, best.encoding)
    return normalise_newlines(text.lstrip("\ufeff"))


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_pdf(path: Path) -> str:
    """Text of a PDF with running headers/footers and page numbers removed and lines re-joined."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise EncryptedPdfError(str(path), "the PDF is encrypted with a password; decrypt it first")
        pages = [page.extract_text() or "" for page in reader.pages]
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        if "decrypt" in str(exc).lower() or "encrypt" in str(exc).lower():
            raise EncryptedPdfError(str(path), "the PDF is encrypted; decrypt it first") from exc
        raise BrokenPdfError(str(path), f"the PDF is damaged or truncated ({exc})") from exc
    if not any(p.strip() for p in pages):
        raise ImageOnlyPdfError(str(path), "the PDF has no text layer (scanned images?); run OCR on it first")
    page_lines = [normalise_newlines(p).split("\n") for p in pages]
    page_lines = drop_running_lines(page_lines)
    return join_pdf_lines([line for lines in page_lines for line in lines])


def drop_running_lines(page_lines: list[list[str]]) -> list[list[str]]:
    """Remove page numbers and lines repeated at the top or bottom of most pages."""

    def shape(line: str) -> str:
        return re.sub(r"\d+", "#", line.strip())

    edges: Counter[str] = Counter()
    for lines in page_lines:
        content = [ln for ln in lines if ln.strip()]
        edges.update({shape(ln) for ln in content[:2] + content[-2:]})
    threshold = max(2, len(page_lines) // 2 + 1) if len(page_lines) >= 3 else 10**9
    running = {s for s, n in edges.items() if n >= threshold}
    return [
        [ln for ln in lines if ln.strip() and shape(ln) not in running and not PAGE_NUMBER_RE.match(ln)]
        for lines in page_lines
    ]


def join_pdf_lines(lines: list[str]) -> str:
    """Re-join visual lines into paragraphs: no space between CJK characters, de-hyphenate English."""
    lengths = [len(ln.strip()) for ln in lines if ln.strip()]
    full = statistics.median(lengths) if lengths else 0
    out: list[str] = []
    for line in (ln.strip() for ln in lines):
        if not out:
            out.append(line)
            continue
        prev = out[-1]
        if paragraph_break(prev, line, full):
            out.append(line)
        else:
            out[-1] = glue(prev, line)
    return "\n".join(out)


def paragraph_break(prev: str, line: str, full_length: float) -> bool:
    if HEADING_LINE_RE.match(line) or HEADING_LINE_RE.match(prev) and len(prev) < 40:
        return True
    return prev.endswith(tuple(SENTENCE_END)) and len(prev) < 0.85 * full_length


def glue(prev: str, line: str) -> str:
    if re.search(r"[A-Za-z]-$", prev) and re.match(r"[a-z]", line):
        return prev[:-1] + line
    if re.search(f"[{CJK_RUN}]$", prev) or re.match(f"[{CJK_RUN}]", line):
        return prev + line
    return prev + " " + line
