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


def answer_json(assistant, answer) -> dict[str, Any]:
    """The `planqa ask --json` contract."""
    return {
        "question": answer.question,
        "lang": answer.lang,
        "answer": answer.text,
        "abstained": answer.abstained,
        "mode": answer.mode,
        "citations": [
            {
                "n": c.n,
                "doc_id": c.chunk.doc_id,
                "doc_title": c.doc_title,
                "chapter": c.chunk.path.chapter,
                "section": c.chunk.path.section,
                "box": c.chunk.path.box,
                "heading": c.heading,
                "heading_en": c.heading_en,
                "quote": c.quote,
            }
            for c in answer.citations
        ],
        "passages": [
            {
                "rank": h.rank,
                "doc_id": h.chunk.doc_id,
                "doc_title": assistant.document(h.chunk.doc_id)["title"],
                "chapter": h.chunk.path.chapter,
                "section": h.chunk.path.section,
                "box": h.chunk.path.box,
                "text": h.chunk.text,
                "score": round(h.score, 5),
            }
            for h in answer.hits
        ],
        "timings_ms": answer.timings_ms,
        "notes": list(answer.notes),
    }


def answer_lines(assistant, answer, color: bool = False) -> list[str]:
    bold, dim, reset = (BOLD, DIM, RESET) if color else ("", "", "")
    lines = [f"{bold}{answer.text}{reset}", ""]
    for c in answer.citations:
        doc = assistant.document(c.chunk.doc_id)
        title = doc["title_en"] if answer.lang == "en" and doc["title_en"] else f"《{doc['title']}》"
        heading = c.heading_en if answer.lang == "en" and c.heading_en else c.heading
        lines.append(f"{bold}[{c.n}]{reset} {title} › {heading}")
        if answer.lang == "en" and c.heading_en:
            lines.append(f"    {dim}《{doc['title']}》 › {c.heading}{reset}")
        lines.append(f"    “{c.quote}”")
    if answer.abstained:
        lines.append("Closest passages:" if answer.lang == "en" else "最接近的段落：")
        for h in answer.hits[:3]:
            lines.append(f"  [{h.rank}] {place_line(assistant, h)}")
            lines.append(f"      {h.chunk.text[:120]}…")
    for note in answer.notes:
        lines.append(f"{dim}note: {note}{reset}")
    return lines
