"""The HTTP server of `planqa serve`: a JSON API and the Gradio page (mounted at `/`) on one port.

Routes (OpenAPI at `/docs`): `POST /v1/ask`, `POST /v1/search`, `GET /v1/documents`,
`GET /v1/documents/{id}/outline`, `GET /healthz`; OpenAI-compatible `GET /v1/models` and
`POST /v1/chat/completions` (streaming or not); with an admin token, `POST /v1/documents` (upload a plan),
`DELETE /v1/documents/{id}` and `GET /v1/index/status`. Every route calls the same `Assistant` as the
CLI; an upload or deletion re-indexes in a background thread and swaps a new `Assistant` in, while the
requests already running finish on the one they started with.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.errors import (
    BadQuestionError,
    EmbedderUnavailableError,
    GeneratorUnavailableError,
    IndexCorruptError,
    LoadError,
    PlanqaError,
    SettingsError,
    UndecodableTextError,
)
from assistant.ingest.files import decode_text
from assistant.settings import Settings
from assistant.text import has_han

if TYPE_CHECKING:
    from assistant.models import Answer
    from assistant.pipeline import Assistant

log = logging.getLogger(__name__)
T = TypeVar("T")

# A question is cut at `max_question_chars` anyway; a chat request also carries the earlier turns, and
# 1 MiB holds hundreds of them. Bigger JSON bodies are refused before they are read.
MAX_JSON_BYTES = 1 << 20
MIB = 1 << 20
# The multipart envelope around an uploaded file (boundaries, part headers): a few hundred bytes in
# practice; the file itself is then checked against `max_upload_mb` exactly.
MULTIPART_SLACK_BYTES = 64 << 10
# pypdf extracts ~180 dense text pages a second on this 2-core machine (20 lines a page, measured with
# the machine busy), so a PDF at the default page limit (1,500) takes ~8 s; one that takes 60 s (the
# child's ~1 s start included) is built to stall the parser, and is refused.
PDF_PARSE_SECONDS = 60.0
# Longest stem kept from an uploaded file's name: 80 CJK characters are 240 bytes in UTF-8, under the
# 255-byte name limit of common file systems with room for a suffix and the extension.
MAX_STEM_CHARS = 80
# Extractive answers computed at once (see AnswerPool): two, one embedding its question (under the
# embedder's lock, outside the GIL) while the other retrieves and picks sentences. Measured with 50 users
# on /v1/ask (2 cores): 1 -> 13 req/s; 2 -> 17.6 req/s, p95 4.0 s; 4 -> 14.5; 40 (AnyIO's pool) -> 17.1
# req/s but p95 6.4 s, p99 9.4 s, as threads overtake each other at the lock.
ANSWER_THREADS = 2
# The page's events run at once, for the same reason (Gradio's default is one at a time; measured with 20
# users: 1 -> 6.6 req/s, 2 -> 7.1, 8 -> 6.3).
PAGE_CONCURRENCY = ANSWER_THREADS
# Jobs listed by /v1/index/status (older ones are in the server log).
JOB_HISTORY = 50
UPLOAD_PATH = "/v1/documents"
BEARER = HTTPBearer(auto_error=False, description="the server's admin token (PLANQA_ADMIN_TOKEN)")
# HTML or script behind a plan's name: no plan text opens with (or contains) these tags.
MARKUP_RE = re.compile(r"<\s*(?:!doctype|html|head|body|script|iframe|object|embed|svg|style|meta)\b", re.I)
# Control characters other than tab, newline and form feed: binary data that happened to decode.
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")

ERROR_STATUS: list[tuple[type[PlanqaError], int]] = [
    (BadQuestionError, 422),  # empty question, unknown mode: the request cannot be answered as given
    (LoadError, 422),  # an uploaded plan that cannot be read
    (SettingsError, 400),
    # The server, not the request, is at fault: a retry later may work.
    (GeneratorUnavailableError, 503),
    (EmbedderUnavailableError, 503),
    (IndexCorruptError, 503),
    (PlanqaError, 400),  # e.g. no such document: a bad parameter
]


# --- request and response models (the OpenAPI schema at /docs) -------------------------------------


class ErrorBody(BaseModel):
    type: str = Field(description="machine-readable kind, e.g. BadQuestionError, too_large, unauthorized")
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody


class AskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(description="in Chinese or English; cut at max_question_chars with a note")
    mode: str | None = Field(None, description="extractive | openai | llamacpp (default: the server's setting)")
    doc: str | None = Field(None, description="only this document: id, id prefix, file name or title")
    k: int | None = Field(None, ge=1, description="passages retrieved (at least min_answer_passages are returned)")


class SearchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str
    k: int | None = Field(None, ge=1, description="passages returned (default: top_k)")
    doc: str | None = None
    chapter: int | None = None
    section: int | None = None


class CitationOut(BaseModel):
    n: int
    doc_id: str
    doc_title: str
    chapter: int | None
    section: int | None
    box: int | None
    heading: str
    heading_en: str
    quote: str


class PassageOut(BaseModel):
    rank: int
    doc_id: str
    doc_title: str
    chapter: int | None
    section: int | None
    box: int | None
    text: str
    score: float


class AnswerOut(BaseModel):
    """Exactly `planqa ask --json`."""

    question: str
    lang: str
    answer: str = Field(description="one to a few sentences, each claim marked [n]")
    kind: str = Field(description="overview | fact | list | abstained")
    abstained: bool
    mode: str
    citations: list[CitationOut]
    passages: list[PassageOut]
    timings_ms: dict[str, float]
    cached: bool = Field(description="given again from the answer cache: the same question asked before")
    notes: list[str]


class HitOut(BaseModel):
    """Exactly one element of `planqa search --json`."""

    rank: int
    score: float
    doc_id: str
    doc_title: str
    chapter: int | None
    section: int | None
    box: int | None
    heading: str
    heading_en: str
    text: str
    sources: dict[str, int] = Field(description="each ranking that found it -> its rank there")


class DocumentOut(BaseModel):
    id: str
    title: str
    title_en: str
    source: str
    chapters: int
    sections: int
    boxes: int
    glossary_terms: int
    passages: int
    structure: str


class OutlineOut(BaseModel):
    id: str
    title: str
    title_en: str
    lines: list[str] = Field(description="as `planqa outline` prints it, with passage counts")
    outline: dict[str, Any] = Field(description="chapters (with sections), boxes, glossary terms")


class HealthOut(BaseModel):
    status: Literal["ok"]
    generation: int = Field(description="bumped each time a re-index is swapped in")
    documents: int
    passages: int
    index: dict[str, Any] = Field(description="manifest summary: built_at, build_seconds, embedder, errors...")
    indexing: str


class JobOut(BaseModel):
    id: int
    action: Literal["add", "delete"]
    file: str
    doc_id: str
    state: Literal["queued", "indexing", "done", "failed"]
    error: str
    queued_at: float
    finished_at: float | None


class UploadOut(BaseModel):
    job: JobOut
    status_url: str


class IndexStatusOut(BaseModel):
    state: Literal["idle", "indexing"]
    generation: int
    documents: int
    passages: int
    running_for_s: float | None
    last_build: dict[str, Any]
    jobs: list[JobOut] = Field(description="newest first")


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatIn(BaseModel):
    """An OpenAI chat-completions request; sampling parameters are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(description="the answer mode, one of GET /v1/models")
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool = False
    doc: str | None = Field(None, description="planqa extra: only this document")
    k: int | None = Field(None, ge=1, description="planqa extra: passages retrieved")


