"""Background drafting: the English every indexed plan lacks (sentences, plan and place titles), drafted batch
by batch by the configured translator while the app answers, with its progress in a status file beside the
index. One job per index at a time (a lock file); askers' translations come first; stoppable and resumable."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from assistant import wording
from assistant.errors import PlanqaError
from assistant.index.view import IndexView, StoredDocument
from assistant.ingest.curation import Curation, GlossaryEntry, load_rendering_file
from assistant.models import content_hash
from assistant.settings import Settings
from assistant.translate.drafts import (
    append_records,
    batched,
    draft_records,
    draft_with_repairs,
    log_rejections,
    plan_translation,
)
from assistant.translate.translators import TranslatorHolder, chosen_translator

log = logging.getLogger(__name__)

STATUS_FILE = "translation_status.json"
LOCK_FILE = "translation.lock"
LOG_FILE = "translation.log"  # what `planqa index` sends its detached job's output to
# Largest background batch, whatever `translate_batch_size` says: an asker waits for the batch in flight.
# Qwen2.5-Coder-1.5B on 2 busy cores: 4 sentences in 7-12 s, 8 in 26-32 s, at about the same sentences/min.
BACKGROUND_BATCH_SIZE = 4
# How long a shutting-down app waits for the batch in flight (an answer in flight may take the LLM timeout).
STOP_WAIT_SECONDS = 5.0


class JobRunningError(PlanqaError):
    """Another drafting job holds the index's lock."""


class Live(Protocol):
    """What the job drafts for: an index view (it learns each batch's drafts), the translator holder whose
    askers come first, and the glossary. A running `Assistant` is one."""

    view: IndexView
    translator: TranslatorHolder
    glossary: tuple[GlossaryEntry, ...]


@dataclass
class Offline:
    """The job's target outside the app (`planqa translate --pending`): the index as built."""

    view: IndexView
    translator: TranslatorHolder
    glossary: tuple[GlossaryEntry, ...]


# --- progress ----------------------------------------------------------------------------------------


@dataclass
class DocumentProgress:
    source: str
    title: str
    total: int  # sentences and titles that need English
    done_before: int  # of those, rendered before this run
    drafted: int = 0  # drafted and written in this run
    rejected: int = 0  # drafts that failed the checks in this run (retried by the next run)
    pending: int = 0  # left to draft in this run


@dataclass
class JobStatus:
    state: str
    model: str
    pid: int
    started_at: str  # ISO 8601, local time with its offset
    updated_at: str
    documents: list[DocumentProgress] = field(default_factory=list)
    error: str = ""

    @property
    def drafted(self) -> int:
        return sum(d.drafted for d in self.documents)

    @property
    def rejected(self) -> int:
        return sum(d.rejected for d in self.documents)

    @property
    def pending(self) -> int:
        return sum(d.pending for d in self.documents)

    def per_minute(self) -> float:
        """Sentences handled (drafted or rejected) a minute since the job started; 0 before the first batch."""
        elapsed = (datetime.fromisoformat(self.updated_at) - datetime.fromisoformat(self.started_at)).total_seconds()
        handled = self.drafted + self.rejected
        return handled / elapsed * 60 if elapsed > 0 and handled else 0.0

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "drafted": self.drafted, "rejected": self.rejected, "pending": self.pending}

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> JobStatus:
        documents = [DocumentProgress(**d) for d in record.get("documents", [])]
        keys = ("state", "model", "pid", "started_at", "updated_at", "error")
        return cls(**{k: record[k] for k in keys if k in record}, documents=documents)


def now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def status_path(settings: Settings) -> Path:
    return settings.index_dir / STATUS_FILE


def write_status(path: Path, status: JobStatus) -> None:
    """Whole or not at all: a reader never sees half a file (temporary file, then os.replace)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(status.as_json(), ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def read_status(settings: Settings) -> JobStatus | None:
    """The last job's status, or None when no job ever ran on this index."""
    path = status_path(settings)
    if not path.is_file():
        return None
    return JobStatus.from_json(json.loads(path.read_text(encoding="utf-8")))


# --- one job per index -------------------------------------------------------------------------------


