"""Load test of `planqa serve` (the FastAPI server with the Gradio page mounted): N users asking dev-set
questions on `POST /v1/ask` (extractive) for S seconds, then M users through the Gradio page's API (`/ask`,
over Gradio's HTTP protocol from async httpx: 20 gradio_client users, one thread each, took 1.7 of the 2 cores
themselves and bounded the run at 28 answers/s while the server used 0.2). Prints latency percentiles,
throughput, errors, the server's CPU use and peak memory, against the targets. Loopback only; bounded in
users, time and per-request wait; stops by itself.

    python benchmarks/load_api.py [--users 50] [--seconds 60] [--gradio-users 20] [--gradio-seconds 60]
        [--think MEAN_SECONDS] [--questions dev|all] [--answer-cache-size N] [--index DIR]

`--questions dev` cycles the 96 questions of eval/dev.jsonl, so that after the first round every question is
one asked before (as on a portal, where users ask the same things); `all` shuffles every distinct question of
every eval/*.jsonl set (341 when the README's table was measured), so that most requests in 60 s are first
asks. Answers the server's answer cache gave (`"cached": true`) are counted, and the latencies of the others
are reported apart.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # loopback only: the server is never reachable from elsewhere
# The targets of issue 17.
TARGET_API_P95_MS = 1000
TARGET_GRADIO_P50_MS = 500
TARGET_PEAK_RSS_MB = 600
# A request that takes longer than this counts as an error (and the run still ends on time).
REQUEST_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_until_up(url: str, server: subprocess.Popen, seconds: float) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SystemExit(f"the server did not come up at {url} within {seconds:.0f} s")


def proc_status(pid: int, key: str) -> float:
    """A /proc/PID/status memory figure (VmRSS, VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def pauses(seed: int, mean: float) -> Iterator[float]:
    """A user's think times: uniform on [0, 2 × mean] (mean 0: none), seeded so that runs repeat."""
    rng = random.Random(seed)
    while True:
        yield rng.uniform(0, 2 * mean)


@dataclass
class Phase:
    name: str
    users: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    fresh_ms: list[float] = field(default_factory=list)  # answers computed, not from the answer cache
    errors: list[str] = field(default_factory=list)
    cpu: float = 0.0  # server CPU seconds per wall second during the phase
    client_cpu: float = 0.0  # the same for this process (the simulated users share the machine)
    rss_peak_mb: float = 0.0
    load: tuple[float, ...] = ()

    def row(self) -> str:
        lat = np.array(self.latencies_ms) if self.latencies_ms else np.array([float("nan")])
        p50, p95, p99 = (np.percentile(lat, q) for q in (50, 95, 99))
        done = len(self.latencies_ms)
        fresh = np.array(self.fresh_ms) if self.fresh_ms else np.array([float("nan")])
        return (
            f"| {self.name} | {self.users} × {self.seconds:.0f} s | {done} | {len(self.errors)} | "
            f"{done / self.seconds:.1f} | {p50:.0f} / {p95:.0f} / {p99:.0f} | {len(self.fresh_ms)} | "
            f"{np.percentile(fresh, 50):.0f} / {np.percentile(fresh, 95):.0f} | "
            f"{self.cpu:.2f} | {self.client_cpu:.2f} | "
            f"{self.rss_peak_mb:.0f} | {' '.join(f'{x:.1f}' for x in self.load)} |"
        )


class Monitor:
    """Samples the server's RSS while a phase runs, and its CPU time at both ends."""

    def __init__(self, pid: int, phase: Phase) -> None:
        self.pid, self.phase = pid, phase
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> Monitor:
        self._cpu0, self._t0 = cpu_seconds(self.pid), time.perf_counter()
        self._own0 = sum(os.times()[:2])
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            self.phase.rss_peak_mb = max(self.phase.rss_peak_mb, proc_status(self.pid, "VmRSS"))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        wall = time.perf_counter() - self._t0
        self.phase.cpu = (cpu_seconds(self.pid) - self._cpu0) / wall
        self.phase.client_cpu = (sum(os.times()[:2]) - self._own0) / wall
        self.phase.load = os.getloadavg()


Asker = Callable[[httpx.AsyncClient, str], Awaitable[tuple[str, bool]]]


async def ask_api(client: httpx.AsyncClient, question: str) -> tuple[str, bool]:
    """One `POST /v1/ask`: (error or "", whether the answer came from the answer cache)."""
    response = await client.post("/v1/ask", json={"question": question, "mode": "extractive"})
    if response.status_code != 200 or not response.json().get("answer"):
        return f"HTTP {response.status_code}: {response.text[:200]}", False
    return "", response.json().get("cached") is True


async def ask_page(client: httpx.AsyncClient, question: str) -> tuple[str, bool]:
    """One question through the Gradio page's API (`gr.api` "ask"), over Gradio's HTTP protocol: a POST
    queues the call, a GET streams its events until `complete` or `error`."""
    inputs = [question, "*", "extractive", 10]  # question, document ("*": all), mode, passages
    response = await client.post("/gradio_api/call/ask", json={"data": inputs})
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text[:200]}", False
    event, data = "", ""
    async with client.stream("GET", f"/gradio_api/call/ask/{response.json()['event_id']}") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                data = line.split(":", 1)[1].strip()
                break
    if event != "complete":
        return f"page API {event or 'no event'}: {data[:200]}", False
    answer = json.loads(data)[0]
    return ("" if answer.get("answer") else "empty answer"), answer.get("cached") is True