class ChatMessageOut(BaseModel):
    role: Literal["assistant"]
    content: str


class ChatChoiceOut(BaseModel):
    index: int
    message: ChatMessageOut
    finish_reason: str


class ChatOut(BaseModel):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChatChoiceOut]
    planqa: AnswerOut = Field(description="the full answer with its citations, as POST /v1/ask returns it")


class ModelOut(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelsOut(BaseModel):
    object: Literal["list"]
    data: list[ModelOut]


ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (400, 404, 422, 503)}


class ApiError(Exception):
    """A refusal with its HTTP status, a short kind and a message for people."""

    def __init__(self, status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.headers = status, kind, message, headers


def error_response(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status, headers=headers)


def planqa_status(exc: PlanqaError) -> int:
    return next(status for cls, status in ERROR_STATUS if isinstance(exc, cls))


# --- the assistant in use, and re-indexing ----------------------------------------------------------


class LiveAssistant:
    """The assistant new requests get. A re-index swaps a new one in; a request holds on to the one it
    started with, so its answer, citations and passages all come from one index."""

    def __init__(self, assistant: Assistant) -> None:
        self._current = assistant
        self._lock = threading.Lock()
        self.generation = 1

    @property
    def current(self) -> Assistant:
        with self._lock:
            return self._current

    def swap(self, new: Assistant) -> None:
        with self._lock:
            self._current = new
            self.generation += 1


class PageAssistant:
    """What the Gradio page is built with: every attribute read goes to the current assistant, so the page
    answers from a re-indexed corpus without a restart. (Its document lists are made when the page is
    built; a new plan is searched under "all documents" until the next start.)"""

    def __init__(self, live: LiveAssistant) -> None:
        self._live = live

    def __getattr__(self, name: str) -> Any:
        return getattr(self._live.current, name)


@dataclass
class Job:
    id: int
    action: Literal["add", "delete"]
    file: str
    doc_id: str
    state: Literal["queued", "indexing", "done", "failed"] = "queued"
    error: str = ""
    queued_at: float = field(default_factory=time.time)
    finished_at: float | None = None

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Indexer:
    """One background thread that re-indexes after uploads and deletions: the jobs queued while a build
    runs are taken together by the next one. The build re-embeds only text the index has not seen, with
    the running assistant's embedder (no second model in memory)."""

    def __init__(self, live: LiveAssistant) -> None:
        self.live = live
        self._cond = threading.Condition()
        self._jobs: list[Job] = []
        self._next_id = 1
        self._thread: threading.Thread | None = None
        self._started: float | None = None
        self._last: dict[str, Any] = {}

    def submit(self, action: Literal["add", "delete"], file: str, doc_id: str) -> Job:
        with self._cond:
            job = Job(self._next_id, action, file, doc_id)
            self._next_id += 1
            self._jobs.append(job)
            finished = [j for j in self._jobs if j.state in ("done", "failed")]
            dropped = {j.id for j in finished[: max(0, len(self._jobs) - JOB_HISTORY)]}  # never a pending one
            self._jobs = [j for j in self._jobs if j.id not in dropped]
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="planqa-indexer", daemon=True)
                self._thread.start()
            self._cond.notify()
        log.info("queued %s of %s (%s)", action, file, doc_id)
        return job

    def pending(self, action: str) -> dict[str, str]:
        """Doc id -> file of the jobs of this kind not yet indexed."""
        with self._cond:
            return {j.doc_id: j.file for j in self._jobs if j.action == action and j.state in ("queued", "indexing")}

    def status(self) -> dict[str, Any]:
        view = self.live.current.view
        with self._cond:
            running = None if self._started is None else round(time.time() - self._started, 1)
            return {
                "state": "idle" if running is None else "indexing",
                "generation": self.live.generation,
                "documents": len(view.documents),
                "passages": len(view.passages),
                "running_for_s": running,
                "last_build": dict(self._last),
                "jobs": [j.as_json() for j in reversed(self._jobs)],
            }

    @property
    def state(self) -> str:
        with self._cond:
            return "idle" if self._started is None else "indexing"

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not any(j.state == "queued" for j in self._jobs):
                    self._cond.wait()
                batch = [j for j in self._jobs if j.state == "queued"]
                for job in batch:
                    job.state = "indexing"
                self._started = time.time()
            self._run(batch)

    def _run(self, batch: list[Job]) -> None:
        started = time.perf_counter()
        outcome: dict[str, Any] = {"started_at": time.time(), "files": [j.file for j in batch]}
        try:
            new = self.rebuild()
            ids = {d.id for d in new.view.documents}
            errors = new.build_report.errors
            results = []
            for job in batch:
                indexed = job.doc_id in ids
                ok = indexed if job.action == "add" else not indexed
                reason = errors.get(job.file, "the build did not index it") if job.action == "add" else "still indexed"
                results.append((job, ok, "" if ok else reason))
            report = new.build_report
            outcome.update(
                ok=True,
                rebuilt=report.rebuilt,
                reason=report.reason,
                embedded_texts=report.embedded_texts,
                embed_seconds=round(report.embed_seconds, 2),
                errors=dict(errors),
            )
        except Exception as exc:  # the old index keeps serving; every job of the batch says why it failed
            log.exception("re-indexing failed")
            results = [(job, False, f"re-indexing failed: {exc}") for job in batch]
            outcome.update(ok=False, error=str(exc))
        outcome["seconds"] = round(time.perf_counter() - started, 2)
        with self._cond:
            for job, ok, reason in results:
                job.state, job.error, job.finished_at = ("done" if ok else "failed"), reason, time.time()
            self._started = None
            self._last = outcome
        log.info("re-indexed in %.1f s: %s", outcome["seconds"], ", ".join(f"{j.file} {j.state}" for j in batch))

    def rebuild(self) -> Assistant:
        from assistant.pipeline import Assistant

        old = self.live.current
        new = Assistant.from_settings(old.settings, embedder=old.embedder)
        warm(new)
        self.live.swap(new)
        return new


