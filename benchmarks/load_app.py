"""Load test of the web app: N simulated users asking dev-set questions for S seconds through Gradio's
HTTP API (gradio_client), against `planqa serve` on loopback. Prints requests, errors, latency and the
server's peak memory. Bounded in users, time and address (127.0.0.1 only)."""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, seconds: float = 300) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(1)
    raise SystemExit(f"the app did not come up at {url}")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def user(url: str, questions: list[str], stop: float, results: list, offset: int) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False)
    i = offset
    while time.time() < stop:
        question = questions[i % len(questions)]
        started = time.perf_counter()
        try:
            answer = client.predict(question, api_name="/ask")
            ok = bool(answer.get("answer"))
        except Exception as exc:  # any failure counts as an error of the run
            ok = False
            print(f"error: {exc}", file=sys.stderr)
        results.append((ok, (time.perf_counter() - started) * 1000))
        i += 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    questions = [json.loads(line)["question"] for line in (ROOT / "eval" / "dev.jsonl").read_text().splitlines()]
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen(
        [sys.executable, "-m", "assistant.interfaces.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(url)
        results: list[tuple[bool, float]] = []
        stop = time.time() + args.seconds
        threads = [
            threading.Thread(target=user, args=(url, questions, stop, results, i * 5)) for i in range(args.users)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rss = peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    latencies = np.array([ms for _, ms in results])
    errors = sum(1 for ok, _ in results if not ok)
    print("| figure | value |")
    print("| --- | --- |")
    print(f"| users × seconds | {args.users} × {args.seconds:.0f} |")
    print(f"| requests | {len(results)} |")
    print(f"| errors | {errors} |")
    print(f"| throughput (req/s) | {len(results) / args.seconds:.1f} |")
    print(f"| latency p50 / p95 (ms) | {np.percentile(latencies, 50):.0f} / {np.percentile(latencies, 95):.0f} |")
    print(f"| server peak RSS (MB) | {rss:.0f} |")


if __name__ == "__main__":
    main()
