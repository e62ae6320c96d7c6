"""English questions on plans without curated English (what any plan a user adds looks like) and with it,
with and without a translator: answered in English, retrieval hit@k, key-fact accuracy, abstention, and
answer time on the first ask (nothing rendered or cached yet) and on the same question asked again.

Each case works on a temporary copy of the corpus: whole (curated), or the plan files alone (no
`translations/`, glossary or `outline_en.json`); drafts made while answering go there, never into
`corpus/`. Run on an idle machine: a local model's speed halves when another process takes a core.

    python benchmarks/bench_english_translation.py --dataset eval/heldout.jsonl --cases uncurated-llamacpp
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from assistant import Assistant
from assistant.evaluate.dataset import load_dataset
from assistant.evaluate.metrics import percentile
from assistant.evaluate.runs import answer_summary, evaluate_answers, evaluate_retrieval, retrieval_summary
from assistant.settings import PROJECT_ROOT, Settings

log = logging.getLogger("bench_english_translation")
PLAN_SUFFIXES = (".txt", ".pdf")
# name -> (curated corpus?, translator)
CASES: dict[str, tuple[bool, str]] = {
    "uncurated-llamacpp": (False, "llamacpp"),
    "uncurated-none": (False, "none"),
    "curated-none": (True, "none"),
    "curated-llamacpp": (True, "llamacpp"),
}


def plans_only(corpus: Path, target: Path) -> Path:
    """A copy of the corpus's plan files, without any curated file."""
    target.mkdir(parents=True)
    for path in corpus.iterdir():
        if path.is_file() and path.suffix.lower() in PLAN_SUFFIXES:
            shutil.copy2(path, target / path.name)
    return target


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def run_case(name: str, settings: Settings, dataset: Path, limit: int | None) -> dict:
    questions, _ = load_dataset(dataset)
    english = [q for q in questions if q.lang == "en"][:limit]
    assistant = Assistant.from_settings(settings)
    started = time.perf_counter()
    answers = evaluate_answers(assistant, english)  # first: the first ask of each question
    first_wall = time.perf_counter() - started
    again = [timed(lambda q=q: assistant.ask(q.question)) for q in english]
    retrieval = retrieval_summary(evaluate_retrieval(assistant, english))["en"]
    summary = answer_summary(answers)["en"]
    return {
        "case": name,
        "dataset": dataset.name,
        "n": len(english),
        "answered_in_english": summary["language_match"],
        "hit@1": retrieval["hit@1"],
        "hit@5": retrieval["hit@5"],
        "key_fact_accuracy": summary["key_accuracy"],
        "unanswerable_abstained": summary["abstained_unanswerable"],
        "false_abstention": summary["false_abstention"],
        "first_p50_ms": summary["p50_ms"],
        "first_p95_ms": summary["p95_ms"],
        "again_p50_ms": percentile(again, 50),
        "again_p95_ms": percentile(again, 95),
        "first_pass_minutes": first_wall / 60,
        "load_average": os.getloadavg()[0],
        "answers": [
            {"id": r.question.id, "text": r.answer.text, "notes": list(r.answer.notes), "ms": r.answer.timings_ms}
            for r in answers
        ],
    }


def settings_for(case: str, work: Path) -> Settings:
    """A copy of the corpus (curated, or the plans alone) in `work`: drafts never touch `corpus/`."""
    curated, translator = CASES[case]
    source, corpus = PROJECT_ROOT / "corpus", work / case / "corpus"
    if curated:
        shutil.copytree(source, corpus)
    else:
        plans_only(source, corpus)
    return Settings.load(corpus_dir=corpus, index_dir=work / case / "index", translator=translator)


ROW = (
    "| {case} | {dataset} | {n} | {answered_in_english:.2f} | {hit@5:.3f} | {key_fact_accuracy:.3f} "
    "| {unanswerable_abstained:.2f} | {false_abstention:.3f} | {first_p50_ms:.0f} / {first_p95_ms:.0f} "
    "| {again_p50_ms:.0f} / {again_p95_ms:.0f} | {load_average:.1f} |"
)
HEAD = (
    "| case | set | n | answered in English | hit@5 | key-fact acc | unanswerable abstained | false abstention "
    "| first ask p50 / p95 ms | asked again p50 / p95 ms | load avg |\n" + "| --- " * 11 + "|"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, action="append", help="JSONL question sets (default: held-out)")
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--limit", type=int, help="at most this many English questions per set")
    parser.add_argument("--out", type=Path, help="write the results here as JSON")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    datasets = args.dataset or [PROJECT_ROOT / "eval" / "heldout.jsonl"]
    results = []
    with tempfile.TemporaryDirectory(prefix="planqa-bench-english-") as folder:
        for case in args.cases:
            for dataset in datasets:
                work = Path(folder) / dataset.stem  # each set starts with nothing rendered or cached
                results.append(run_case(case, settings_for(case, work), dataset, args.limit))
                print(ROW.format(**results[-1]), flush=True)
    print(HEAD)
    for r in results:
        print(ROW.format(**r))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