def warm(assistant: Assistant) -> None:
    """One answer, so that the search structures (BM25, vectors) and the extractive generator are built
    now rather than in the first request that meets them."""
    if not assistant.view.passages:
        return
    started = time.perf_counter()
    assistant.ask(assistant.view.documents[0].title)
    log.info("assistant warmed up in %.1f s", time.perf_counter() - started)


# --- uploads --------------------------------------------------------------------------------------


def safe_stem(filename: str) -> str:
    """A file-name stem safe to create in the corpus folder: the last path part only (either separator),
    letters (Chinese included), digits, `_` and `-`; the client's extension is dropped (the content
    decides it); never empty, hidden or option-like."""
    name = unicodedata.normalize("NFKC", filename or "")
    name = re.split(r"[/\\]", name)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name.strip(".") else name
    stem = re.sub(r"[^\w-]+", "_", stem).strip("_-.")
    return stem[:MAX_STEM_CHARS].rstrip("_-") or "upload"


def pdf_text(data: bytes, max_pages: int, seconds: float) -> str:
    """The text of an uploaded PDF, read in a child process that is killed after `seconds`; refused when
    it has more than `max_pages` pages (counted before any text is extracted)."""
    with tempfile.TemporaryDirectory(prefix="planqa-upload-") as folder:
        path = Path(folder) / "upload.pdf"
        path.write_bytes(data)
        command = [sys.executable, "-m", "assistant.interfaces.server", "pdf-text", str(path), str(max_pages)]
        try:
            done = subprocess.run(command, capture_output=True, timeout=seconds, check=False)
        except subprocess.TimeoutExpired:
            raise ApiError(422, "pdf_timeout", f"reading the PDF took longer than {seconds:.0f} s; refused") from None
    try:
        result = json.loads(done.stdout)
    except ValueError:
        log.warning("PDF reader exited %s: %s", done.returncode, done.stderr.decode(errors="replace")[-500:])
        raise ApiError(422, "BrokenPdfError", "the PDF could not be read") from None
    if "pages" in result:
        raise ApiError(422, "too_many_pages", f"the PDF has {result['pages']} pages; at most {max_pages} are accepted")
    if "error" in result:
        raise ApiError(422, result["kind"], result["error"])
    return result["text"]


