"""Retrieval settings sweep on the dev sets only (never a held-out set): hit@1, hit@5 and MRR by language for
every combination of the values given, searched in one process over one index. Prints one line each.

    python benchmarks/sweep_retrieval.py rrf_k=60,15,5 english_weight=1.0,1.5
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
from pathlib import Path

from assistant import Assistant
from assistant.evaluate.dataset import load_dataset
from assistant.evaluate.runs import evaluate_retrieval, retrieval_summary
from assistant.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEV_SETS = ("dev", "dev_en", "dev_more", "topics_dev")


def setting_value(current: object, text: str) -> object:
    """`text` as a value of the setting's own type (bool("false") would be True)."""
    if isinstance(current, bool):
        return text.strip().lower() in ("1", "true", "yes", "on")
    return type(current)(text)


def parse_grid(specs: list[str], base: Settings) -> list[dict]:
    """`name=v1,v2` for each setting -> every combination, each value of the setting's own type."""
    axes = []
    for spec in specs:
        name, _, values = spec.partition("=")
        axes.append([(name, setting_value(getattr(base, name), v)) for v in values.split(",")])
    return [dict(combination) for combination in itertools.product(*axes)]


def pooled(assistant: Assistant, question_sets: dict[str, list]) -> dict[str, dict[str, float]]:
    """hit@1 / hit@5 / MRR per language over all the sets, each question counted once."""
    totals: dict[str, dict[str, float]] = {}
    for questions in question_sets.values():
        for lang, s in retrieval_summary(evaluate_retrieval(assistant, questions)).items():
            if lang == "all":
                continue
            t = totals.setdefault(lang, {"n": 0, "hit@1": 0.0, "hit@5": 0.0, "mrr": 0.0})
            t["n"] += s["n"]
            for metric in ("hit@1", "hit@5", "mrr"):
                t[metric] += s[metric] * s["n"]
    return {lang: {k: (v / t["n"] if k != "n" else v) for k, v in t.items()} for lang, t in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("grid", nargs="+", help="setting=value1,value2,…")
    parser.add_argument("--sets", default=",".join(DEV_SETS), help="dev sets in eval/, comma-separated")
    args = parser.parse_args()
    assistant = Assistant.from_settings(Settings.load(translator="none", answer_cache_size=0))
    base = assistant.retriever.settings
    question_sets = {name: load_dataset(ROOT / "eval" / f"{name}.jsonl")[0] for name in args.sets.split(",")}
    for overrides in parse_grid(args.grid, base):
        assistant.retriever.settings = dataclasses.replace(base, **overrides)
        figures = pooled(assistant, question_sets)
        line = "  ".join(
            f"{lang} n={int(f['n'])} hit@1 {f['hit@1']:.3f} hit@5 {f['hit@5']:.3f} MRR {f['mrr']:.3f}"
            for lang, f in figures.items()
        )
        print(f"{overrides}  {line}", flush=True)


if __name__ == "__main__":
    main()
