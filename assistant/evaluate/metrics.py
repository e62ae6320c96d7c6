"""Evaluation metrics, one small function each (retrieval, answer keys, text overlap, latency)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def first_relevant_rank(passages: Sequence[str], evidence: Sequence[str]) -> int | None:
    """1-based rank of the first passage that contains any evidence string; None if none does."""
    for rank, text in enumerate(passages, 1):
        if any(e and e in text for e in evidence):
            return rank
    return None


def hit_at_k(rank: int | None, k: int) -> float:
    return 1.0 if rank is not None and rank <= k else 0.0


def reciprocal_rank(rank: int | None) -> float:
    return 1.0 / rank if rank else 0.0


def key_fact_accuracy(answer: str, answer_keys: Sequence[Sequence[str]]) -> float:
    """1.0 when every key fact appears in the answer in at least one of its accepted forms."""
    if not answer_keys:
        return 1.0
    folded = fold(answer)
    return 1.0 if all(any(fold(form) in folded for form in forms) for forms in answer_keys) else 0.0


def fold(text: str) -> str:
    """Case, width and spacing differences do not count (‘３５％’ = ‘35%’, ‘3.5 Billion’ = ‘3.5 billion’)."""
    import unicodedata

    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"\s+", " ", text).replace(",", "")


def char_f1(prediction: str, reference: str) -> float:
    """Character-level F1 (Chinese): multiset overlap of non-space, non-punctuation characters."""
    pred = Counter(c for c in fold(prediction) if c.isalnum())
    ref = Counter(c for c in fold(reference) if c.isalnum())
    return _f1(pred, ref)


def token_f1(prediction: str, reference: str) -> float:
    """Word-level F1 (English)."""
    pred = Counter(re.findall(r"[a-z0-9.%]+", fold(prediction)))
    ref = Counter(re.findall(r"[a-z0-9.%]+", fold(reference)))
    return _f1(pred, ref)


def _f1(pred: Counter, ref: Counter) -> float:
    overlap = sum((pred & ref).values())
    if not pred or not ref or not overlap:
        return 0.0
    precision, recall = overlap / sum(pred.values()), overlap / sum(ref.values())
    return 2 * precision * recall / (precision + recall)


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else float("nan")


def mean_of(values: Sequence[float | None]) -> float:
    """The mean of the values that apply (not None); NaN when none does."""
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else float("nan")


def summarise(
    records: Sequence[Mapping[str, Any]], key: str, metrics: Sequence[str], latency: str = "latency_ms"
) -> dict[str, dict[str, float]]:
    """Per group of `record[key]` (in order of first appearance) and for "all": n, the mean of each metric
    over the records it applies to (`record["metrics"][name]` not None), and latency p50 / p95 in ms.
    The one aggregation behind `planqa eval`, its quick tables and the benchmarks."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        groups.setdefault(record[key], []).append(record)
    groups["all"] = list(records)
    out = {}
    for name, rows in groups.items():
        summary: dict[str, float] = {"n": len(rows)}
        for metric in metrics:
            summary[metric] = mean_of([r["metrics"][metric] for r in rows])
        latencies = [r["metrics"][latency] for r in rows]
        summary["p50_ms"], summary["p95_ms"] = percentile(latencies, 50), percentile(latencies, 95)
        out[name] = summary
    return out