def pdf_text_main(path: str, max_pages: int) -> int:
    """The child process of `pdf_text`: prints {"text"}, {"pages"} (too many) or {"error", "kind"}."""
    from pypdf import PdfReader

    from assistant.ingest.files import read_pdf

    try:
        pages = len(PdfReader(path, strict=False).pages)
    except Exception:  # encrypted, damaged...: read_pdf below says which, with its own message
        pages = 0
    if pages > max_pages:
        print(json.dumps({"pages": pages}))
        return 0
    try:
        print(json.dumps({"text": read_pdf(Path(path))}))
    except LoadError as exc:
        print(json.dumps({"error": exc.reason, "kind": type(exc).__name__}))
    return 0


def sniff(data: bytes, name: str, max_pages: int) -> tuple[str, str]:
    """(extension, decoded text) of an upload, judged by its content alone: a PDF by its `%PDF-` header,
    else text that decodes and holds Chinese, with no markup and no binary control characters."""
    if not data.strip():
        raise ApiError(422, "empty", "the file is empty")
    if data.startswith(b"%PDF-"):
        return ".pdf", pdf_text(data, max_pages, PDF_PARSE_SECONDS)
    try:
        text = decode_text(data, name)
    except UndecodableTextError:
        raise ApiError(415, "unsupported_type", "only PDF (%PDF- header) and plain text files are accepted") from None
    if MARKUP_RE.search(text):
        raise ApiError(415, "unsupported_type", "the file is HTML or markup, not a plan's plain text")
    if CONTROL_RE.search(text):
        raise ApiError(415, "unsupported_type", "the file holds binary data, not plain text")
    if not has_han(text):
        raise ApiError(415, "unsupported_type", "the text holds no Chinese: not a plan planqa can index")
    return ".txt", text


