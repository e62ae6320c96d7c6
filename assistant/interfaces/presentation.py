"""How hits and answers look in a terminal and as JSON (shared by the CLI commands)."""

from __future__ import annotations

import re
from typing import Any

from assistant import wording
from assistant.index.view import IndexView
from assistant.models import Answer, Hit
from assistant.retrieve.query import Query
from assistant.text import zh_tokens

BOLD, DIM, RESET = "\033[1m", "\033[2m", "\033[0m"


def place_line(view: IndexView, hit: Hit) -> str:
    return f"《{view.document(hit.chunk.doc_id).title}》 › {hit.chunk.path.label()}"


def hit_json(view: IndexView, hit: Hit) -> dict[str, Any]:
    path = hit.chunk.path
    return {
        "rank": hit.rank,
        "score": round(hit.score, 5),
        "doc_id": hit.chunk.doc_id,
        "doc_title": view.document(hit.chunk.doc_id).title,
        "chapter": path.chapter,
        "section": path.section,
        "box": path.box,
        "heading": path.label(),
        "heading_en": view.english_heading(hit.chunk.id),
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


def hit_lines(view: IndexView, hit: Hit, query: Query) -> list[str]:
    terms = zh_tokens(query.text) + list(query.zh_terms)
    heading_en = view.english_heading(hit.chunk.id) if query.lang == "en" else ""
    lines = [f"{BOLD}[{hit.rank}]{RESET} {place_line(view, hit)}  {DIM}score {hit.score:.4f}{RESET}"]
    if heading_en:
        lines.append(f"    {DIM}{heading_en}{RESET}")
    lines.append(f"    {highlight(hit.chunk.text, terms)}")
    return lines


def answer_json(view: IndexView, answer: Answer) -> dict[str, Any]:
    """The `planqa ask --json` contract."""
    return {
        "question": answer.question,
        "lang": answer.lang,
        "answer": answer.text,
        "kind": answer.kind,
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
                "doc_title": view.document(h.chunk.doc_id).title,
                "chapter": h.chunk.path.chapter,
                "section": h.chunk.path.section,
                "box": h.chunk.path.box,
                "text": h.chunk.text,
                "score": round(h.score, 5),
            }
            for h in answer.hits
        ],
        "timings_ms": answer.timings_ms,
        "cached": answer.cached,
        "notes": list(answer.notes),
    }


def answer_lines(view: IndexView, answer: Answer, color: bool = False) -> list[str]:
    bold, dim, reset = (BOLD, DIM, RESET) if color else ("", "", "")
    lines = [f"{bold}{answer.text}{reset}", ""]
    for c in answer.citations:
        doc = view.document(c.chunk.doc_id)
        title_en = view.english_title(doc.id)
        title = title_en if answer.lang == "en" and title_en else f"《{doc.title}》"
        heading = c.heading_en if answer.lang == "en" and c.heading_en else c.heading
        lines.append(f"{bold}[{c.n}]{reset} {title} › {heading}")
        if answer.lang == "en" and c.heading_en:
            lines.append(f"    {dim}《{doc.title}》 › {c.heading}{reset}")
        lines.append(f"    “{c.quote}”")
    if answer.abstained:
        lines.append(wording.CLOSEST_PASSAGES[answer.lang])
        for h in answer.hits[:3]:
            lines.append(f"  [{h.rank}] {place_line(view, h)}")
            lines.append(f"      {h.chunk.text[:120]}…")
    for note in answer.notes:
        lines.append(f"{dim}note: {note}{reset}")
    return lines
