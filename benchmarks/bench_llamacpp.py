"""llamacpp mode on a sample of the development set: quality figures and seconds per answer on this
machine. Needs `pip install -e '.[local]'` and `planqa model fetch` (or PLANQA_GGUF_PATH)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from assistant import Assistant
from assistant.evaluate.dataset import load_dataset
from assistant.evaluate.runs import answer_summary, format_answer_summary, score_answer

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-language", type=int, default=8, help="questions per language")
    args = parser.parse_args()
    questions, _ = load_dataset(ROOT / "eval" / "dev.jsonl")
    sample = [q for lang in ("zh", "en") for q in [q for q in questions if q.lang == lang][: args.per_language]]
    assistant = Assistant.from_settings()
    started = time.perf_counter()
    assistant.generator("llamacpp")
    print(f"model load {time.perf_counter() - started:.1f} s")
    results, modes = [], []
    for q in sample:
        answer = assistant.ask(q.question, mode="llamacpp")
        results.append(score_answer(q, answer))
        modes.append(answer.mode)
        print(f"{q.id}: {answer.timings_ms['total'] / 1000:.1f} s, answered by {answer.mode}", flush=True)
    print(format_answer_summary(answer_summary(results)).replace(" ms |", " ms |"))
    kept = sum(m == "llamacpp" for m in modes)
    print(f"\n{kept} of {len(modes)} LLM answers passed the citation check; the rest fell back to extractive")


if __name__ == "__main__":
    main()
