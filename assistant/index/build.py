"""Builds the index from the corpus and keeps it fresh: an unchanged corpus loads as it is; a changed
one is rebuilt, re-embedding only the documents that changed; a damaged one is rebuilt from scratch."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable, Generator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from assistant.embed.base import Embedder, embedder_identity
from assistant.errors import IndexCorruptError, LoadError
from assistant.index.folder import read_index
from assistant.index.streaming import (
    BuildWriter,
    DocumentEmbedder,
    FailedDocument,
    Prepared,
    PreparedDocument,
    SharedVectors,
    in_order,
)
from assistant.index.view import IndexView, Passage, StoredDocument, StoredSentence
from assistant.ingest.chunking import chunk_document
from assistant.ingest.curation import Curation
from assistant.ingest.documents import load_document
from assistant.ingest.files import corpus_files
from assistant.ingest.recovery import RecoverySettings
from assistant.models import Chunk, Document
from assistant.settings import Settings
from assistant.text import en_tokens, sentences, zh_tokens

log = logging.getLogger(__name__)

# Bump when parsing, recovery or chunking change what a document turns into.
PIPELINE_VERSION = "2026-12-08.1"
# Documents prepared at once on threads, ahead of the writer. Two overlap one document's Python work (parsing,
# recovery, jieba) with the other's embedding: 20.6 s instead of 36.1 s for 4 plans on two cores
# (benchmarks/bench_ingest_memory.py --parallel); one alone gains nothing, as writing is cheap.
PREPARE_WORKERS = 2


@dataclass
class BuildReport:
    rebuilt: bool = False
    reason: str = ""
    embedded_texts: int = 0  # texts the embedder actually ran on (the rest came from the last build)
    embedded_chars: int = 0
    embed_seconds: float = 0.0  # of `seconds`, the time inside the embedder
    errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def corpus_state(settings: Settings) -> dict[str, Any]:
    """What the index must match to be fresh: corpus files, embedder, pipeline and chunking settings."""
    corpus = settings.corpus_dir
    curated = sorted(p for p in corpus.rglob("*") if p.is_file() and p.suffix in {".json", ".jsonl", ".tsv"})
    curation_hash = hashlib.sha256(b"".join(file_sha256(p).encode() for p in curated)).hexdigest()[:16]
    return {
        "pipeline": PIPELINE_VERSION,
        "embedder": embedder_identity(settings),
        "chunking": {"max_chars": settings.chunk_max_chars, "min_chars": settings.chunk_min_chars},
        "recovery": dataclasses.asdict(RecoverySettings()),
        "curation": curation_hash,
        "english_vectors": settings.english_dense,
        "files": {p.name: file_sha256(p) for p in corpus_files(corpus)} if corpus.is_dir() else {},
    }


def ensure_index(
    settings: Settings,
    embedder_factory: Callable[[], Embedder],
    rebuild: bool = False,
    progress: bool = True,
    ray_actors: int = 0,
) -> tuple[IndexView, BuildReport]:
    """The current index, rebuilt first if it is missing, stale, damaged or `rebuild` is asked. With
    `ray_actors`, a build embeds in a Ray Data job of that many actors (`ray_embedding.py`)."""
    if not settings.corpus_dir.is_dir():
        raise LoadError(str(settings.corpus_dir), "corpus folder not found")
    state = corpus_state(settings)
    previous: IndexView | None = None
    reason = "rebuild requested" if rebuild else ""
    try:
        previous = read_index(settings.index_dir)
    except IndexCorruptError as exc:
        reason = reason or str(exc)
    if previous is not None and not rebuild:
        stale = staleness(previous.manifest, state)
        if not stale:
            return previous, BuildReport(errors=previous.manifest.get("errors", {}))
        reason = stale
    log.info("building the index: %s", reason)
    known = known_sentence_vectors(previous, state)
    previous = None  # of the last build only its sentence vectors are reused: let its texts and passages go
    report = build_index(settings, state, embedder_factory, known, progress, ray_actors)
    report.rebuilt, report.reason = True, reason
    return read_index(settings.index_dir), report


def staleness(manifest: dict[str, Any], state: dict[str, Any]) -> str:
    """Why an index no longer matches the corpus and settings; empty if it does."""
    for key in ("pipeline", "embedder", "chunking", "recovery", "curation", "english_vectors"):
        if manifest.get(key) != state[key]:
            return f"{key} changed ({manifest.get(key)} -> {state[key]})"
    indexed = {name: meta["sha256"] for name, meta in manifest.get("files", {}).items()}
    if indexed != state["files"]:
        changed = sorted(set(indexed.items()) ^ set(state["files"].items()))
        return "corpus changed: " + ", ".join(sorted({name for name, _ in changed}))
    return ""


def build_index(
    settings: Settings,
    state: dict[str, Any],
    embedder_factory: Callable[[], Embedder],
    known: Mapping[str, np.ndarray],
    progress: bool,
    ray_actors: int = 0,
) -> BuildReport:
    """Build the index document by document, each written to the new build folder as soon as it is ready."""
    started = time.perf_counter()
    report = BuildReport()
    files: dict[str, dict[str, str]] = {}
    items = [(path, state["files"][path.name]) for path in corpus_files(settings.corpus_dir)]
    prepared = prepared_documents(settings, items, embedder_factory, known, progress, ray_actors)
    with BuildWriter(settings.index_dir) as writer, closing(prepared):
        for result in tqdm(prepared, total=len(items), desc="documents", unit="doc", disable=not progress):
            write_document(writer, result, files, report)
        report.seconds = time.perf_counter() - started
        manifest = {
            **state,
            "files": files,
            "errors": report.errors,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "build_seconds": round(report.seconds, 2),
            "embed_seconds": round(report.embed_seconds, 2),
            "embedded_chars": report.embedded_chars,
        }
        writer.commit(manifest, lambda: embedder_factory().dim)
    return report


def prepared_documents(
    settings: Settings,
    items: list[tuple[Path, str]],
    embedder_factory: Callable[[], Embedder],
    known: Mapping[str, np.ndarray],
    progress: bool,
    ray_actors: int,
) -> Generator[Prepared, None, None]:
    """Each corpus file loaded, chunked and embedded, in file order: here, or in a Ray Data job."""
    if ray_actors:
        from assistant.index.ray_embedding import prepared_with_ray

        return prepared_with_ray(settings, items, known, ray_actors)
    shared = SharedVectors(embedder_factory(), known, progress)
    curation = Curation.load(settings.corpus_dir)

    def prepare(item: tuple[Path, str]) -> Prepared:
        return prepare_document(item[0], item[1], shared.for_document(), curation, settings)

    return in_order(items, prepare, PREPARE_WORKERS)


def write_document(
    writer: BuildWriter, result: Prepared, files: dict[str, dict[str, str]], report: BuildReport
) -> None:
    """Append one prepared document to the build, or record why it is not in it."""
    if isinstance(result, FailedDocument):
        report.errors[result.source] = result.reason
        return
    doc = result.document
    report.embedded_texts += result.stats.texts
    report.embedded_chars += result.stats.chars
    report.embed_seconds += result.stats.seconds
    first = next((name for name, meta in files.items() if meta["doc_id"] == doc.id), None)
    if first is not None:
        # The same decoded text (another name, another encoding) would be a second document with the
        # same id. Listed in the manifest's files all the same, so that it does not make the index stale.
        report.errors[doc.source] = f"same text as {first}"
        log.warning("%s not indexed: same text as %s", doc.source, first)
    else:
        writer.add(result)
    files[doc.source] = {"sha256": doc.file_sha256, "doc_id": doc.id}


def prepare_document(
    path: Path, sha: str, embedder: DocumentEmbedder, curation: Curation, settings: Settings
) -> Prepared:
    """One corpus file loaded, chunked and embedded, ready to write; or why it could not be read."""
    try:
        doc = load_document(path, embedder, curation)
    except LoadError as exc:
        log.error("%s", exc)
        return FailedDocument(path.name, exc.reason)
    chunks = chunk_document(doc, settings.chunk_max_chars, settings.chunk_min_chars)
    return document_rows(doc, sha, chunks, curation, embedder, settings.english_dense)


def document_rows(
    doc: Document, sha: str, chunks: list[Chunk], curation: Curation, embedder: DocumentEmbedder, english: bool
) -> PreparedDocument:
    """A document's passages and sentences (rows counted from its first passage) with their vectors."""
    headings = [heading_text(doc, c) for c in chunks]
    body = [sentences(c.text) or [c.text] for c in chunks]
    renderings = [english_sentences(texts, curation) if english else [] for texts in body]
    # the whole document in one call: batching backends (sentence-transformers) run far faster on it
    groups = [[h] for h in headings] + body + renderings
    vectors = split_rows(embedder.embed_passages([t for group in groups for t in group]), groups)
    n = len(chunks)
    rows: list[StoredSentence] = []
    blocks: list[np.ndarray] = []
    for i in range(n):
        # the heading is kept with the sentences so that a rebuild can reuse its vector too
        rows.append(StoredSentence(i, headings[i], "heading"))
        rows.extend(StoredSentence(i, t, "body", curation.rendering(t) or "") for t in body[i])
        rows.extend(StoredSentence(i, t, "english") for t in renderings[i])
        blocks.append(np.vstack([vectors[i], vectors[n + i], vectors[2 * n + i]]))
    passage_vectors = [passage_vector(vectors[n + i], vectors[i][0]) for i in range(n)]
    return PreparedDocument(
        stored_document(doc, sha, n),
        [stored_passage(i, doc, chunk, curation) for i, chunk in enumerate(chunks)],
        rows,
        stack(passage_vectors, embedder.dim),
        stack(blocks, embedder.dim),
        embedder.stats,
    )


