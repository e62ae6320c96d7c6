"""English questions with the curated English renderings against the glossary-only bridge, and with the
renderings also embedded for vector search (`english_dense`), measured in the same run on the development
and held-out sets (retrieval hit@k, extractive key-fact accuracy, answer latency). The third row builds
its own index in a temporary folder (the English vectors cost ~90 s)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from assistant import Assistant
from assistant.evaluate.dataset import load_dataset
from assistant.evaluate.runs import answer_summary, evaluate_answers, evaluate_retrieval, retrieval_summary
from assistant.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = "hit@1 | hit@5 | hit@10 | MRR | key-fact acc | section-true | abstained (unanswerable) | p50 / p95 ms"


def variants(index_dir: Path) -> list[tuple[str, Assistant]]:
    base = Assistant.from_settings()
    with_vectors = Assistant.from_settings(Settings.load(index_dir=index_dir, english_dense=True))
    return [
        ("glossary-only bridge", base.with_settings(use_renderings=False)),
        ("with English renderings (default)", base),
        ("renderings + English vectors (english_dense)", with_vectors),
    ]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        rows = variants(Path(folder))
        for dataset in ("dev.jsonl", "heldout.jsonl"):
            questions, _ = load_dataset(ROOT / "eval" / dataset)
            english = [q for q in questions if q.lang == "en"]
            print(f"\n| English questions, {dataset} | {COLUMNS} |")
            print("| --- " * 9 + "|")
            for label, assistant in rows:
                a = answer_summary(evaluate_answers(assistant, english))["en"]  # first: latency without warm cache
                r = retrieval_summary(evaluate_retrieval(assistant, english))["en"]
                print(
                    f"| {label} | {r['hit@1']:.3f} | {r['hit@5']:.3f} | {r['hit@10']:.3f} | {r['mrr']:.3f} "
                    f"| {a['key_accuracy']:.3f} | {a['section_true']:.3f} | {a['abstained_unanswerable']:.3f} "
                    f"| {a['p50_ms']:.0f} / {a['p95_ms']:.0f} |"
                )


if __name__ == "__main__":
    main()
