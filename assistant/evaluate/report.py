"""The evaluation report: per-question results (JSON lines), a Markdown summary a reviewer can read on
GitHub, PNG charts, and a side-by-side comparison with an earlier run."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from assistant.evaluate.dataset import UNANSWERABLE_TYPES, Question
from assistant.evaluate.metrics import char_f1, first_relevant_rank, token_f1
from assistant.evaluate.metrics import summarise as summarise_by
from assistant.evaluate.runs import rank_metrics, score_answer
from assistant.pipeline import Assistant

log = logging.getLogger(__name__)

METRICS = (
    "hit@1",
    "hit@5",
    "hit@10",
    "mrr",
    "key_accuracy",
    "f1",
    "section_true",
    "language_match",
    "abstained",
    "false_abstention",
)
SHOWN_IN_CHARTS = ("hit@1", "hit@5", "mrr", "key_accuracy", "f1", "section_true", "language_match")


def evaluate(assistant: Assistant, questions: list[Question], mode: str | None, tick: Callable[[], None]) -> list[dict]:
    """One result record per question, with every metric for it."""
    records = []
    for q in questions:
        answer = assistant.ask(q.question, mode)
        scored = score_answer(q, answer)
        rank = first_relevant_rank([h.chunk.text for h in answer.hits], q.evidence) if q.answerable else None
        reference = " ".join(forms[0] for forms in q.answer_keys)
        f1 = (char_f1 if q.lang == "zh" else token_f1)(answer.text, reference) if q.answerable else None
        records.append(
            {
                "id": q.id,
                "lang": q.lang,
                "type": q.type,
                "question": q.question,
                "gold": {"doc_id": q.doc_id, "chapter": q.chapter, "section": q.section, "box": q.box},
                "answer": answer.text,
                "mode": answer.mode,
                "notes": list(answer.notes),
                "citations": [{"n": c.n, "heading": c.heading, "quote": c.quote} for c in answer.citations],
                "passages": [h.chunk.path.label() for h in answer.hits[:10]],
                "metrics": {
                    "rank": rank,
                    **(rank_metrics(rank) if q.answerable else dict.fromkeys(rank_metrics(None))),
                    "key_accuracy": scored.key_accuracy,
                    "f1": f1,
                    "section_true": None if scored.section_true is None else float(scored.section_true),
                    "language_match": float(scored.language_match),
                    "abstained": float(answer.abstained) if not q.answerable else None,
                    "false_abstention": float(answer.abstained) if q.answerable else None,
                    "latency_ms": answer.timings_ms["total"],
                },
            }
        )
        tick()
    return records


def summarise(records: list[dict], key: str) -> dict[str, dict[str, float]]:
    """Mean of each metric (over the questions it applies to) and latency percentiles, grouped by `key`."""
    return summarise_by(records, key, METRICS)


def table(summary: dict[str, dict[str, float]], first: str) -> str:
    columns = ["n", *METRICS, "p50_ms", "p95_ms"]
    lines = [f"| {first} | " + " | ".join(columns) + " |", "|" + " --- |" * (len(columns) + 1)]
    for name, row in summary.items():
        cells = [str(int(row["n"]))] + [fmt(row[c]) for c in columns[1:]]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fmt(value: float) -> str:
    return "–" if value != value else (f"{value:.0f}" if value > 10 else f"{value:.3f}")


def worst_misses(records: list[dict], limit: int = 15) -> str:
    misses = [
        r
        for r in records
        if r["metrics"]["key_accuracy"] == 0.0 or (r["metrics"]["rank"] is None and r["type"] not in UNANSWERABLE_TYPES)
    ]
    misses.sort(key=lambda r: (r["metrics"]["rank"] is not None, r["metrics"]["rank"] or 0))
    lines = ["| id | rank | question | answer (start) | retrieved places (top 3) |", "| --- | --- | --- | --- | --- |"]
    for r in misses[:limit]:
        answer = r["answer"][:60].replace("|", "/").replace("\n", " ")
        places = " / ".join(r["passages"][:3]).replace("|", "/")
        lines.append(f"| {r['id']} | {r['metrics']['rank'] or '–'} | {r['question'][:50]} | {answer} | {places} |")
    return "\n".join(lines)


def write_report(
    out: Path, records: list[dict], assistant: Assistant, dataset: Path, problems: list, compare: Path | None
) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "results.jsonl").open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    by_lang, by_type = summarise(records, "lang"), summarise(records, "type")
    (out / "summary.json").write_text(json.dumps({"lang": by_lang, "type": by_type}, indent=1), encoding="utf-8")
    charts = draw_charts(out, by_lang, by_type, records)
    parts = [
        "# planqa evaluation report",
        f"Dataset `{dataset}` ({len(records)} questions; {len(problems)} lines skipped), mode "
        f"`{records[0]['mode'] if records else '-'}` (the mode that answered; a failed LLM answer falls back).",
        "## By language",
        table(by_lang, "lang"),
        "## By question type",
        table(by_type, "type"),
        "Metrics: hit@k and MRR over answerable questions (a hit is a passage holding an evidence string); "
        "key_accuracy: every answer key present; f1: character F1 (zh) or token F1 (en) against the keys; "
        "section_true: the citation holding the evidence names the gold chapter/section/box; abstained: on "
        "unanswerable questions; false_abstention: on answerable ones; latency per question in ms.",
        "## Charts",
        *[f"![{name}]({name})" for name in charts],
    ]
    if compare:
        parts += ["## Compared with " + str(compare), compare_section(out, by_lang, compare)]
    parts += [
        "## Worst misses",
        worst_misses(records),
        "## Settings and index",
        "```json\n" + json.dumps(settings_snapshot(assistant), ensure_ascii=False, indent=1, default=str) + "\n```",
    ]
    if problems:
        parts += ["## Skipped dataset lines", "\n".join(f"- line {p.line}: {p.reason}" for p in problems)]
    report = out / "report.md"
    report.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return report


def settings_snapshot(assistant: Assistant) -> dict[str, Any]:
    manifest = {k: v for k, v in assistant.view.manifest.items() if k != "files"}
    manifest["files"] = {name: meta["sha256"][:16] for name, meta in assistant.view.manifest.get("files", {}).items()}
    settings = {k: v for k, v in asdict(assistant.settings).items() if k != "openai_api_key"}
    return {"settings": settings, "index": manifest}


def draw_charts(out: Path, by_lang: dict, by_type: dict, records: list[dict]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    for title, summary, name in (
        ("by language", by_lang, "metrics_by_language.png"),
        ("by type", by_type, "metrics_by_type.png"),
    ):
        fig, ax = plt.subplots(figsize=(10, 4))
        groups = list(summary)
        width = 0.8 / len(groups)
        for i, group in enumerate(groups):
            values = [summary[group][m] for m in SHOWN_IN_CHARTS]
            ax.bar([x + i * width for x in range(len(SHOWN_IN_CHARTS))], values, width, label=group)
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(SHOWN_IN_CHARTS))], SHOWN_IN_CHARTS)
        ax.set_ylim(0, 1.05)
        ax.set_title(f"planqa metrics {title}")
        ax.legend(fontsize=8, ncol=4)
        fig.tight_layout()
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        names.append(name)
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for lang in ("zh", "en"):
        ax.hist([r["metrics"]["latency_ms"] for r in records if r["lang"] == lang], bins=30, alpha=0.6, label=lang)
    ax.set_xlabel("ms per question")
    ax.set_title("latency")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=100)
    plt.close(fig)
    names.append("latency.png")
    return names


def compare_section(out: Path, by_lang: dict, other_dir: Path) -> str:
    """A table of both runs with differences, and a chart with the two side by side."""
    other = json.loads((other_dir / "summary.json").read_text(encoding="utf-8"))["lang"]
    lines = ["| lang | metric | this run | other run | difference |", "| --- | --- | --- | --- | --- |"]
    for lang in ("zh", "en", "all"):
        for metric in SHOWN_IN_CHARTS:
            a, b = by_lang.get(lang, {}).get(metric, float("nan")), other.get(lang, {}).get(metric, float("nan"))
            mark = "" if a != a or b != b or abs(a - b) < 1e-9 else (" ▲" if a > b else " ▼")
            lines.append(
                f"| {lang} | {metric} | {fmt(a)} | {fmt(b)} | {fmt(a - b) if a == a and b == b else '–'}{mark} |"
            )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4))
    xs = range(len(SHOWN_IN_CHARTS))
    this = [by_lang["all"][m] for m in SHOWN_IN_CHARTS]
    that = [other["all"][m] for m in SHOWN_IN_CHARTS]
    ax.bar([x - 0.2 for x in xs], this, 0.4, label="this run")
    ax.bar([x + 0.2 for x in xs], that, 0.4, label=f"other ({other_dir.name})")
    for x, a, b in zip(xs, this, that):
        if a == a and b == b and abs(a - b) > 1e-9:
            ax.annotate(
                f"{a - b:+.3f}", (x, max(a, b) + 0.02), ha="center", fontsize=8, color="green" if a > b else "red"
            )
    ax.set_xticks(list(xs), SHOWN_IN_CHARTS)
    ax.set_ylim(0, 1.1)
    ax.legend()
    ax.set_title("all questions: this run vs the other")
    fig.tight_layout()
    fig.savefig(out / "compare.png", dpi=100)
    plt.close(fig)
    return "\n".join(lines) + "\n\n![compare](compare.png)"