class Uploads:
    """Adds and removes plan files in the corpus folder, then queues a re-index."""

    def __init__(self, live: LiveAssistant, indexer: Indexer, settings: Settings) -> None:
        self.live, self.indexer, self.settings = live, indexer, settings
        # One change to the corpus folder at a time: the duplicate check and the name choice see the
        # files the previous upload wrote.
        self._lock = threading.Lock()

    @property
    def corpus(self) -> Path:
        return self.live.current.settings.corpus_dir

    def add(self, data: bytes, filename: str) -> Job:
        from assistant.ingest.documents import document_id

        suffix, text = sniff(data, safe_stem(filename), self.settings.max_pdf_pages)
        doc_id = document_id(text)
        with self._lock:
            view = self.live.current.view
            deleting = self.indexer.pending("delete")
            known = {d.id: d.source for d in view.documents if d.id not in deleting} | self.indexer.pending("add")
            if doc_id in known:
                raise ApiError(409, "duplicate", f"the same text is already indexed as {known[doc_id]} ({doc_id})")
            path = self.free_path(safe_stem(filename), doc_id, suffix)
            partial = path.with_name(f".{uuid.uuid4().hex}.partial")  # not a plan file until renamed
            partial.write_bytes(data)
            os.replace(partial, path)
            log.info("stored upload %r as %s (%d bytes, %s)", filename, path.name, len(data), doc_id)
            return self.indexer.submit("add", path.name, doc_id)

    def free_path(self, stem: str, doc_id: str, suffix: str) -> Path:
        """A new file in the corpus folder; a stem already taken (by a .txt or a .pdf, which would share
        its English renderings file) gets the document id's start."""
        corpus = self.corpus.resolve()
        taken = {p.stem.lower() for p in corpus.iterdir()}
        for candidate in (stem, f"{stem}-{doc_id[:8]}", f"{stem}-{doc_id}"):
            if candidate.lower() not in taken:
                path = corpus / f"{candidate}{suffix}"
                if path.parent != corpus:  # safe_stem makes this impossible; kept as the last guard
                    raise ApiError(400, "bad_name", "unsafe file name")
                return path
        raise ApiError(409, "duplicate", f"a file named {stem}{suffix} already exists")

    def delete(self, doc_id: str) -> Job:
        with self._lock:
            view = self.live.current.view
            doc = next((d for d in view.documents if d.id == doc_id), None)
            if doc is None or doc_id in self.indexer.pending("delete"):
                raise ApiError(404, "not_found", f"no document {doc_id!r} in the index (give its full id)")
            corpus = self.corpus.resolve()
            # every corpus file with this text: a copy skipped as a duplicate would otherwise take its place
            files = view.manifest.get("files", {})
            names = {doc.source} | {name for name, meta in files.items() if meta.get("doc_id") == doc_id}
            for name in sorted(names):
                path = corpus / name
                if path.parent == corpus and path.name == name and path.is_file():
                    path.unlink()
                    log.info("deleted %s (%s)", name, doc_id)
            return self.indexer.submit("delete", doc.source, doc_id)


# --- request body limits ---------------------------------------------------------------------------


class BodyLimit:
    """Refuses a request body over its limit with 413 before the app reads it: at once when
    Content-Length says so, else as soon as the streamed body passes the limit (nothing more is read)."""

    def __init__(self, app: ASGIApp, upload_bytes: int) -> None:
        self.app = app
        self.upload_bytes = upload_bytes

    def limit(self, scope: Scope) -> int:
        path = scope.get("path", "")
        if path == UPLOAD_PATH or not path.startswith(("/v1/", "/healthz")):
            return self.upload_bytes  # uploads; the Gradio page (its own upload route is capped the same)
        return MAX_JSON_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self.refuse(send, limit)
            return
        seen = 0
        refused = False

        async def capped_receive() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit and not refused:
                    refused = True
                    await self.refuse(send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:  # after the 413 the app's own reply (to a "disconnect") goes nowhere
                await send(message)

        try:
            await self.app(scope, capped_receive, guarded_send)
        except Exception:
            if not refused:
                raise

    @staticmethod
    async def refuse(send: Send, limit: int) -> None:
        body = json.dumps({"error": {"type": "too_large", "message": f"the request body is over {limit} bytes"}})
        headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body.encode()})


