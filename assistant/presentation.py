"""How hits and answers look in a terminal and as JSON (shared by the CLI commands)."""

from __future__ import annotations

import re
from typing import Any

from assistant.models import Hit
from assistant.retrieval import Query
from assistant.segmentation import zh_tokens

BOLD, DIM, RESET = "\033[1m", "\033[2m", "\033[0m"


def place_line(assistant, hit: Hit) -> str:
    doc = assistant.document(hit.chunk.doc_id)
    return f"《{doc['title']}》 › {hit.chunk.path.label()}"


def hit_json(assistant, hit: Hit) -> dict[str, Any]:
    doc = assistant.document(hit.chunk.doc_id)
    path = hit.chunk.path
    return {
        "rank": hit.rank,
        "score": round(hit.score, 5),
        "doc_id": hit.chunk.doc_id,
        "doc_title": doc["title"],
        "chapter": path.chapter,
        "section": path.section,
        "box": path.box,
        "heading": path.label(),
        "heading_en": assistant.heading_en(hit),
        "text": hit.chunk.text,
        "sources": hit.sources,
    }


def highlight(text: str, terms: list[str], width: int = 160) -> str:
    """A snippet around the first matched term, matches in bold (terminals only)."""
    terms = sorted({t for t in terms if len(t) >= 2 and t in text}, key=len, reverse=True)
    start = max(0, min((text.find(t) for t in terms), default=0) - 30)
    snippet = text[start : start + width].replace("\\n", " ")
    if terms:
        snippet = re.sub("|".join(re.escape(t) for t in terms), lambda m: BOLD + m.group(0) + RESET, snippet)
    return ("…" if start else "") + snippet + ("…" if start + width < len(text) else "")


def hit_lines(assistant, hit: Hit, query: Query) -> list[str]:
    terms = zh_tokens(query.text) + list(query.zh_terms)
    heading_en = assistant.heading_en(hit) if query.lang == "en" else ""
    lines = [f"{BOLD}[{hit.rank}]{RESET} {place_line(assistant, hit)}  {DIM}score {hit.score:.4f}{RESET}"]
    if heading_en:
        lines.append(f"    {DIM}{heading_en}{RESET}")
    lines.append(f"    {highlight(hit.chunk.text, terms)}")
    return lines
