"""Runs a dataset through the assistant and scores each question: retrieval (hit@k, MRR) and answers
(key facts, citations, abstention); the quick tables of `planqa eval retrieval | answers`."""

from __future__ import annotations

import time
from dataclasses import dataclass

from assistant.evaluate.dataset import Question
from assistant.evaluate.metrics import first_relevant_rank, hit_at_k, key_fact_accuracy, reciprocal_rank, summarise
from assistant.models import Answer, SectionPath
from assistant.pipeline import Assistant
from assistant.text import detect_language

RETRIEVAL_METRICS = ("hit@1", "hit@5", "hit@10", "mrr")
ANSWER_METRICS = (
    "key_accuracy",
    "language_match",
    "evidence_cited",
    "section_true",
    "abstained_unanswerable",
    "false_abstention",
)


@dataclass(frozen=True)
class RetrievalResult:
    question: Question
    rank: int | None
    places: tuple[str, ...]  # where the top passages sit, for the misses table
    ms: float

    def record(self) -> dict:
        return {"lang": self.question.lang, "metrics": {**rank_metrics(self.rank), "latency_ms": self.ms}}


def rank_metrics(rank: int | None) -> dict[str, float]:
    """hit@1/5/10 and reciprocal rank of the first relevant passage's rank (None: not retrieved)."""
    return {
        "hit@1": hit_at_k(rank, 1),
        "hit@5": hit_at_k(rank, 5),
        "hit@10": hit_at_k(rank, 10),
        "mrr": reciprocal_rank(rank),
    }


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
    return summarise([r.record() for r in results], "lang", RETRIEVAL_METRICS)


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


@dataclass(frozen=True)
class AnswerResult:
    question: Question
    answer: Answer
    key_accuracy: float | None  # None for unanswerable questions
    language_match: bool
    evidence_cited: bool | None
    section_true: bool | None  # the citation holding the evidence names the gold place

    def record(self) -> dict:
        answerable, abstained = self.question.answerable, float(self.answer.abstained)
        metrics = {
            "key_accuracy": self.key_accuracy,
            "language_match": float(self.language_match),
            "evidence_cited": float(bool(self.evidence_cited)) if answerable else None,
            "section_true": None if self.section_true is None else float(self.section_true),
            "abstained_unanswerable": None if answerable else abstained,
            "false_abstention": abstained if answerable else None,
            "latency_ms": self.answer.timings_ms["total"],
        }
        return {"lang": self.question.lang, "type": self.question.type, "metrics": metrics}


def evaluate_answers(
    assistant: Assistant, questions: list[Question], mode: str | None = None, progress: bool = False
) -> list[AnswerResult]:
    from tqdm import tqdm

    results = []
    for q in tqdm(questions, desc="answers", disable=not progress):
        answer = assistant.ask(q.question, mode)
        results.append(score_answer(q, answer))
    return results


def score_answer(q: Question, answer: Answer) -> AnswerResult:
    lang_ok = detect_language(answer.text) == q.lang
    if not q.answerable:
        return AnswerResult(q, answer, None, lang_ok, None, None)
    holding = [c for c in answer.citations if any(e in c.chunk.text for e in q.evidence)]
    section_true = None
    if holding and q.chapter is not None:
        section_true = any(gold_place(q, c.chunk.path) for c in holding)
    return AnswerResult(q, answer, key_fact_accuracy(answer.text, q.answer_keys), lang_ok, bool(holding), section_true)


def gold_place(q: Question, path: SectionPath) -> bool:
    if q.box is not None:
        return path.box == q.box
    if q.section is None:
        return path.chapter == q.chapter
    return (path.chapter, path.section) == (q.chapter, q.section)


def answer_summary(results: list[AnswerResult]) -> dict[str, dict[str, float]]:
    return summarise([r.record() for r in results], "lang", ANSWER_METRICS)


def format_answer_summary(summary: dict[str, dict[str, float]]) -> str:
    head = (
        "| lang | n | key-fact acc | language match | evidence cited | section-true citation | "
        "unanswerable abstained | false abstention | p50 ms | p95 ms |"
    )
    lines = [head, "|" + " --- |" * 10]
    for name, s in summary.items():
        lines.append(
            f"| {name} | {s['n']} | {s['key_accuracy']:.3f} | {s['language_match']:.3f} | {s['evidence_cited']:.3f} "
            f"| {s['section_true']:.3f} | {s['abstained_unanswerable']:.3f} | {s['false_abstention']:.3f} "
            f"| {s['p50_ms']:.1f} | {s['p95_ms']:.1f} |"
        )
    return "\n".join(lines)
