"""Citations and the check every answer passes: each [n] names a passage that was retrieved and shown,
and the figures and names in the sentence it ends appear in that passage (or its English rendering)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.index.view import IndexView
from assistant.models import Citation, Hit

MARKER_RE = re.compile(r"\[(\d{1,2})\]")
NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
NAME_RE = re.compile(r"《([^》]{2,40})》|“([^”]{2,20})”")
CLAIM_RE = re.compile(r"[^\[]*?(?:\[\d{1,2}\]\s*)+|[^\[]+$", re.S)
MARKERS_AFTER_STOP_RE = re.compile(r"([。！？!?.])((?:\s*\[\d{1,2}\])+)")


@dataclass(frozen=True)
class CheckProblem:
    marker: int | None
    claim: str
    reason: str


def claims(text: str) -> list[tuple[str, list[int]]]:
    """The answer cut into claims: a run of text and the citation numbers that end it ("…。[1]" and
    "…[1]。" both attach [1] to the sentence before it)."""
    text = MARKERS_AFTER_STOP_RE.sub(r"\2\1", text)
    out = []
    for m in CLAIM_RE.finditer(text):
        piece = m.group(0)
        claim = MARKER_RE.sub("", piece).strip().lstrip("。！？!?.,，;； ").strip()
        if claim:
            out.append((claim, [int(n) for n in MARKER_RE.findall(piece)]))
    return out


def check_answer(text: str, cited: list[Hit], renderings: list[str]) -> list[CheckProblem]:
    """Problems with an answer's citations; empty when every claim is backed by the passage it cites.
    `renderings[i]` is the English rendering of `cited[i]` ('' when there is none)."""
    problems = []
    for claim, markers in claims(text):
        for n in markers:
            if not 1 <= n <= len(cited):
                problems.append(CheckProblem(n, claim, f"[{n}] names no retrieved passage"))
        if not markers or any(not 1 <= n <= len(cited) for n in markers):
            continue
        support = " ".join(cited[n - 1].chunk.text + " " + renderings[n - 1] for n in markers)
        problems.extend(unsupported(claim, markers, support))
    return problems


def unsupported(claim: str, markers: list[int], support: str) -> list[CheckProblem]:
    problems = []
    figures = {n.replace(",", "") for n in NUMBER_RE.findall(support)}
    for number in NUMBER_RE.findall(claim):
        if number.replace(",", "") not in figures:
            problems.append(CheckProblem(markers[0], claim, f"the figure {number} is not in the cited passage"))
    for m in NAME_RE.finditer(claim):
        name = m.group(1) or m.group(2)
        if name not in support:
            problems.append(CheckProblem(markers[0], claim, f"the name {name} is not in the cited passage"))
    return problems


def make_citations(cited: list[Hit], quotes: list[str], view: IndexView) -> list[Citation]:
    return [
        Citation(
            n=i,
            chunk=hit.chunk,
            doc_title=view.document(hit.chunk.doc_id).title,
            heading=hit.chunk.path.label(),
            heading_en=view.english_heading(hit.chunk.id),
            quote=quote,
        )
        for i, (hit, quote) in enumerate(zip(cited, quotes), 1)
    ]
