"""A build streamed to disk: documents are prepared (loaded, chunked, embedded) a few at a time and each one's
rows are appended to the new build's files, so memory holds the FAISS index and the documents in flight,
never the whole corpus. The folder, its files and the switch to it are those of `folder.write_index`."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypeVar

import numpy as np
from tqdm import tqdm

from assistant.embed.base import Embedder
from assistant.index.folder import (
    BUILDS_DIR,
    FORMAT_VERSION,
    document_to_json,
    passage_to_json,
    sentence_to_json,
    switch_current,
)
from assistant.index.view import Passage, StoredDocument, StoredSentence

log = logging.getLogger(__name__)

# Vectors of texts embedded earlier in this build kept for later documents (notices, boilerplate repeat across
# plans): 8192 vectors of 384 floats are 12 MB, whatever the size of the corpus.
RECENT_VECTORS = 8192


@dataclasses.dataclass(frozen=True)
class EmbedStats:
    texts: int = 0  # texts the embedder ran on (the rest came from the last build or earlier documents)
    chars: int = 0
    seconds: float = 0.0


@dataclasses.dataclass(frozen=True)
class PreparedDocument:
    """One document ready to write: its records, with rows counted from its own first passage, and vectors."""

    document: StoredDocument
    passages: list[Passage]
    sentences: list[StoredSentence]
    passage_vectors: np.ndarray
    sentence_vectors: np.ndarray
    stats: EmbedStats


@dataclasses.dataclass(frozen=True)
class FailedDocument:
    """A file that could not be read as a plan, and why."""

    source: str
    reason: str


Prepared = PreparedDocument | FailedDocument


# --- the embedder a build uses ----------------------------------------------------------------------


class SharedVectors:
    """What every document of a build may reuse without embedding: the last build's sentence vectors (a
    rebuild re-embeds only changed text) and a bounded set of recent ones. Thread-safe."""

    def __init__(
        self, inner: Embedder, known: Mapping[str, np.ndarray], progress: bool = False, recent: int = RECENT_VECTORS
    ) -> None:
        self.inner = inner
        self.known = known
        self.progress = progress
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._limit = recent
        self._lock = threading.Lock()
        # one embedder call at a time: documents prepared on threads overlap their Python work with another's
        # embedding, not two embeddings (a backend need not be thread-safe, and each already uses every core)
        self.embedding = threading.Lock()

    def for_document(self) -> DocumentEmbedder:
        return DocumentEmbedder(self)

    def lookup(self, text: str) -> np.ndarray | None:
        if (vector := self.known.get(text)) is not None:
            return vector
        with self._lock:
            if (vector := self._recent.get(text)) is not None:
                self._recent.move_to_end(text)
            return vector

    def remember(self, text: str, vector: np.ndarray) -> None:
        with self._lock:
            self._recent[text] = vector
            if len(self._recent) > self._limit:
                self._recent.popitem(last=False)


class DocumentEmbedder:
    """The embedder for one document: each distinct text embedded once (structure recovery, passages and
    answer scoring share sentence vectors); its own vectors go when the document is written."""

    def __init__(self, shared: SharedVectors) -> None:
        self._shared = shared
        self._vectors: dict[str, np.ndarray] = {}
        self.texts = self.chars = 0
        self.seconds = 0.0

    @property
    def name(self) -> str:
        return self._shared.inner.name

    @property
    def dim(self) -> int:
        return self._shared.inner.dim

    @property
    def call_size(self) -> int:
        return self._shared.inner.call_size

    @property
    def stats(self) -> EmbedStats:
        return EmbedStats(self.texts, self.chars, self.seconds)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if not self._reuse(t)]
        if missing:
            self.texts += len(missing)
            self.chars += sum(map(len, missing))
            self._embed_in_steps(missing)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([self._vectors[t] for t in texts]).astype(np.float32, copy=False)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._timed(self._shared.inner.embed_queries, texts)

    def _timed(self, embed: Callable[[Sequence[str]], np.ndarray], texts: Sequence[str]) -> np.ndarray:
        # timed once the embedder is ours: a build's embed_seconds stays the time spent inside the embedder
        with self._shared.embedding:
            started = time.perf_counter()
            vectors = embed(texts)
            self.seconds += time.perf_counter() - started
        return vectors

    def _reuse(self, text: str) -> bool:
        if text in self._vectors:
            return True
        vector = self._shared.lookup(text)
        if vector is not None:
            self._vectors[text] = vector
        return vector is not None

    def _embed_in_steps(self, texts: list[str]) -> None:
        # a long document spends many seconds in here: show it moving
        bar = tqdm(total=len(texts), desc="embedding", unit="text", leave=False, disable=not self._shared.progress)
        with bar:
            for i in range(0, len(texts), self.call_size):
                step = texts[i : i + self.call_size]
                for text, vector in zip(step, self._timed(self._shared.inner.embed_passages, step)):
                    self._vectors[text] = vector
                    self._shared.remember(text, vector)
                bar.update(len(step))


# --- preparing documents ahead of the writer ------------------------------------------------------------

Item = TypeVar("Item")
Result = TypeVar("Result")


def in_order(items: Iterable[Item], work: Callable[[Item], Result], workers: int) -> Generator[Result, None, None]:
    """`work` on each item, results in item order. With workers, up to `workers` items are worked on ahead
    of the consumer on threads (no more, so memory stays bounded); with none, each in turn."""
    if workers < 1:
        yield from map(work, items)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="prepare") as pool:
        pending: deque[Future[Result]] = deque()
        for item in items:
            pending.append(pool.submit(work, item))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


# --- writing -----------------------------------------------------------------------------------------


class BuildWriter:
    """Appends documents to a new build folder (`<name>.partial` until `commit` renames it and switches
    `current` to it in one step). Closed without `commit`, or on an error, the partial folder is removed and
    the previous index goes on serving."""

    def __init__(self, index_dir: Path) -> None:
        builds = index_dir / BUILDS_DIR
        builds.mkdir(parents=True, exist_ok=True)
        self.index_dir = index_dir
        self.folder = builds / f"build-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        self.partial = self.folder.with_name(self.folder.name + ".partial")
        self.partial.mkdir()
        self.passages = self.sentences = self.documents = 0
        self._chunks = self._open("chunks.jsonl")
        self._sentence_rows = self._open("sentences.jsonl")
        self._document_list = self._open("documents.json")
        self._vectors: VectorFile | None = None
        self._flat: Any = None  # faiss.IndexFlatIP, made when the dimension is known

    def _open(self, name: str) -> IO[str]:
        return (self.partial / name).open("w", encoding="utf-8")

    def __enter__(self) -> BuildWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.partial.exists():
            self.abort()

    def add(self, prepared: PreparedDocument) -> None:
        self._ensure_vectors(prepared.passage_vectors.shape[1])
        for passage in prepared.passages:
            self._chunks.write(json.dumps(passage_to_json(passage), ensure_ascii=False) + "\n")
        for sentence in prepared.sentences:
            record = sentence_to_json(dataclasses.replace(sentence, row=sentence.row + self.passages))
            self._sentence_rows.write(json.dumps(record, ensure_ascii=False) + "\n")
        assert self._vectors is not None
        self._vectors.append(prepared.sentence_vectors)
        if len(prepared.passage_vectors):
            self._flat.add(np.ascontiguousarray(prepared.passage_vectors, dtype=np.float32))
        self._write_document(document_to_json(prepared.document))
        self.passages += len(prepared.passages)
        self.sentences += len(prepared.sentences)

    def _write_document(self, record: dict[str, Any]) -> None:
        # the same bytes as json.dumps(all_documents, indent=1), one document at a time
        self._document_list.write("[\n" if self.documents == 0 else ",\n")
        self._document_list.write(" " + json.dumps(record, ensure_ascii=False, indent=1).replace("\n", "\n "))
        self.documents += 1

    def _ensure_vectors(self, dim: int) -> None:
        import faiss

        if self._vectors is None:
            self._vectors = VectorFile(self.partial / "sentence_vectors.npy", dim)
            self._flat = faiss.IndexFlatIP(dim)

    def commit(self, manifest: dict[str, Any], dim: Callable[[], int]) -> Path:
        """Finish the files, then switch `current` to the build. `dim` is asked only if no document came."""
        import faiss

        self._ensure_vectors(self._vectors.dim if self._vectors else dim())
        assert self._vectors is not None
        self._document_list.write("\n]" if self.documents else "[]")
        for handle in (self._chunks, self._sentence_rows, self._document_list):
            handle.close()
        self._vectors.close()
        faiss.write_index(self._flat, str(self.partial / "vectors.faiss"))
        manifest = {**manifest, "format": FORMAT_VERSION, "passages": self.passages, "dim": self._vectors.dim}
        text = json.dumps(manifest, ensure_ascii=False, indent=1)
        (self.partial / "manifest.json").write_text(text, encoding="utf-8")
        self.partial.rename(self.folder)
        switch_current(self.index_dir, self.folder)
        return self.folder

    def abort(self) -> None:
        import shutil

        for handle in (self._chunks, self._sentence_rows, self._document_list):
            handle.close()
        if self._vectors:
            self._vectors.close()
        shutil.rmtree(self.partial, ignore_errors=True)
        log.warning("build abandoned; the previous index stays in place")


class VectorFile:
    """A float32 `.npy` matrix written a block of rows at a time: the header is written first with room for
    any row count (numpy pads it for that) and rewritten with the real one at the end, so the file is
    byte for byte what `np.save` writes."""

    def __init__(self, path: Path, dim: int) -> None:
        self.dim, self.rows = dim, 0
        self._file = path.open("wb")
        self._header_size = self._write_header()

    def _write_header(self) -> int:
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False}
        np.lib.format.write_array_header_1_0(self._file, {**header, "shape": (self.rows, self.dim)})
        return self._file.tell()

    def append(self, block: np.ndarray) -> None:
        if block.shape[1:] != (self.dim,):
            raise ValueError(f"vectors of shape {block.shape} in a file of dimension {self.dim}")
        self._file.write(np.ascontiguousarray(block, dtype=np.float32).tobytes())
        self.rows += len(block)

    def close(self) -> None:
        if self._file.closed:
            return
        self._file.seek(0)
        if self._write_header() != self._header_size:  # numpy's padding makes this impossible below 10**21 rows
            raise RuntimeError("the .npy header grew; the vectors file cannot be finished in place")
        self._file.close()