@contextlib.contextmanager
def job_lock(settings: Settings) -> Iterator[None]:
    """Held while a job runs: a second job on the same index, in this process or another, is refused. The
    kernel releases it when the process dies, so a killed job never blocks the next one."""
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    with (settings.index_dir / LOCK_FILE).open("a") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            last = read_status(settings)
            who = f" (pid {last.pid})" if last else ""
            raise JobRunningError(
                f"a translation job is already running on {settings.index_dir}{who}; "
                "follow it with `planqa translate --status`"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def job_running(settings: Settings) -> bool:
    """Whether some process holds the index's drafting lock now."""
    try:
        with job_lock(settings):
            return False
    except JobRunningError:
        return True


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


# --- what to draft -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentWork:
    doc: StoredDocument
    out: Path  # the plan's renderings file, where question-time drafts go too
    pending: tuple[str, ...]  # sentences, then titles, in reading order
    total: int


def place_titles(view: IndexView, doc: StoredDocument) -> list[str]:
    """The titles an English answer about the plan may show: its own (unless curated) and those of its
    chapters, sections, boxes and glossary terms where the passage has no curated English heading."""
    titles = [] if doc.title_en else [doc.title]
    for passage in view.passages:
        if passage.chunk.doc_id == doc.id and not passage.heading_en:
            titles.extend(t for t in passage.chunk.path.titles if t)
    return list(dict.fromkeys(t.strip() for t in titles if t.strip()))


def document_work(view: IndexView, doc: StoredDocument, settings: Settings, curation: Curation) -> DocumentWork:
    """A plan's sentences without a rendering (as `planqa translate` finds them) and its titles without
    English in the view, the corpus or the plan's renderings file (title drafts are kept there too)."""
    job = plan_translation(view, doc, settings.corpus_dir, curation, None, False)
    known = set(curation.renderings) | (set(load_rendering_file(job.out)) if job.out.is_file() else set())
    titles = [t for t in place_titles(view, doc) if t not in job.pending]
    pending_titles = [t for t in titles if not view.rendering(t) and content_hash(t) not in known]
    pending = (*job.pending, *pending_titles)
    return DocumentWork(doc, job.out, pending, job.skipped + len(job.pending) + len(titles))


# --- the job -----------------------------------------------------------------------------------------


class DraftingJob:
    """Drafts every plan's missing English, batch by batch (`translate_batch_size`, at most
    `BACKGROUND_BATCH_SIZE`). Before each batch it waits while an asker is translating and checks `stop`;
    each batch's accepted drafts are appended to the plan's renderings file in one write and learnt by the
    view at once. A draft rejected in this run is not asked for again in it; the next run retries it."""

    def __init__(
        self,
        settings: Settings,
        current: Callable[[], Live],
        stop: threading.Event | None = None,
        progress: Callable[[JobStatus], object] | None = None,
    ) -> None:
        self.settings = settings
        self.current = current  # read before each batch: a re-indexing app swaps in a new assistant
        self.stop = stop or threading.Event()
        self.progress = progress
        self.path = status_path(settings)
        self.batch_size = max(1, min(settings.translate_batch_size, BACKGROUND_BATCH_SIZE))
        self.status = JobStatus("running", "", os.getpid(), now(), now())

    def run(self) -> JobStatus:
        """The job to its end (done), its failure (failed: the error recorded, GeneratorUnavailableError and
        other planqa errors returned, anything else raised) or `stop` (stopped). Raises JobRunningError
        when another job holds the index."""
        with job_lock(self.settings):
            try:
                self._run()
            except PlanqaError as exc:
                self._finish("failed", str(exc))
            except BaseException as exc:  # Ctrl-C in the foreground, or a bug: record it, then let it go
                interrupted = isinstance(exc, KeyboardInterrupt)
                self._finish("stopped" if interrupted else "failed", "" if interrupted else repr(exc))
                raise
        return self.status

    def _run(self) -> None:
        self._save()  # seen by `--status` at once: starting a local model takes a few seconds
        live = self.current()
        translator = live.translator.get()
        if translator is None:
            raise PlanqaError(live.translator.failure or wording.NO_TRANSLATOR_HELP)
        self.status.model = translator.model
        curation = Curation.load(self.settings.corpus_dir)
        works = [document_work(live.view, doc, self.settings, curation) for doc in live.view.documents]
        self.status.documents = [
            DocumentProgress(w.doc.source, w.doc.title, w.total, w.total - len(w.pending), pending=len(w.pending))
            for w in works
        ]
        self._save()
        log.info(
            "drafting %d sentences and titles of %d plans with %s", self.status.pending, len(works), translator.model
        )
        for work, progress in zip(works, self.status.documents):
            for batch in batched(work.pending, self.batch_size):
                if not self._draft(work, progress, batch):
                    self._finish("stopped")
                    return
        self._finish("done")

    def _draft(self, work: DocumentWork, progress: DocumentProgress, batch: Sequence[str]) -> bool:
        """One batch; False when the job was stopped before it."""
        live = self.current()
        live.translator.wait_for_askers(self.stop)
        if self.stop.is_set():
            return False
        todo = [t for t in batch if not live.view.rendering(t)]  # an asker may have drafted some meanwhile
        progress.pending -= len(batch) - len(todo)
        if todo:
            translator = live.translator.get()
            if translator is None:
                raise PlanqaError(live.translator.failure or wording.NO_TRANSLATOR_HELP)
            started = time.perf_counter()
            result = draft_with_repairs(translator, todo, live.glossary, self.settings.prompts_dir)
            records = draft_records(result, translator.model)
            append_records(work.out, records)  # the whole batch in one appending write
            live.view.learn_renderings({r["zh"]: r["en"] for r in records})
            log_rejections(result)
            progress.drafted += len(result.accepted)
            progress.rejected += len(result.rejected)
            progress.pending -= len(todo)
            log.info(
                "%s: %d drafted, %d rejected in %.1f s",
                work.doc.source,
                len(result.accepted),
                len(result.rejected),
                time.perf_counter() - started,
            )
        self._save()
        return True

    def _finish(self, state: str, error: str = "") -> None:
        self.status.state = state
        if error:
            self.status.error = error
            log.warning("background drafting %s: %s", state, error)
        self._save()

    def _save(self) -> None:
        self.status.updated_at = now()
        write_status(self.path, self.status)
        if self.progress:
            self.progress(self.status)


# --- in the app --------------------------------------------------------------------------------------


class BackgroundDrafting:
    """A drafting job on a daemon thread of the app's process, stopped with the app."""

    def __init__(self, settings: Settings, current: Callable[[], Live]) -> None:
        self.job = DraftingJob(settings, current)
        self.thread = threading.Thread(target=self._run, name="planqa-drafting", daemon=True)

    def start(self) -> BackgroundDrafting:
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            status = self.job.run()
            log.info("background drafting %s: %d drafted, %d rejected", status.state, status.drafted, status.rejected)
        except JobRunningError as exc:
            log.info("no background drafting in this process: %s", exc)
        except Exception:
            log.exception("background drafting failed")

    def stop(self) -> None:
        """Stop after the batch in flight, waiting for it a little: a hosted model's batch ends within that,
        a local model's may not, and then the app exits without it. Either way what earlier batches wrote
        stays (a status left "running" by an exit reads "interrupted"), and the next start resumes."""
        self.job.stop.set()
        self.thread.join(STOP_WAIT_SECONDS)


def start_background_drafting(settings: Settings, current: Callable[[], Live]) -> BackgroundDrafting | None:
    """Start drafting in the app when the settings ask for it (`translate_in_background`) and a
    translator is configured; None otherwise. `current`: the assistant answering now."""
    if not settings.translate_in_background or chosen_translator(settings) == "none":
        return None
    return BackgroundDrafting(settings, current).start()


# --- outside the app: a detached process, and its status -----------------------------------------------


def spawn_drafting_process(settings: Settings) -> subprocess.Popen:
    """`planqa translate --pending` for this corpus and index as a process of its own session (it outlives
    the command that started it and a Ctrl-C there), its output appended to the index's log file."""
    command = [
        sys.executable,
        "-m",
        "assistant.interfaces.cli",
        "--corpus",
        str(settings.corpus_dir.resolve()),
        "--index",
        str(settings.index_dir.resolve()),
        "--translator",
        chosen_translator(settings),  # `auto` resolved here, as this command resolved it
        "translate",
        "--pending",
    ]
    with (settings.index_dir / LOG_FILE).open("ab") as out:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)