class ResponseHeaders:
    """On every response: `X-Content-Type-Options: nosniff` (JSON is never sniffed into HTML), and, unless
    CORS origins are configured, no CORS headers at all (the mounted Gradio app would otherwise grant pages
    on any localhost port, credentials included)."""

    def __init__(self, app: ASGIApp, strip_cors: bool) -> None:
        self.app = app
        self.strip_cors = strip_cors

    def keep(self, name: bytes) -> bool:
        name = name.lower()
        return name != b"x-content-type-options" and not (self.strip_cors and name.startswith(b"access-control-"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def edit(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if self.keep(k)]
                message = {**message, "headers": [*headers, (b"x-content-type-options", b"nosniff")]}
            await send(message)

        await self.app(scope, receive, edit if scope["type"] == "http" else send)


class AnswerPool:
    """Where answers are computed: worker threads, at most `ANSWER_THREADS` extractive answers at once,
    first come first served. An answer is CPU-bound (the question's embedding, then Python under the
    GIL), so more threads than that only interleave and stretch every answer. LLM answers mostly wait on
    the model; they get threads of their own (AnyIO's default pool) and do not hold the extractive ones."""

    def __init__(self) -> None:
        self._limiter: anyio.CapacityLimiter | None = None
        self._sync = threading.BoundedSemaphore(ANSWER_THREADS)

    async def run(self, fn: Callable[[], T], llm: bool = False) -> T:
        if llm:
            return await anyio.to_thread.run_sync(fn)
        if self._limiter is None:  # made on first use: it belongs to the server's event loop
            self._limiter = anyio.CapacityLimiter(ANSWER_THREADS)
        return await anyio.to_thread.run_sync(fn, limiter=self._limiter)

    @contextlib.contextmanager
    def slot(self, llm: bool = False) -> Iterator[None]:
        """From a sync route or a stream (already in a worker thread): the same bound, by a semaphore."""
        if llm:
            yield
            return
        with self._sync:
            yield


# --- the app ---------------------------------------------------------------------------------------


def sse(payload: dict[str, Any] | str) -> str:
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {data}\n\n"


def chat_question(messages: list[ChatMessageIn]) -> str:
    """The last user message, asked together with the previous user turn when it is a short follow-up
    (the page's rule, `contextual_question`)."""
    from assistant.interfaces.app import contextual_question

    turns = [{"role": m.role, "content": message_text(m)} for m in messages]
    last = max((i for i, t in enumerate(turns) if t["role"] == "user"), default=None)
    if last is None:
        raise ApiError(422, "BadQuestionError", "the messages hold no user message")
    return contextual_question(turns[last]["content"], turns[:last])


def message_text(message: ChatMessageIn) -> str:
    if isinstance(message.content, list):  # content parts: the text ones, in order
        return " ".join(str(p.get("text", "")) for p in message.content if p.get("type") == "text")
    return message.content or ""


def create_app(assistant: Assistant, settings: Settings) -> FastAPI:
    """The API and the page over `assistant`. `settings` governs the HTTP side (admin token, upload and
    PDF limits, CORS, the page's address); the index follows the assistant's own settings."""
    import gradio as gr

    from assistant.interfaces.app import CARD_CSS, ask_streaming, available_modes, build_app
    from assistant.interfaces.browse import document_summaries, outline_lines
    from assistant.interfaces.presentation import answer_json, hit_json

    live = LiveAssistant(assistant)
    indexer = Indexer(live)
    uploads = Uploads(live, indexer, settings)
    upload_bytes = int(settings.max_upload_mb * MIB)
    app = FastAPI(
        title="planqa",
        version="1",
        description="Cited answers from Chinese government plans, in Chinese or English.",
        responses={413: {"model": ErrorOut}},
    )
    app.state.live, app.state.indexer = live, indexer
    app.add_middleware(BodyLimit, upload_bytes=upload_bytes + MULTIPART_SLACK_BYTES)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:  # (the mounted Gradio app then leaves CORS to this middleware)
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    # outermost: it sees every response, the 413s and Gradio's included
    app.add_middleware(ResponseHeaders, strip_cors=not origins)

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.kind, exc.message, exc.headers)

    @app.exception_handler(PlanqaError)
    async def on_planqa_error(request: Request, exc: PlanqaError) -> JSONResponse:
        return error_response(planqa_status(exc), type(exc).__name__, str(exc))

    def require_admin(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]) -> None:
        if not settings.admin_token:
            raise ApiError(403, "uploads_off", "uploads and deletions are off: the server has no admin token set")
        given = credentials.credentials if credentials else ""
        if not hmac.compare_digest(given.encode(), settings.admin_token.encode()):
            raise ApiError(401, "unauthorized", "a valid admin token is required", {"WWW-Authenticate": "Bearer"})

    def doc_filter(current: Assistant, doc: str | None) -> str | None:
        try:
            return current.resolve_doc(doc)
        except PlanqaError as exc:
            raise ApiError(400, "unknown_document", str(exc)) from None

    def passages_k(current: Assistant, k: int | None) -> int | None:
        # more passages than the index holds adds nothing but work
        return None if k is None else min(k, max(len(current.view.passages), 1))

    pool = AnswerPool()

    @app.post("/v1/ask", response_model=AnswerOut, responses=ERRORS, tags=["answers"])
    async def ask(body: AskIn) -> JSONResponse:
        """A cited answer, exactly as `planqa ask --json` prints it."""

        def work() -> dict[str, Any]:
            current = live.current
            doc, k = doc_filter(current, body.doc), passages_k(current, body.k)
            return answer_json(current.view, current.ask(body.question, body.mode, doc, k))

        return JSONResponse(await pool.run(work, llm=(body.mode or live.current.settings.generator) != "extractive"))

    @app.post("/v1/search", response_model=list[HitOut], responses=ERRORS, tags=["answers"])
    async def search(body: SearchIn) -> JSONResponse:
        """Ranked passages, exactly as `planqa search --json` prints them."""

        def work() -> list[dict[str, Any]]:
            current = live.current
            doc = doc_filter(current, body.doc)
            hits = current.search(body.question, passages_k(current, body.k), doc, body.chapter, body.section)
            return [hit_json(current.view, h) for h in hits]

        return JSONResponse(await pool.run(work))

    @app.get("/v1/documents", response_model=list[DocumentOut], tags=["documents"])
    def documents() -> JSONResponse:
        return JSONResponse(document_summaries(live.current.view))

    @app.get("/v1/documents/{doc_id}/outline", response_model=OutlineOut, responses=ERRORS, tags=["documents"])
    def outline(doc_id: str) -> JSONResponse:
        """The recovered outline of a document (id, id prefix, file name or title)."""
        from assistant.index.folder import outline_to_json

        view = live.current.view
        try:
            doc = view.find_document(doc_id)
        except PlanqaError as exc:
            raise ApiError(404, "not_found", str(exc)) from None
        lines = outline_lines(view, doc.id)
        payload = {"id": doc.id, "title": doc.title, "title_en": doc.title_en, "lines": lines}
        return JSONResponse({**payload, "outline": outline_to_json(doc.outline)})

    @app.get("/healthz", response_model=HealthOut, tags=["service"])
    def healthz() -> JSONResponse:
        view = live.current.view
        manifest = view.manifest
        keys = ("built_at", "build_seconds", "embed_seconds", "embedder", "pipeline", "english_vectors", "errors")
        return JSONResponse(
            {
                "status": "ok",
                "generation": live.generation,
                "documents": len(view.documents),
                "passages": len(view.passages),
                "index": {k: manifest.get(k) for k in keys},
                "indexing": indexer.state,
            }
        )

    upload_schema = {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                }
            },
        }
    }

    @app.post(
        UPLOAD_PATH,
        status_code=202,
        response_model=UploadOut,
        dependencies=[Depends(require_admin)],
        openapi_extra=upload_schema,
        responses={code: {"model": ErrorOut} for code in (401, 403, 409, 413, 415, 422)},
        tags=["admin"],
    )
    async def upload(request: Request) -> JSONResponse:
        """Add a plan (.pdf or .txt, judged by content) as multipart field `file`; it is indexed in the
        background (GET /v1/index/status) and answerable once its job is done."""
        # The body is read here, after the token check: an unauthorised upload is refused unread.
        if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
            raise ApiError(415, "unsupported_type", "send the plan as multipart/form-data, field 'file'")
        async with request.form(max_files=1, max_fields=0) as form:
            file = form.get("file")
            if not isinstance(file, UploadFile):
                raise ApiError(422, "missing_file", "send the plan as multipart/form-data, field 'file'")
            data = await file.read(upload_bytes + 1)
            name = file.filename or ""
        if len(data) > upload_bytes:
            raise ApiError(413, "too_large", f"the file is over {settings.max_upload_mb:g} MB")
        job = await run_in_threadpool(uploads.add, data, name)
        return JSONResponse({"job": job.as_json(), "status_url": "/v1/index/status"}, status_code=202)

    @app.delete(
        "/v1/documents/{doc_id}",
        status_code=202,
        response_model=UploadOut,
        dependencies=[Depends(require_admin)],
        responses={code: {"model": ErrorOut} for code in (401, 403, 404)},
        tags=["admin"],
    )
    def delete(doc_id: str) -> JSONResponse:
        """Remove a plan's file(s) from the corpus folder and re-index in the background."""
        job = uploads.delete(doc_id)
        return JSONResponse({"job": job.as_json(), "status_url": "/v1/index/status"}, status_code=202)

    @app.get("/v1/index/status", response_model=IndexStatusOut, tags=["admin"])
    def index_status() -> JSONResponse:
        return JSONResponse(indexer.status())

    @app.get("/v1/models", response_model=ModelsOut, tags=["openai"])
    def models() -> JSONResponse:
        """The answer modes, as OpenAI models: extractive always, openai/llamacpp when configured."""
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "planqa"} for m in available_modes(live.current)]
        return JSONResponse({"object": "list", "data": data})

    @app.post("/v1/chat/completions", response_model=ChatOut, responses=ERRORS, tags=["openai"])
    def chat(body: ChatIn) -> Any:
        """OpenAI-compatible: the last user message is the question; the answer with its [n] markers is the
        message content; `planqa` holds the full answer with citations. With `stream`, server-sent events:
        an LLM mode's tokens as they come, an extractive answer in one chunk; `planqa` rides on the last."""
        current = live.current
        modes = available_modes(current)
        if body.model not in modes:
            raise ApiError(404, "model_not_found", f"no model {body.model!r}; available: {', '.join(modes)}")
        question = chat_question(body.messages)
        current.clean_question(question)  # an empty question is refused before a stream starts
        doc = doc_filter(current, body.doc)
        k = passages_k(current, body.k) or current.settings.top_k
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        if not body.stream:
            with pool.slot(llm=body.model != "extractive"):
                answer = current.ask(question, body.model, doc, k)
            choice = {"index": 0, "message": {"role": "assistant", "content": answer.text}, "finish_reason": "stop"}
            return JSONResponse(
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": body.model,
                    "choices": [choice],
                    "planqa": answer_json(current.view, answer),
                }
            )

        def chunk(delta: dict[str, str], finish: str | None = None, **extra: Any) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            head = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": body.model}
            return sse({**head, "choices": [choice], **extra})

        def events() -> Iterator[str]:
            yield chunk({"role": "assistant", "content": ""})
            shown = ""
            try:
                with pool.slot(llm=body.model != "extractive"):
                    for item in ask_streaming(current, question, body.model, doc, k):
                        if isinstance(item, str):
                            shown += item
                            yield chunk({"content": item})
                        else:
                            answer: Answer = item
            except Exception as exc:  # the status line is sent: the error travels as an event
                if not isinstance(exc, PlanqaError):
                    log.exception("streamed answer failed")
                kind, message = (type(exc).__name__, str(exc)) if isinstance(exc, PlanqaError) else ("internal", "")
                yield sse({"error": {"type": kind, "message": message or "the answer failed; see the server log"}})
                yield sse("[DONE]")
                return
            rest = answer.text[len(shown) :] if answer.text.startswith(shown) else replacement(answer)
            yield chunk({"content": rest}, "stop", planqa=answer_json(current.view, answer))
            yield sse("[DONE]")

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    page = build_app(PageAssistant(live))  # type: ignore[arg-type]  # duck-typed: see PageAssistant
    page.queue(default_concurrency_limit=PAGE_CONCURRENCY)
    page.state_session_capacity = settings.page_sessions  # what `launch` would set; mounting reads it
    return gr.mount_gradio_app(
        app,
        page,
        path="/",
        server_name=settings.host,
        server_port=settings.port,
        css=CARD_CSS,
        footer_links=[],
        show_error=True,
        max_file_size=upload_bytes,
    )