async def run_users(url: str, ask: Asker, questions: list[str], phase: Phase, think: float) -> None:
    """`phase.users` concurrent users in one event loop (a thread each would spend this 2-core machine's
    CPU on the client, not the server); each asks, waits for the answer, thinks, asks the next."""
    stop = time.time() + phase.seconds
    limits = httpx.Limits(max_connections=phase.users * 2, max_keepalive_connections=phase.users * 2)
    async with httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT_S, limits=limits) as client:

        async def user(offset: int) -> None:
            pause = pauses(offset, think)
            await asyncio.sleep(next(pause) / 2)  # users arrive spread out, not all at once
            i = offset
            while time.time() < stop:
                started = time.perf_counter()
                try:
                    error, cached = await ask(client, questions[i % len(questions)])
                except (httpx.HTTPError, ValueError, KeyError) as exc:
                    error, cached = f"{type(exc).__name__}: {exc}", False
                phase.latencies_ms.append((time.perf_counter() - started) * 1000)
                if not cached:
                    phase.fresh_ms.append(phase.latencies_ms[-1])
                if error:
                    phase.errors.append(error)
                i += 1
                await asyncio.sleep(next(pause))

        await asyncio.gather(*(user(u * 5) for u in range(phase.users)))


def load_questions(pool: str) -> list[str]:
    """The questions users ask, in the order they cycle through them (see the module's docstring)."""
    files = [ROOT / "eval" / "dev.jsonl"] if pool == "dev" else sorted((ROOT / "eval").glob("*.jsonl"))
    questions = [json.loads(line)["question"] for f in files for line in f.read_text().splitlines() if line.strip()]
    questions = list(dict.fromkeys(questions))
    if pool == "all":
        random.Random(0).shuffle(questions)
    return questions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--gradio-users", type=int, default=20)
    parser.add_argument("--gradio-seconds", type=float, default=60)
    parser.add_argument(
        "--think", type=float, default=0.0, help="mean seconds a user reads an answer before the next question"
    )
    parser.add_argument("--questions", choices=["dev", "all"], default="dev", help="see the module's docstring")
    parser.add_argument("--answer-cache-size", type=int, help="the server's answer_cache_size (default: its own)")
    parser.add_argument("--index", type=Path, help="index folder for the server (default: index/)")
    parser.add_argument("--startup-seconds", type=float, default=900, help="longest wait for the server")
    args = parser.parse_args()
    questions = load_questions(args.questions)
    port = free_port()
    url = f"http://{HOST}:{port}"
    command = [sys.executable, "-m", "assistant.interfaces.cli"]
    command += ["--index", str(args.index)] if args.index else []
    command += ["serve", "--host", HOST, "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANQA_ADMIN")}  # uploads off
    if args.answer_cache_size is not None:
        env["PLANQA_ANSWER_CACHE_SIZE"] = str(args.answer_cache_size)
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    phases = [
        Phase("POST /v1/ask", args.users, args.seconds),
        Phase("Gradio /ask", args.gradio_users, args.gradio_seconds),
    ]
    try:
        wait_until_up(f"{url}/healthz", server, args.startup_seconds)
        with Monitor(server.pid, phases[0]):
            asyncio.run(run_users(url, ask_api, questions, phases[0], args.think))
        with Monitor(server.pid, phases[1]):
            asyncio.run(run_users(url, ask_page, questions, phases[1], args.think))
        peak = proc_status(server.pid, "VmHWM")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    print(
        f"think time {args.think:g} s (mean); {os.cpu_count()} CPUs; questions: {args.questions} ({len(questions)});"
        f" answer cache size: {env.get('PLANQA_ANSWER_CACHE_SIZE', 'default')}"
    )
    print(
        "| phase | users × time | requests | errors | req/s | p50 / p95 / p99 (ms) | computed (not cached) |"
        " computed p50 / p95 (ms) | server CPU (cores) | client CPU (cores) | server peak RSS in phase (MB) |"
        " load avg 1/5/15 |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for phase in phases:
        print(phase.row())
    print(f"server peak RSS over its life (VmHWM, index load included): {peak:.0f} MB")
    api, page = phases
    checks = [
        ("API errors", len(api.errors), 0, len(api.errors) == 0),
        (
            "API p95 ms",
            np.percentile(api.latencies_ms, 95) if api.latencies_ms else float("nan"),
            TARGET_API_P95_MS,
            bool(api.latencies_ms) and np.percentile(api.latencies_ms, 95) <= TARGET_API_P95_MS,
        ),
        (
            "Gradio p50 ms",
            np.percentile(page.latencies_ms, 50) if page.latencies_ms else float("nan"),
            TARGET_GRADIO_P50_MS,
            bool(page.latencies_ms) and np.percentile(page.latencies_ms, 50) <= TARGET_GRADIO_P50_MS,
        ),
        ("server peak RSS MB", peak, TARGET_PEAK_RSS_MB, peak <= TARGET_PEAK_RSS_MB),
    ]
    print("\n| target | measured | limit | met |\n| --- | --- | --- | --- |")
    for name, value, limit, met in checks:
        print(f"| {name} | {value:.0f} | {limit} | {'yes' if met else 'NO'} |")
    for phase in phases:
        for error in sorted(set(phase.errors))[:5]:
            print(f"{phase.name} error: {error}", file=sys.stderr)


if __name__ == "__main__":
    main()