SECONDS_PER_MINUTE = 60
MINUTES_PER_HOUR = 60


def duration(minutes: float) -> str:
    if minutes < 1:
        return f"{minutes * SECONDS_PER_MINUTE:.0f} s"
    if minutes < MINUTES_PER_HOUR:
        return f"{minutes:.0f} min"
    return f"{minutes // MINUTES_PER_HOUR:.0f} h {minutes % MINUTES_PER_HOUR:.0f} min"


def status_lines(status: JobStatus, running: bool) -> list[str]:
    """The status as a table: per plan, then all plans; the job's state, rate and time left. `running`:
    whether a process holds the index's lock now (a job killed outright leaves "running" in the file)."""
    alive = "alive" if pid_alive(status.pid) else "gone"
    state = status.state
    if state == "running" and not running:
        state = "interrupted (the process ended without finishing; `planqa translate --pending` resumes)"
    lines = [
        f"translation job: {state} · model {status.model or '?'} · pid {status.pid} ({alive})",
        f"started {status.started_at} · updated {status.updated_at}",
        "",
        f"{'total':>7} {'rendered':>9} {'drafted':>8} {'rejected':>9} {'pending':>8}  plan",
    ]
    rows = [
        (d.total, d.done_before + d.drafted, d.drafted, d.rejected, d.pending, f"{d.source} 《{d.title}》")
        for d in status.documents
    ]
    rows.append((*[sum(r[i] for r in rows) for i in range(5)], "all plans"))  # type: ignore[misc]
    lines.extend(f"{a:>7} {b:>9} {c:>8} {d:>9} {e:>8}  {name}" for a, b, c, d, e, name in rows)
    rate = status.per_minute()
    eta = duration(status.pending / rate) if rate and status.state == "running" and running else "-"
    lines += ["", f"rate: {rate:.1f} sentences/min · time left: {eta}"]
    if status.error:
        lines.append(f"last error: {status.error}")
    return lines
