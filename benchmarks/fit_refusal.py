"""Fits the refusal model (assistant/answer/refusal.py) on labelled questions and writes its weights:
answerable questions of the dev set against the off-topic dev set, one logistic regression per language
(and, with a translator, one for English questions read through their Chinese translation), with the
threshold that keeps false refusals on the answerable ones at most `MAX_FALSE_REFUSAL`. Prints
how it does on the held-out sets, which are never fitted on.

    python benchmarks/fit_refusal.py            # writes assistant/answer/refusal_weights.json
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import time
from pathlib import Path

import numpy as np

from assistant import Assistant
from assistant.answer.refusal import (
    EMBEDDING_FEATURES,
    FEATURES,
    TRANSLATED,
    WEIGHTS_FILE,
    Exemplars,
    RefusalModel,
    Support,
)
from assistant.evaluate.dataset import Question, load_dataset

ROOT = Path(__file__).resolve().parent.parent
FIT_ON = [ROOT / "eval" / "dev.jsonl", ROOT / "eval" / "offtopic_dev.jsonl"]
HELD_OUT = [ROOT / "eval" / "heldout.jsonl", ROOT / "eval" / "offtopic_heldout.jsonl"]
# At most one answerable dev question in fifty may be refused: the false-abstention budget is 0.05
# for all causes together, and the other checks use some of it.
MAX_FALSE_REFUSAL = 0.02
# L2 penalty on the standardised weights: with ~60 questions a language, it keeps the four weights small
# enough that no single feature decides alone.
L2 = 0.1


Row = tuple[Question, Support, np.ndarray]  # a labelled question, its support, the vector it was read with


def supports(assistant: Assistant, questions: list[Question]) -> list[Row]:
    out = []
    extractive = assistant.generator("extractive")
    for q in questions:
        query = assistant.retriever.prepare(q.question)
        hits = assistant.retriever.search(query, assistant.settings.min_answer_passages)
        support = assistant.support(query, hits, extractive.draft(query, hits))
        out.append((q, support, assistant.support_vector(query)))
    return out


def translated_supports(assistant: Assistant, questions: list[Question]) -> list[Row]:
    """The English questions' support read as the pipeline reads it for plans without English: their
    Chinese translation against the Chinese (questions whose translation was rejected are left out)."""
    out = []
    extractive = assistant.generator("extractive")
    for q in questions:
        query = assistant.prepare(q.question)
        if q.lang != "en" or not query.translation:
            continue
        hits = assistant.retriever.search(query, assistant.settings.min_answer_passages)
        support = assistant.support(query, hits, extractive.draft(query, hits), lang="zh")
        out.append((q, support, assistant.support_vector(query, lang="zh")))
    return out


def exemplar_questions(paths: list[Path]) -> dict[str, list[str]]:
    """The fitted-on questions by label: off-topic, and answerable (unanswerable ones are about the plans,
    and other checks judge them)."""
    questions = [q for p in paths for q in load_dataset(p)[0]]
    return {
        "offtopic": [q.question for q in questions if q.type == "offtopic"],
        "answerable": [q.question for q in questions if q.answerable],
    }


def with_margins(rows: list[Row], texts: dict[str, list[str]], exemplars: Exemplars) -> list[Row]:
    """Each row's support with its exemplar margin, the question itself left out of the examples (as a
    new question is in none of them)."""
    out = []
    for q, support, vector in rows:
        leave_out = (
            texts["offtopic"].index(q.question) if q.question in texts["offtopic"] else -1,
            texts["answerable"].index(q.question) if q.question in texts["answerable"] else -1,
        )
        out.append((q, dataclasses.replace(support, exemplar_margin=exemplars.margin(vector, leave_out)), vector))
    return out


def fit_logistic(x: np.ndarray, y: np.ndarray, steps: int = 5000, rate: float = 0.5) -> tuple:
    means, scales = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - means) / scales
    w, b = np.zeros(z.shape[1]), 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(z @ w + b)))
        w -= rate * (z.T @ (p - y) / len(y) + L2 * w)
        b -= rate * float((p - y).mean())
    return means, scales, w, b


def fit_model(rows: list[Row], features: tuple[str, ...]) -> RefusalModel:
    kept = [(q, s) for q, s, _ in rows if q.type != "unanswerable"]  # those are about the plans: other checks
    x = np.array([[getattr(s, f) for f in features] for _, s in kept])
    y = np.array([0.0 if q.type == "offtopic" else 1.0 for q, _ in kept])
    means, scales, w, b = fit_logistic(x, y)
    model = RefusalModel(tuple(means), tuple(scales), tuple(w), b, 0.0, features)
    answerable = sorted(model.probability(s) for q, s in kept if q.type != "offtopic")
    threshold = answerable[int(MAX_FALSE_REFUSAL * len(answerable))]
    return RefusalModel(tuple(means), tuple(scales), tuple(w), b, threshold, features)


def report(name: str, model: RefusalModel, rows: list[Row]) -> dict[str, float]:
    answerable = [s for q, s, _ in rows if q.answerable]
    offtopic = [s for q, s, _ in rows if q.type == "offtopic"]
    false = sum(model.refuses(s) for s in answerable) / max(len(answerable), 1)
    refused = sum(model.refuses(s) for s in offtopic) / max(len(offtopic), 1)
    print(f"  {name:9} false refusals {false:.3f} of {len(answerable)}", end=" · ")
    print(f"off-topic refused {refused:.3f} of {len(offtopic)}")
    return {"false_refusal": round(false, 3), "offtopic_refused": round(refused, 3)}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def support_rows(assistant: Assistant, paths: list[Path]) -> dict[str, list[Row]]:
    """The labelled supports by model: "zh" and "en" read each question in its language; with a translator,
    `TRANSLATED` reads the English questions' translations against the Chinese."""
    questions = [q for p in paths for q in load_dataset(p)[0]]
    rows = supports(assistant, questions)
    groups = {lang: [r for r in rows if r[0].lang == lang] for lang in ("zh", "en")}
    if assistant.translator.configured:
        groups[TRANSLATED] = translated_supports(assistant, questions)
    return groups


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=WEIGHTS_FILE)
    args = parser.parse_args()
    assistant = Assistant.from_settings()
    assistant.__dict__["refusal_exemplars"] = None  # margins are measured below, each question left out
    texts = exemplar_questions(FIT_ON)
    exemplars = Exemplars(*(assistant.embedder.embed_queries(texts[k]) for k in ("offtopic", "answerable")))
    fit_groups = {g: with_margins(r, texts, exemplars) for g, r in support_rows(assistant, FIT_ON).items()}
    held_groups = {g: with_margins(r, texts, exemplars) for g, r in support_rows(assistant, HELD_OUT).items()}
    variants = {"with_similarity": FEATURES, "lexical": tuple(f for f in FEATURES if f not in EMBEDDING_FEATURES)}
    models: dict[str, dict] = {}
    measured: dict[str, dict] = {}
    for variant, features in variants.items():
        models[variant], measured[variant] = {}, {}
        for group, rows in fit_groups.items():
            print(f"{variant} {group}:")
            model = fit_model(rows, features)
            fitted = report("fitted on", model, rows)
            held = report("held-out", model, held_groups[group])
            models[variant][group] = {k: list(v) if isinstance(v, tuple) else v for k, v in model.__dict__.items()}
            measured[variant][group] = {"fitted_on": fitted, "held_out": held}
    translator = assistant.translator.get()
    payload = {
        "fitted": time.strftime("%Y-%m-%d"),
        "embedder": assistant.embedder.name,
        "translator": translator.model if translator is not None else None,
        "fitted_on": {p.name: sha(p) for p in FIT_ON},
        "max_false_refusal": MAX_FALSE_REFUSAL,
        "measured": measured,
        "models": models,
        "exemplars": texts,
    }
    args.out.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"weights -> {args.out}")


if __name__ == "__main__":
    main()
