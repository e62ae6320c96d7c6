"""Retrieval benchmark on the development set: planqa's hybrid retrieval against the naive pipeline
(LangChain character splitter + the same embedder + FAISS), measured in the same run. Prints tables."""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from assistant import Assistant
from assistant.evaluate.dataset import load_dataset
from assistant.evaluate.metrics import first_relevant_rank, summarise
from assistant.evaluate.runs import (
    RETRIEVAL_METRICS,
    evaluate_retrieval,
    format_summary,
    rank_metrics,
    retrieval_summary,
)

ROOT = Path(__file__).resolve().parent.parent


def naive_baseline(assistant: Assistant, questions, depth: int = 10) -> dict[str, dict[str, float]]:
    import faiss
    from langchain_text_splitters import CharacterTextSplitter

    from assistant.ingest.files import corpus_files, read_plan_file

    splitter = CharacterTextSplitter(separator="\n", chunk_size=500, chunk_overlap=50)
    chunks = [
        c for path in corpus_files(assistant.settings.corpus_dir) for c in splitter.split_text(read_plan_file(path))
    ]
    started = time.perf_counter()
    vectors = assistant.embedder.embed_passages(chunks)
    build_s = time.perf_counter() - started
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    records = []
    for q in questions:
        started = time.perf_counter()
        _, ids = index.search(assistant.embedder.embed_queries([q.question]), depth)
        ms = (time.perf_counter() - started) * 1000
        rank = first_relevant_rank([chunks[i] for i in ids[0]], q.evidence)
        records.append({"lang": q.lang, "metrics": {**rank_metrics(rank), "latency_ms": ms}})
    print(f"(naive baseline: {len(chunks)} character-split chunks, embedded in {build_s:.0f} s)")
    return summarise(records, "lang", RETRIEVAL_METRICS)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", type=Path, default=ROOT / "eval" / "dev.jsonl")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    questions, _ = load_dataset(args.dataset)
    answerable = [q for q in questions if q.answerable]
    started = time.perf_counter()
    assistant = Assistant.from_settings()
    assistant.search("预热 warm-up")  # first load of jieba, BM25 and the embedder is not counted
    load_s = time.perf_counter() - started
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results = evaluate_retrieval(assistant, answerable)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    index_mb = sum(p.stat().st_size for p in assistant.view.folder.iterdir()) / 2**20
    print("planqa hybrid retrieval (warm):")
    print(format_summary(retrieval_summary(results)))
    print(
        f"\nload {load_s:.1f} s · peak RSS {rss_loaded:.0f} MB after load, {rss_after:.0f} MB after the run"
        f" · index {index_mb:.1f} MB"
    )
    if not args.no_baseline:
        print("\nnaive baseline (character splitter + same embedder + FAISS):")
        print(format_summary(naive_baseline(assistant, answerable)))


if __name__ == "__main__":
    main()