def stack(blocks: list[np.ndarray], dim: int) -> np.ndarray:
    return np.vstack(blocks).astype(np.float32, copy=False) if blocks else np.zeros((0, dim), dtype=np.float32)


def split_rows(matrix: np.ndarray, groups: list[list[str]]) -> list[np.ndarray]:
    """The rows of `matrix` cut back into one block per group, in order."""
    bounds = np.cumsum([0] + [len(g) for g in groups])
    return [matrix[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def heading_text(doc: Document, chunk: Chunk) -> str:
    return f"{doc.title} {chunk.path.label()}".strip()


def passage_vector(sentence_vectors: np.ndarray, heading_vector: np.ndarray) -> np.ndarray:
    """A passage's vector: the mean of its sentences' vectors plus its heading path, weighted like one
    sentence. Embedding every sentence once (not every passage again) keeps a cold build near the
    embedder's floor on two cores, and gives the answerer sentence vectors for free."""
    combined = sentence_vectors.mean(axis=0) + heading_vector / max(len(sentence_vectors), 1)
    return (combined / (np.linalg.norm(combined) + 1e-9)).astype(np.float32)[None, :]


def known_sentence_vectors(previous: IndexView | None, state: dict[str, Any]) -> dict[str, np.ndarray]:
    """Sentence vectors of the previous build when it used the same embedder: a rebuild re-embeds only
    text that changed (a content-hash re-ingest)."""
    if previous is None or previous.manifest.get("embedder") != state["embedder"]:
        return {}
    return {s.text: v for s, v in zip(previous.sentences, previous.sentence_vectors)}


def stored_passage(row: int, doc: Document, chunk: Chunk, curation: Curation) -> Passage:
    text_en = english_rendering(chunk.text, curation)
    heading_en = curation.heading_en(doc.source, doc.title, chunk.path)
    return Passage(row, chunk, tuple(zh_tokens(chunk.text)), tuple(en_tokens(text_en)), text_en, heading_en)


def english_sentences(texts: list[str], curation: Curation) -> list[str]:
    """The curated English of each sentence that has one, each once, for vector search in English."""
    return list(dict.fromkeys(r for r in (curation.rendering(s) for s in texts) if r))


def english_rendering(text: str, curation: Curation) -> str:
    """The passage in English when every sentence of it has a curated rendering; else empty."""
    parts = sentences(text)
    rendered = [curation.rendering(s) for s in parts]
    if not parts or any(r is None for r in rendered):
        return ""
    return " ".join(r for r in rendered if r)


def stored_document(doc: Document, sha: str, passages: int) -> StoredDocument:
    return StoredDocument(
        doc.id, doc.source, doc.title, doc.title_en, doc.structure, sha, passages, doc.outline, doc.text
    )
