"""`planqa translate`: LLM drafts of English renderings for the sentences of a document that have none.
Each reply is checked (one rendering per sentence, every figure kept) before its batch is appended."""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import PlanqaError, SettingsError
from assistant.index.view import IndexView, StoredDocument
from assistant.ingest.curation import TRANSLATIONS_DIR, Curation, GlossaryEntry, load_rendering_file
from assistant.models import content_hash
from assistant.text import HAN, has_han, sentences
from assistant.translate.translators import Messages, Translator

log = logging.getLogger(__name__)

PROMPT_FILE = "translate.txt"

ZH_FIGURE_RE = re.compile(r"(\d+(?:,\d{3})*(?:\.\d+)?)\s*(%|％|万亿|万|亿|月)?")
EN_FIGURE_RE = re.compile(r"(\d+(?:,\d{3})*(?:\.\d+)?)\s*(%|thousand|million|billion|trillion)?", re.I)
SCALE = {"万": 1e4, "亿": 1e8, "万亿": 1e12, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
CHINESE_LEFT = "the rendering contains Chinese"
FIGURES_MISSING = "figures missing from the rendering: "
# English characters per Chinese character in the 1,439 reviewed renderings of four characters or more:
# 1.55 to 10.8 (p1 3.3, p50 5.0, p99 6.9). A draft outside a margin beyond those added or left out text.
MIN_ENGLISH_PER_CHINESE_CHAR = 1.0
MAX_ENGLISH_PER_CHINESE_CHAR = 12.0
MIN_CHARS_FOR_LENGTH_CHECK = 4
HAN_RUN_RE = re.compile(f"[{HAN}]+")
SPACE_BEFORE_PUNCTUATION_RE = re.compile(r"\s+([,.;:!?)])")
MONTHS = ("January February March April May June July August September October November December").split()


@dataclass(frozen=True)
class Rejection:
    zh: str
    reason: str
    en: str = ""


@dataclass(frozen=True)
class BatchResult:
    accepted: tuple[tuple[str, str], ...]  # (Chinese sentence, English draft)
    rejected: tuple[Rejection, ...]


@dataclass(frozen=True)
class TranslationJob:
    source: str  # the document's file name
    out: Path
    pending: tuple[str, ...]  # sentences to draft, in reading order
    skipped: int  # sentences that already have a rendering


@dataclass(frozen=True)
class TranslationReport:
    out: Path
    drafted: int
    skipped: int
    rejected: tuple[Rejection, ...]


def missing_figures(zh: str, en: str) -> list[str]:
    """The figures of a Chinese sentence that its English rendering lacks. A percentage must appear as
    written (95%); an amount in 万/亿 as the same quantity (35亿 = 3.5 billion, 7555万 = 75.55 million) or
    its digits with no scale word (not "35 billion"); a month (3月) as its digits or its name; any other
    number as written (10000 = 10,000)."""
    en_numbers = [(number.replace(",", ""), (unit or "").lower()) for number, unit in EN_FIGURE_RE.findall(en)]
    written = {number for number, _ in en_numbers}
    plain = {number for number, unit in en_numbers if not unit}
    percentages = {number for number, unit in en_numbers if unit == "%"}
    values = [float(number) * SCALE.get(unit, 1.0) for number, unit in en_numbers]
    missing = []
    for m in ZH_FIGURE_RE.finditer(zh):
        number, unit = m.group(1).replace(",", ""), m.group(2) or ""
        if unit in ("%", "％"):
            kept = number in percentages
        elif unit == "月":
            month = int(float(number))
            kept = number in written or (1 <= month <= 12 and MONTHS[month - 1] in en)
        elif unit in SCALE:
            quantity = float(number) * SCALE[unit]
            kept = number in plain or any(math.isclose(v, quantity, rel_tol=1e-9) for v in values)
        else:
            kept = number in written
        if not kept:
            missing.append(m.group(0).strip())
    return missing


def rendering_problem(zh: str, en: Any) -> str:
    """Why a draft cannot stand for its sentence; empty when it can."""
    if not isinstance(en, str) or not en.strip():
        return "empty rendering"
    if has_han(en):
        return CHINESE_LEFT
    if len(zh.strip()) >= MIN_CHARS_FOR_LENGTH_CHECK:
        ratio = len(en.strip()) / len(zh.strip())
        if ratio > MAX_ENGLISH_PER_CHINESE_CHAR:
            return "the rendering is longer than any reviewed one: something was added"
        if ratio < MIN_ENGLISH_PER_CHINESE_CHAR:
            return "the rendering is shorter than any reviewed one: something was left out"
    missing = missing_figures(zh, en)
    return f"{FIGURES_MISSING}{', '.join(missing)}" if missing else ""


def document_sentences(view: IndexView, doc_id: str) -> list[str]:
    """A document's sentences in reading order, each once: the sentences of its passages as the index
    cuts them, i.e. what a passage needs a rendering of to have its English (`english_rendering`)."""
    seen: set[str] = set()
    out = []
    for chunk in view.chunks:
        if chunk.doc_id != doc_id:
            continue
        for sentence in sentences(chunk.text):
            key = content_hash(sentence.strip())
            if key not in seen:
                seen.add(key)
                out.append(sentence)
    return out


def default_output(corpus_dir: Path, source: str) -> Path:
    return corpus_dir / TRANSLATIONS_DIR / f"{Path(source).stem}.en.jsonl"


def plan_translation(
    view: IndexView, doc: StoredDocument, corpus_dir: Path, curation: Curation, out: Path | None, redo_all: bool
) -> TranslationJob:
    """Which sentences to draft: those with no rendering in the corpus or in `out` (all but those already
    in `out` with `redo_all`). Re-running after an interruption picks up where the last batch ended."""
    corpus_file = default_output(corpus_dir, doc.source)
    out = out or corpus_file
    translations = (corpus_dir / TRANSLATIONS_DIR).resolve()
    if redo_all and out.resolve().parent == translations:
        raise PlanqaError(
            f"--all would put drafts over the reviewed renderings in {translations}; "
            "write them elsewhere with --out FILE"
        )
    done = set(load_rendering_file(out)) if out.is_file() else set()
    if not redo_all:
        done |= set(curation.renderings)
    texts = document_sentences(view, doc.id)
    pending = tuple(s for s in texts if content_hash(s.strip()) not in done)
    return TranslationJob(doc.source, out, pending, len(texts) - len(pending))


def batch_messages(
    batch: Sequence[str], glossary: Sequence[GlossaryEntry], prompts_dir: Path, reminder: str = ""
) -> Messages:
    """The instructions, then the glossary terms the batch uses and the batch as a JSON array (and a
    reminder of what an earlier draft got wrong, if any). The instructions never change, so a local model
    reuses its evaluation of them from one request to the next."""
    from assistant.answer.llm import fill

    terms = [e for e in glossary if e.zh and any(e.zh in s for s in batch)]
    lines = "\n".join(f"- {e.zh} = {e.en}" for e in terms) or "- (no glossary term occurs in these sentences)"
    system = fill(prompts_dir / PROMPT_FILE)
    sentences_json = json.dumps(list(batch), ensure_ascii=False, indent=0)
    note = f"{reminder}\n\n" if reminder else ""  # before the array, which ends the message
    user = f"Glossary:\n{lines}\n\n{note}Sentences ({len(batch)} in all):\n{sentences_json}"
    return [("system", system), ("human", user)]


def parse_reply(text: str, count: int) -> list[str]:
    """The JSON array of `count` strings in a reply (code fences and text around it tolerated).
    Raises ValueError saying what is wrong."""
    start, end = text.find("["), text.rfind("]")
    if start < 0 or end < start:
        raise ValueError("the reply holds no JSON array")
    try:
        items = json.loads(text[start : end + 1])
    except json.JSONDecodeError as exc:
        items = repaired_array(text[start : end + 1])
        if items is None:
            raise ValueError(f"the reply is not valid JSON ({exc.msg})") from exc
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ValueError("the reply is not an array of strings")
    if len(items) != count:
        raise ValueError(f"the reply has {len(items)} renderings for {count} sentences")
    return items


def repaired_array(text: str) -> list | None:
    """A small model's JSON mended (a trailing comma, an ASCII quote inside a string, as in “三场一通道”
    rendered "three fields and one channel"), or None when json-repair cannot make an array of it. The
    count and every rendering are still checked, so a mended reply that splits a string is rejected."""
    import json_repair

    items = json_repair.loads(text)
    return items if isinstance(items, list) and items else None


def check_batch(batch: Sequence[str], reply: str) -> BatchResult:
    """Accepted (sentence, draft) pairs and rejections; a reply that cannot be lined up with the batch
    rejects the whole batch."""
    try:
        drafts = parse_reply(reply, len(batch))
    except ValueError as exc:
        return BatchResult((), tuple(Rejection(zh, str(exc)) for zh in batch))
    accepted, rejected = [], []
    for zh, en in zip(batch, drafts):
        problem = rendering_problem(zh, en)
        if problem:
            rejected.append(Rejection(zh, problem, en))
        else:
            accepted.append((zh, en.strip()))
    return BatchResult(tuple(accepted), tuple(rejected))


def append_records(path: Path, records: Sequence[dict[str, Any]]) -> None:
    """Append JSON lines in one write, flushed to disk: an interrupted run keeps every earlier batch whole."""
    if not records:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    with path.open("a+b") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell():
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":  # a line cut short by an earlier crash stays a line of its own
                text = "\n" + text
        fh.write(text.encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())


def batched(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# Tokens a rendering may take: Qwen's tokenizer spends about one token per Chinese character on the English
# (measured: 47 completion tokens for three sentences of 47 characters), doubled for room, plus the JSON.
TOKENS_PER_CHAR = 2
TOKENS_PER_SENTENCE = 16


def reply_tokens(batch: Sequence[str]) -> int:
    return TOKENS_PER_CHAR * sum(map(len, batch)) + TOKENS_PER_SENTENCE * len(batch)


def draft_batch(
    translator: Translator,
    batch: Sequence[str],
    glossary: Sequence[GlossaryEntry],
    prompts_dir: Path,
    reminder: str = "",
) -> BatchResult:
    """One request for a batch, checked. Raises GeneratorUnavailableError when the backend fails."""
    reply = translator.complete(batch_messages(batch, glossary, prompts_dir, reminder), reply_tokens(batch))
    return check_batch(batch, reply)


def draft_with_repairs(
    translator: Translator, batch: Sequence[str], glossary: Sequence[GlossaryEntry], prompts_dir: Path
) -> BatchResult:
    """A batch; a reply that cannot be lined up with it (a sentence merged, split or dropped: the most
    common failure of Qwen2.5-Coder-1.5B on batches of 8, 16 of 50 sentences in bench_translate.py) is
    asked for again as two halves, down to single sentences. Then the rejected drafts are repaired: Chinese
    left in them is translated on its own and put in place, and a sentence whose draft dropped figures is
    asked for again with those figures named (at temperature 0, asking again unchanged gives the same draft)."""
    first = draft_batch(translator, batch, glossary, prompts_dir)
    if len(batch) > 1 and not first.accepted and all(not r.en for r in first.rejected):
        half = len(batch) // 2
        parts = [draft_with_repairs(translator, part, glossary, prompts_dir) for part in (batch[:half], batch[half:])]
        return BatchResult(parts[0].accepted + parts[1].accepted, parts[0].rejected + parts[1].rejected)
    result = repair_chinese_left(translator, first, glossary, prompts_dir)
    return repair_missing_figures(translator, result, glossary, prompts_dir)


def repair_chinese_left(
    translator: Translator, result: BatchResult, glossary: Sequence[GlossaryEntry], prompts_dir: Path
) -> BatchResult:
    """Drafts rejected only for Chinese left in them, with those words translated on their own and put in
    place (the model leaves a term such as 低碳 untranslated inside a sentence, and renders it alone)."""
    leftovers = [r for r in result.rejected if r.en and r.reason == CHINESE_LEFT]
    if not leftovers:
        return result
    words = list(dict.fromkeys(w for r in leftovers for w in HAN_RUN_RE.findall(r.en)))
    english = word_renderings(translator, words, glossary, prompts_dir)
    accepted, rejected = list(result.accepted), [r for r in result.rejected if r not in leftovers]
    for r in leftovers:
        repaired = HAN_RUN_RE.sub(lambda m: f" {english.get(m.group(0), m.group(0))} ", r.en)
        repaired = SPACE_BEFORE_PUNCTUATION_RE.sub(r"\1", " ".join(repaired.split()))
        problem = rendering_problem(r.zh, repaired)
        if problem:
            rejected.append(Rejection(r.zh, problem, repaired))
        else:
            accepted.append((r.zh, repaired))
    return BatchResult(tuple(accepted), tuple(rejected))


def word_renderings(
    translator: Translator, words: Sequence[str], glossary: Sequence[GlossaryEntry], prompts_dir: Path
) -> dict[str, str]:
    """English for Chinese words: each word alone, or, for a word the model only echoes back (综合整治,
    seen with Qwen2.5-Coder-1.5B), its jieba pieces joined (综合 + 整治: "Integrated Improvement")."""
    import jieba

    english = dict(draft_batch(translator, words, glossary, prompts_dir).accepted)
    split = {w: jieba.lcut(w) for w in words if w not in english}
    split = {w: pieces for w, pieces in split.items() if len(pieces) > 1}
    if not split:
        return english
    pieces = list(dict.fromkeys(p for parts in split.values() for p in parts))
    piece_english = dict(draft_batch(translator, pieces, glossary, prompts_dir).accepted)
    for word, parts in split.items():
        if all(p in piece_english for p in parts):
            english[word] = " ".join(piece_english[p] for p in parts)
    return english


def repair_missing_figures(
    translator: Translator, result: BatchResult, glossary: Sequence[GlossaryEntry], prompts_dir: Path
) -> BatchResult:
    """Sentences whose draft dropped figures, asked for again one by one with the figures named."""
    dropped = [r for r in result.rejected if r.reason.startswith(FIGURES_MISSING)]
    if not dropped:
        return result
    accepted, rejected = list(result.accepted), [r for r in result.rejected if r not in dropped]
    for r in dropped:
        figures = r.reason.removeprefix(FIGURES_MISSING)
        reminder = f"An earlier rendering left out figures. Keep every figure, including: {figures}."
        again = draft_batch(translator, [r.zh], glossary, prompts_dir, reminder)
        accepted.extend(again.accepted)
        rejected.extend(again.rejected)
    return BatchResult(tuple(accepted), tuple(rejected))


def draft_records(result: BatchResult, model: str) -> list[dict[str, Any]]:
    """Accepted drafts as the lines of a renderings file: flagged as machine drafts, with the model's name."""
    return [{"zh": zh, "en": en, "draft": True, "model": model} for zh, en in result.accepted]


def translate(
    job: TranslationJob,
    translator: Translator,
    glossary: Sequence[GlossaryEntry],
    prompts_dir: Path,
    batch_size: int = 15,
    progress: Callable[[int], object] | None = None,
) -> TranslationReport:
    """Draft the job's sentences batch by batch; each batch's accepted drafts are appended to `job.out`
    (flagged `"draft": true` with the model's name) before the next request. A failing endpoint raises
    GeneratorUnavailableError; what earlier batches wrote stays."""
    if batch_size < 1:
        raise SettingsError(f"--batch-size must be at least 1, not {batch_size}")
    drafted = 0
    rejected: list[Rejection] = []
    for batch in batched(job.pending, batch_size):
        result = draft_with_repairs(translator, batch, glossary, prompts_dir)
        append_records(job.out, draft_records(result, translator.model))
        log_rejections(result)
        drafted += len(result.accepted)
        rejected.extend(result.rejected)
        if progress:
            progress(len(batch))
    return TranslationReport(job.out, drafted, job.skipped, tuple(rejected))


def log_rejections(result: BatchResult) -> None:
    for r in result.rejected:
        log.warning("rejected the draft of %r: %s%s", r.zh[:40], r.reason, f" ({r.en[:80]!r})" if r.en else "")