def replacement(answer: Answer) -> str:
    """What follows streamed tokens the citation check rejected: why, then the answer that replaced them
    (an SSE stream cannot take back what it sent; `planqa.answer` holds the answer alone)."""
    notes = " ".join(f"({n})" for n in answer.notes)
    return f"\n\n{notes}\n\n{answer.text}" if notes else f"\n\n{answer.text}"


def serve(assistant: Assistant, host: str, port: int) -> None:
    """Run the server with uvicorn until interrupted: one process, since an upload's re-index swaps the
    assistant in this process (workers would each hold an index of their own)."""
    import uvicorn

    from assistant.translate.background import start_background_drafting

    settings = assistant.settings.with_(host=host, port=port)
    app = create_app(assistant, settings)
    warm(assistant)
    drafting = start_background_drafting(assistant.settings, lambda: app.state.live.current)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,
        log_level="warning",
        # an answer in flight finishes within the LLM timeout; a shutdown waits no longer than that
        timeout_graceful_shutdown=int(settings.llm_timeout),
    )
    log.info("serving on http://%s:%d (API docs at /docs)", host, port)
    try:
        uvicorn.Server(config).run()
    finally:
        if drafting:
            drafting.stop()


if __name__ == "__main__":  # the PDF reader child of `pdf_text`
    if len(sys.argv) == 4 and sys.argv[1] == "pdf-text":
        sys.exit(pdf_text_main(sys.argv[2], int(sys.argv[3])))
    sys.exit("usage: python -m assistant.interfaces.server pdf-text FILE MAX_PAGES")
