"""English questions with the curated English renderings against the glossary-only bridge, measured in
the same run on the development set (retrieval hit@k and extractive key-fact accuracy)."""

from __future__ import annotations

from pathlib import Path

from assistant import Assistant
from assistant.dataset import load_dataset
from assistant.evaluation import answer_summary, evaluate_answers, evaluate_retrieval, retrieval_summary

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    questions, _ = load_dataset(ROOT / "eval" / "dev.jsonl")
    english = [q for q in questions if q.lang == "en"]
    with_renderings = Assistant.from_settings()
    columns = "hit@1 | hit@5 | hit@10 | MRR | key-fact acc | section-true | abstained (unanswerable)"
    print(f"| English dev questions | {columns} |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, use in (("glossary-only bridge", False), ("with English renderings", True)):
        assistant = Assistant(
            with_renderings.settings.with_(use_renderings=use),
            with_renderings.index,
            with_renderings.embedder,
            with_renderings.curation,
            with_renderings.build_report,
        )
        r = retrieval_summary(evaluate_retrieval(assistant, english))["en"]
        a = answer_summary(evaluate_answers(assistant, english))["en"]
        print(
            f"| {label} | {r['hit@1']:.3f} | {r['hit@5']:.3f} | {r['hit@10']:.3f} | {r['mrr']:.3f} "
            f"| {a['key_accuracy']:.3f} | {a['section_true']:.3f} | {a['abstained_unanswerable']:.3f} |"
        )


if __name__ == "__main__":
    main()
