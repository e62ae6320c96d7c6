"""Index build benchmark: cold build, start with an unchanged corpus, peak memory. Prints a table."""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLANQA = [sys.executable, "-m", "assistant.interfaces.cli"]


def timed(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, check=True, cwd=ROOT, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    index = Path(tempfile.mkdtemp(prefix="planqa-bench-"))
    try:
        flags = ["--index", str(index)]
        cold = timed([*PLANQA, *flags, "index"])
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        warm = [timed([*PLANQA, *flags, "index"]) for _ in range(3)]
        docs = subprocess.run([*PLANQA, *flags, "docs", "--json"], check=True, cwd=ROOT, capture_output=True, text=True)
        manifest = json.loads((index / "current" / "manifest.json").read_text(encoding="utf-8"))
    finally:
        shutil.rmtree(index, ignore_errors=True)

    summary = json.loads(docs.stdout)
    print("| figure | value |")
    print("| --- | --- |")
    print(f"| documents | {len(summary)} |")
    print(f"| passages | {sum(d['passages'] for d in summary)} |")
    print(f"| cold build (s) | {cold:.1f} |")
    print(f"| of which inside the embedder (s) | {manifest['embed_seconds']:.1f} |")
    print(f"| characters embedded | {manifest['embedded_chars']:,} |")
    print(f"| start, unchanged corpus (s, best of 3) | {min(warm):.2f} |")
    print(f"| peak memory of the build (MB RSS) | {peak_mb:.0f} |")


if __name__ == "__main__":
    main()
