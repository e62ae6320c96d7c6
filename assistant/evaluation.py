"""Scores a dataset against the assistant: retrieval (hit@k, MRR) now; answers in `planqa eval`."""

from __future__ import annotations

import time
from dataclasses import dataclass

from assistant.dataset import Question
from assistant.metrics import first_relevant_rank, hit_at_k, percentile, reciprocal_rank
from assistant.pipeline import Assistant


@dataclass(frozen=True)
class RetrievalResult:
    question: Question
    rank: int | None
    places: tuple[str, ...]  # where the top passages sit, for the misses table
    ms: float


def evaluate_retrieval(assistant: Assistant, questions: list[Question], depth: int = 10) -> list[RetrievalResult]:
    """Retrieval on the answerable questions: the rank of the first passage holding an evidence string."""
    results = []
    for q in questions:
        if not q.answerable:
            continue
        started = time.perf_counter()
        hits = assistant.search(q.question, top_k=depth)
        ms = (time.perf_counter() - started) * 1000
        rank = first_relevant_rank([h.chunk.text for h in hits], q.evidence)
        places = tuple(h.chunk.path.label() for h in hits[:3])
        results.append(RetrievalResult(q, rank, places, ms))
    return results


def retrieval_summary(results: list[RetrievalResult]) -> dict[str, dict[str, float]]:
    """hit@1/5/10, MRR, latency by language and overall."""
    groups = {
        "zh": [r for r in results if r.question.lang == "zh"],
        "en": [r for r in results if r.question.lang == "en"],
    }
    groups["all"] = results
    summary = {}
    for name, rows in groups.items():
        if not rows:
            continue
        n = len(rows)
        summary[name] = {
            "n": n,
            "hit@1": sum(hit_at_k(r.rank, 1) for r in rows) / n,
            "hit@5": sum(hit_at_k(r.rank, 5) for r in rows) / n,
            "hit@10": sum(hit_at_k(r.rank, 10) for r in rows) / n,
            "mrr": sum(reciprocal_rank(r.rank) for r in rows) / n,
            "p50_ms": percentile([r.ms for r in rows], 50),
            "p95_ms": percentile([r.ms for r in rows], 95),
        }
    return summary


def format_summary(summary: dict[str, dict[str, float]]) -> str:
    lines = [
        "| lang | n | hit@1 | hit@5 | hit@10 | MRR | p50 ms | p95 ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, s in summary.items():
        lines.append(
            f"| {name} | {s['n']} | {s['hit@1']:.3f} | {s['hit@5']:.3f} | {s['hit@10']:.3f} | {s['mrr']:.3f} "
            f"| {s['p50_ms']:.1f} | {s['p95_ms']:.1f} |"
        )
    return "\n".join(lines)


def format_misses(results: list[RetrievalResult], k: int = 5) -> str:
    lines = ["| id | rank | question | top places |", "| --- | --- | --- | --- |"]
    for r in results:
        if r.rank is None or r.rank > k:
            lines.append(f"| {r.question.id} | {r.rank or '-'} | {r.question.question[:60]} | {' / '.join(r.places)} |")
    return "\n".join(lines)
