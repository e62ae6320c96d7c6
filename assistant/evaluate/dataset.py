"""Evaluation datasets in the project's JSON-lines format, validated line by line."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# "unanswerable": about the plans' subjects, but they do not say; "offtopic": small talk, arithmetic, writing
# requests, questions about the assistant, instructions aimed at it, places and subjects the plans do not cover.
TYPES = {"number", "fact", "list", "topic", "cross", "unanswerable", "offtopic"}
UNANSWERABLE_TYPES = frozenset({"unanswerable", "offtopic"})


@dataclass(frozen=True)
class Question:
    id: str
    lang: str
    question: str
    doc_id: str | None
    chapter: int | None
    section: int | None
    box: int | None
    evidence: tuple[str, ...]
    answer_keys: tuple[tuple[str, ...], ...]
    type: str

    @property
    def answerable(self) -> bool:
        return self.type not in UNANSWERABLE_TYPES


@dataclass(frozen=True)
class DatasetProblem:
    line: int
    reason: str


def load_dataset(path: Path) -> tuple[list[Question], list[DatasetProblem]]:
    """Questions that fit the schema, and a problem per line that does not (those lines are skipped)."""
    questions, problems = [], []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            questions.append(parse_question(json.loads(line)))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            problems.append(DatasetProblem(line_no, f"{type(exc).__name__}: {exc}"))
            log.warning("%s:%d skipped: %s", path, line_no, exc)
    return questions, problems


def parse_question(record: dict) -> Question:
    if record["lang"] not in {"zh", "en"}:
        raise ValueError(f"lang must be zh or en, not {record['lang']!r}")
    if record["type"] not in TYPES:
        raise ValueError(f"type must be one of {sorted(TYPES)}, not {record['type']!r}")
    if not str(record["question"]).strip():
        raise ValueError("empty question")
    return Question(
        id=str(record["id"]),
        lang=record["lang"],
        question=str(record["question"]),
        doc_id=record.get("doc_id"),
        chapter=optional_int(record.get("chapter")),
        section=optional_int(record.get("section")),
        box=optional_int(record.get("box")),
        evidence=tuple(str(e) for e in record["evidence"]),
        answer_keys=tuple(tuple(str(f) for f in forms) for forms in record["answer_keys"]),
        type=record["type"],
    )


def optional_int(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer or null, got {value!r}")
    return value
