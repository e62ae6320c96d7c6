"""Any Hugging Face embedding model through sentence-transformers (optional extra `hf`, needs torch)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np

from assistant.embed.base import package_version
from assistant.errors import EmbedderUnavailableError
from assistant.settings import Settings


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
        self._name = self.identity(settings)
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

    @staticmethod
    def identity(settings: Settings) -> str:
        return f"sentence-transformers/{settings.embedder_model}@{package_version('sentence-transformers')}"
