"""The Milvus passage searcher: each index build in its own collections (passage vectors, BM25 over the Chinese
and English words, filter fields; sentence vectors), served under an alias, ranking as `LocalSearcher` does."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from assistant.errors import PlanqaError, SettingsError
from assistant.index.view import Filters, IndexView
from assistant.retrieve.searchers import Field
from assistant.settings import Settings

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install -e '.[milvus]'"
LITE_FILE = "milvus.db"  # the milvus-lite file in the index folder when `milvus_uri` is empty

# Seconds to wait for a server. A reachable server answers a handshake in milliseconds; a few seconds cover a
# server that is still starting, and an unreachable address is refused before then anyway.
CONNECT_TIMEOUT_S = 5.0
# pymilvus pings its server every 10 s; a gRPC server refuses pings more often than every 5 minutes (its
# default, which milvus-lite keeps) and answers with GOAWAY "too_many_pings", logged on stderr, and a reconnect.
# The lite server runs in this process, so there is no dead peer to detect: ping at the rate it allows.
LITE_KEEPALIVE_MS = 300_000
# Rows per insert call: 500 rows of a 1024-dimension vector and ~1.5 KB of words are ~3 MB, far below the
# 64 MB a gRPC message may carry, and few enough calls that the round trips do not show.
INSERT_BATCH = 500
# BM25 parameters of bm25s, which `LocalSearcher` uses with its defaults: the same values give the same
# ranking (Milvus scales every score by k1 + 1, which changes no order). Milvus's own default k1 is 1.2.
BM25_K1 = 1.5
BM25_B = 0.75
# The most results one Milvus search may return.
MAX_LIMIT = 16384
# Milvus's longest VARCHAR, in bytes; the word fields hold a whole passage (500 characters, 3 bytes each in
# UTF-8, in Chinese) or its English rendering, and the limit costs nothing as storage is by actual length.
MAX_VARCHAR = 65535
SHORT_VARCHAR = 256  # ids and part names
# A chapter, section or box a passage does not have: plain INT64 fields (no nullable ones, which older
# servers lack) keep the filters simple comparisons.
NONE = -1

# Exact jieba segmentation with its HMM, as `assistant.text.zh_tokens` cuts words (`jieba.lcut`). Milvus's
# default mode, "search", also indexes every word's sub-words: on the dev and held-out questions it changed the
# BM25 top 10 of 107 of 109 questions against the local store's, "exact" of 8. ("dict" is left out: milvus-lite
# adds a custom dictionary's words to the process's own jieba, which would change `zh_tokens` too.)
ZH_ANALYZER: dict[str, Any] = {"tokenizer": {"type": "jieba", "mode": "exact", "hmm": True}}
EN_ANALYZER: dict[str, Any] = {"tokenizer": "standard"}
# The sentences `best_sentence` ranks by (headings are searched through the passage vectors, which embed the
# heading path).
SENTENCE_KINDS = ("body", "english")
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
BUILD_HASH_CHARS = 16


def index_params(client: Any, lexical: bool) -> Any:
    """FLAT over the vectors: exact inner products, as `LocalSearcher` computes them (a few thousand rows need
    no approximate index; the vectors are normalised, so IP is their cosine); with `lexical`, BM25 over the
    Chinese and English text."""
    params = client.prepare_index_params()
    params.add_index("vector", index_type="FLAT", metric_type="IP")
    for lang in ("zh", "en") if lexical else ():
        params.add_index(
            f"{lang}_sparse",
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params={"bm25_k1": BM25_K1, "bm25_b": BM25_B},
        )
    return params


class MilvusUnavailableError(PlanqaError):
    """The Milvus server (or milvus-lite file) named by `milvus_uri` cannot be reached or failed a request."""


def collection_names(alias: str, view: IndexView) -> tuple[str, str]:
    """This build's two collections: passages, and sentences. The build folder's name is unique per build,
    so a new build (the index went stale) gets new collections and the old ones are never searched."""
    build = hashlib.sha256(view.folder.name.encode("utf-8")).hexdigest()[:BUILD_HASH_CHARS]
    return f"{alias}_{build}", f"{alias}_{build}_sentences"


def build_collection_re(alias: str) -> re.Pattern[str]:
    """Names of the collections of any build served under `alias`."""
    return re.compile(rf"^{re.escape(alias)}_[0-9a-f]{{{BUILD_HASH_CHARS}}}(_sentences)?$")


def filter_expression(filters: Filters) -> str:
    """The Milvus boolean expression of `Filters` ("" for none)."""
    parts = []
    if filters.doc_id is not None:
        parts.append(f"doc_id == {json.dumps(filters.doc_id, ensure_ascii=False)}")
    if filters.chapter is not None:
        parts.append(f"chapter == {int(filters.chapter)}")
    if filters.section is not None:
        parts.append(f"section == {int(filters.section)}")
    return " and ".join(parts)


def zh_text(tokens: Sequence[str]) -> str:
    """Chinese words for the jieba analyzer, the words the local index counts (jieba's own, stopwords removed)
    joined by spaces. jieba cuts at spaces, so each word is cut again alone and nearly every word comes back
    whole; the few that jieba joins only in context split (水权 → 水 权, 梯级开发 → 梯级 开发), in the passages
    and the questions alike."""
    return " ".join(tokens)


def en_text(tokens: Sequence[str]) -> str:
    """English words for the standard analyzer, which splits at "-" and "."; `en_tokens` keeps "low-carbon"
    and "2.5" whole, and so does an underscore, a word character to both analyzers."""
    return " ".join(t.replace("-", "_").replace(".", "_") for t in tokens)


def or_none(value: int | None) -> int:
    return NONE if value is None else int(value)


def batches(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def ranked(hits: list[tuple[int, float]], depth: int) -> list[int]:
    """Rows scoring above zero, best first, ties by row (as `LocalSearcher`'s stable sort orders them)."""
    best: dict[int, float] = {}
    for row, score in hits:
        if score > 0 and score > best.get(row, 0.0):
            best[row] = score
    return sorted(best, key=lambda row: (-best[row], row))[:depth]


class MilvusSearcher:
    """The passage rankings from a Milvus server or a milvus-lite file. One collection per index build holds
    the passages (row as primary key, vector, the Chinese and the English words each with a BM25 function
    into a sparse vector, and the fields the filters need), a second one the body sentences and English
    renderings with their vectors. A build already in Milvus is reused; a new one is inserted, indexed,
    loaded, switched in under the alias `milvus_collection`, and the older builds' collections dropped."""

    name = "milvus"

    def __init__(self, view: IndexView, settings: Settings) -> None:
        if importlib.util.find_spec("pymilvus") is None:
            raise SettingsError(f"the milvus store needs pymilvus: {INSTALL_HINT}")
        if not NAME_RE.match(settings.milvus_collection):
            raise SettingsError(
                f"milvus_collection {settings.milvus_collection!r}: use letters, digits and underscores only"
            )
        self.view = view
        self.uri = settings.milvus_uri or str(settings.index_dir / LITE_FILE)
        self.alias = settings.milvus_collection
        self.passages, self.sentences = collection_names(self.alias, view)
        self.build_seconds: float | None = None  # time spent putting this build into Milvus; None: reused
        self.client = connect(self.uri)
        with failures(self.uri, "opening the collections"):
            if self.complete():
                log.info("milvus: reusing %s at %s", self.passages, self.uri)
            else:
                started = time.perf_counter()
                self.build()
                self.build_seconds = time.perf_counter() - started
                log.info("milvus: built %s at %s in %.1f s", self.passages, self.uri, self.build_seconds)
            self.serve()

    # --- the collections ---------------------------------------------------------------------------

    def complete(self) -> bool:
        """This build's collections exist and hold every row (a build cut short by a crash is redone)."""
        client = self.client
        if not (client.has_collection(self.passages) and client.has_collection(self.sentences)):
            return False
        sentences = sum(s.kind in SENTENCE_KINDS for s in self.view.sentences)
        expected = {self.passages: len(self.view.passages), self.sentences: sentences}
        for name, count in expected.items():
            client.load_collection(name)  # a reopened collection must be loaded before it can be read
            found = client.query(name, filter="", output_fields=["count(*)"], consistency_level="Strong")
            if int(found[0]["count(*)"]) != count:
                log.warning("milvus: %s holds %s rows, not %d; building it again", name, found[0], count)
                return False
        return True

    def build(self) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        client, dim = self.client, int(self.view.passage_vectors.shape[1])
        for name in (self.passages, self.sentences):
            if client.has_collection(name):
                client.drop_collection(name)

        schema = MilvusClient.create_schema(auto_id=False, description=f"planqa passages of {self.view.folder.name}")
        schema.add_field("row", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        for lang, analyzer in (("zh", ZH_ANALYZER), ("en", EN_ANALYZER)):
            schema.add_field(
                lang, DataType.VARCHAR, max_length=MAX_VARCHAR, enable_analyzer=True, analyzer_params=analyzer
            )
            schema.add_field(f"{lang}_sparse", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(
                Function(
                    name=f"{lang}_bm25",
                    function_type=FunctionType.BM25,
                    input_field_names=[lang],
                    output_field_names=[f"{lang}_sparse"],
                )
            )
        self.add_place_fields(schema, DataType)
        schema.add_field("box", DataType.INT64)
        schema.add_field("part", DataType.VARCHAR, max_length=SHORT_VARCHAR)
        client.create_collection(self.passages, schema=schema)

        schema = MilvusClient.create_schema(auto_id=False, description=f"planqa sentences of {self.view.folder.name}")
        schema.add_field("id", DataType.INT64, is_primary=True)  # the sentence's position in the view
        schema.add_field("row", DataType.INT64)  # its passage
        schema.add_field("kind", DataType.VARCHAR, max_length=SHORT_VARCHAR)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        self.add_place_fields(schema, DataType)
        client.create_collection(self.sentences, schema=schema)

        for name, records in ((self.passages, self.passage_records()), (self.sentences, self.sentence_records())):
            for batch in batches(records, INSERT_BATCH):
                client.insert(name, batch)
            client.flush(name)

        client.create_index(self.passages, index_params(client, lexical=True))
        client.create_index(self.sentences, index_params(client, lexical=False))
        for name in (self.passages, self.sentences):
            client.load_collection(name)

    @staticmethod
    def add_place_fields(schema: Any, data_type: Any) -> None:
        schema.add_field("doc_id", data_type.VARCHAR, max_length=SHORT_VARCHAR)
        schema.add_field("chapter", data_type.INT64)
        schema.add_field("section", data_type.INT64)

    def place_fields(self, row: int) -> dict[str, Any]:
        chunk = self.view.passages[row].chunk
        return {"doc_id": chunk.doc_id, "chapter": or_none(chunk.path.chapter), "section": or_none(chunk.path.section)}

    def passage_records(self) -> list[dict[str, Any]]:
        vectors = np.asarray(self.view.passage_vectors, dtype=np.float32)
        return [
            {
                "row": p.row,
                "vector": vectors[p.row],
                "zh": zh_text(p.tokens),
                "en": en_text(p.tokens_en),
                **self.place_fields(p.row),
                "box": or_none(p.chunk.path.box),
                "part": p.chunk.path.part,
            }
            for p in self.view.passages
        ]

    def sentence_records(self) -> list[dict[str, Any]]:
        """The body sentences and English renderings, with their passage's place."""
        vectors = np.asarray(self.view.sentence_vectors, dtype=np.float32)
        return [
            {"id": i, "row": s.row, "kind": s.kind, "vector": vectors[i], **self.place_fields(s.row)}
            for i, s in enumerate(self.view.sentences)
            if s.kind in SENTENCE_KINDS
        ]

    def serve(self) -> None:
        """Point the alias (and `<alias>_sentences`) at this build, then drop every older build's collections:
        readers of the alias switch in one step, and never to a half-built collection."""
        client = self.client
        aliases = {self.alias: self.passages, f"{self.alias}_sentences": self.sentences}
        for alias, target in aliases.items():
            if alias in client.list_aliases(target)["aliases"]:
                continue  # already served
            if alias in client.list_aliases()["aliases"]:
                client.alter_alias(target, alias)
            else:
                client.create_alias(target, alias)
        pattern = build_collection_re(self.alias)
        for name in client.list_collections():
            if pattern.match(name) and name not in aliases.values():
                log.info("milvus: dropping %s, an older build", name)
                client.drop_collection(name)

    def close(self) -> None:
        self.client.close()

    # --- the searches ------------------------------------------------------------------------------

    def search(
        self, collection: str, data: Any, field: str, depth: int, expr: str, group_by: str | None = None
    ) -> list[tuple[int, float]]:
        """(passage row, score) of the best hits of one search."""
        if depth <= 0:
            return []
        extra: dict[str, Any] = {"group_by_field": group_by, "group_size": 1} if group_by else {}
        with failures(self.uri, "searching"):
            result = self.client.search(
                collection,
                data=[data],
                anns_field=field,
                limit=min(depth, MAX_LIMIT),
                filter=expr,
                output_fields=["row"],
                **extra,
            )
        return [(int(hit["entity"]["row"]), float(hit["distance"])) for hit in result[0]]

    def dense(self, vector: np.ndarray, depth: int, filters: Filters) -> list[int]:
        vector = np.asarray(vector, dtype=np.float32)
        return ranked(self.search(self.passages, vector, "vector", depth, filter_expression(filters)), depth)

    def best_sentence(self, vector: np.ndarray, depth: int, filters: Filters, english: bool = False) -> list[int]:
        kind = "english" if english else "body"
        expr = " and ".join(filter(None, [f'kind == "{kind}"', filter_expression(filters)]))
        # grouped by passage: each passage once, scored by its best sentence
        hits = self.search(self.sentences, np.asarray(vector, dtype=np.float32), "vector", depth, expr, "row")
        return ranked(hits, depth)

    def lexical(self, tokens: Sequence[str], depth: int, filters: Filters, field: Field = "zh") -> list[int]:
        text = zh_text(tokens) if field == "zh" else en_text(tokens)
        if not text.strip():
            return []
        hits = self.search(self.passages, text, f"{field}_sparse", depth, filter_expression(filters))
        # A BM25 score is positive; milvus-lite returns it negated (as a distance), a server as it is.
        return ranked([(row, abs(score)) for row, score in hits], depth)

    def dense_scores(self, vector: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        # From the view's own copy of the passage vectors: the same inner products the FLAT/IP index computes,
        # without a round trip per place for a handful of rows the caller already knows.
        return self.view.passage_vectors[list(rows)] @ vector


def connect(uri: str) -> Any:
    """A client for a server address or a milvus-lite file, or an error that names the URI."""
    from pymilvus import MilvusClient
    from pymilvus.exceptions import MilvusException

    lite = "://" not in uri and not uri.startswith("unix:")
    if lite and not uri.endswith(".db"):
        raise SettingsError(f"milvus_uri {uri!r}: give a server (http://host:19530) or a milvus-lite file ending .db")
    if lite and importlib.util.find_spec("milvus_lite") is None:
        raise SettingsError(f"a milvus-lite file ({uri}) needs milvus-lite: {INSTALL_HINT}")
    options = {"grpc_options": {"grpc.keepalive_time_ms": LITE_KEEPALIVE_MS}} if lite else {}
    try:
        return MilvusClient(uri=uri, timeout=CONNECT_TIMEOUT_S, **options)
    except MilvusException as exc:
        hint = (
            " (a milvus-lite file is open in one process at a time: is another planqa using it?)"
            if lite
            else "; is the server running? (set PLANQA_MILVUS_URI, or leave it empty for a milvus-lite file)"
        )
        raise MilvusUnavailableError(f"cannot open Milvus at {uri}: {exc.message}{hint}") from exc


@contextmanager
def failures(uri: str, doing: str) -> Iterator[None]:
    """A Milvus error inside becomes a `MilvusUnavailableError` naming the URI and the step."""
    from pymilvus.exceptions import MilvusException

    try:
        yield
    except MilvusException as exc:
        raise MilvusUnavailableError(f"Milvus at {uri} failed {doing}: {exc.message}") from exc
