"""The index on disk: a folder of plain files (FAISS vectors, passages as JSON lines, documents and a
manifest as JSON), validated on load, written atomically. Nothing is pickled."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assistant.errors import IndexCorruptError
from assistant.models import Chunk, SectionPath

log = logging.getLogger(__name__)

FORMAT_VERSION = 3
CURRENT_LINK = "current"
BUILDS_DIR = "builds"
FILES = ("manifest.json", "documents.json", "chunks.jsonl", "vectors.faiss", "sentences.jsonl", "sentence_vectors.npy")


class VectorStore(Protocol):
    """Exact or approximate inner-product search over normalised vectors."""

    @property
    def size(self) -> int: ...

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, row ids) of the k nearest rows, best first."""
        ...

    def vectors(self) -> np.ndarray: ...


class FaissFlatStore:
    """Exact inner-product search with FAISS: the corpus is small enough that exact beats approximate."""

    def __init__(self, index: Any) -> None:
        self._index = index

    @classmethod
    def from_vectors(cls, vectors: np.ndarray) -> FaissFlatStore:
        import faiss

        index = faiss.IndexFlatIP(vectors.shape[1])
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index)

    @classmethod
    def read(cls, path: Path) -> FaissFlatStore:
        import faiss

        return cls(faiss.read_index(str(path)))

    def write(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.size)
        if k <= 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        scores, ids = self._index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)
        return scores[0], ids[0]

    def vectors(self) -> np.ndarray:
        return self._index.reconstruct_n(0, self.size) if self.size else np.zeros((0, self.dim), dtype=np.float32)


@dataclass(frozen=True)
class StoredIndex:
    manifest: dict[str, Any]
    documents: list[dict[str, Any]]
    chunks: list[Chunk]
    store: FaissFlatStore
    folder: Path
    sentences: list[dict[str, Any]]  # {"chunk": passage row, "text", "heading"?}: passages cut into sentences
    sentence_vectors: np.ndarray


def chunk_to_json(chunk: Chunk, tokens: list[str], tokens_en: list[str], text_en: str) -> dict[str, Any]:
    return {
        "id": chunk.id,
        "doc_id": chunk.doc_id,
        "path": dataclasses.asdict(chunk.path),
        "text": chunk.text,
        "embed_text": chunk.embed_text,
        "spans": [list(s) for s in chunk.spans],
        "ordinal": chunk.ordinal,
        "tokens": tokens,
        "text_en": text_en,
        "tokens_en": tokens_en,
    }


def chunk_from_json(record: dict[str, Any]) -> Chunk:
    return Chunk(
        id=record["id"],
        doc_id=record["doc_id"],
        path=SectionPath(**record["path"]),
        text=record["text"],
        embed_text=record["embed_text"],
        spans=tuple((int(a), int(b)) for a, b in record["spans"]),
        ordinal=int(record["ordinal"]),
    )


def write_index(
    index_dir: Path,
    manifest: dict[str, Any],
    documents: list[dict[str, Any]],
    chunk_records: list[dict[str, Any]],
    vectors: np.ndarray,
    sentences: list[dict[str, Any]],
    sentence_vectors: np.ndarray,
) -> Path:
    """Write a new build next to the current one, then switch the `current` link to it in one rename:
    a crash at any point leaves the previous index in place."""
    builds = index_dir / BUILDS_DIR
    builds.mkdir(parents=True, exist_ok=True)
    folder = builds / f"build-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
    tmp = folder.with_name(folder.name + ".partial")
    tmp.mkdir()
    FaissFlatStore.from_vectors(vectors).write(tmp / "vectors.faiss")
    write_jsonl(tmp / "chunks.jsonl", chunk_records)
    write_jsonl(tmp / "sentences.jsonl", sentences)
    np.save(tmp / "sentence_vectors.npy", np.ascontiguousarray(sentence_vectors, dtype=np.float32))
    (tmp / "documents.json").write_text(json.dumps(documents, ensure_ascii=False, indent=1), encoding="utf-8")
    manifest = {**manifest, "format": FORMAT_VERSION, "passages": len(chunk_records), "dim": int(vectors.shape[1])}
    (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.rename(folder)
    link_tmp = index_dir / f".{CURRENT_LINK}.{os.getpid()}"
    if link_tmp.is_symlink() or link_tmp.exists():
        link_tmp.unlink()
    link_tmp.symlink_to(Path(BUILDS_DIR) / folder.name)
    os.replace(link_tmp, index_dir / CURRENT_LINK)
    remove_old_builds(builds, keep=folder)
    return folder


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def remove_old_builds(builds: Path, keep: Path) -> None:
    for entry in builds.iterdir():
        if entry != keep:
            shutil.rmtree(entry, ignore_errors=True)


def read_index(index_dir: Path) -> StoredIndex:
    """Load and validate the current build. Raises IndexCorruptError with the reason."""
    folder = index_dir / CURRENT_LINK
    if not folder.exists():
        raise IndexCorruptError(f"no index at {index_dir}")
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise IndexCorruptError(f"index at {folder} is missing {', '.join(missing)}")
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        documents = json.loads((folder / "documents.json").read_text(encoding="utf-8"))
        records = read_jsonl(folder / "chunks.jsonl")
        sentences = read_jsonl(folder / "sentences.jsonl")
        sentence_vectors = np.load(folder / "sentence_vectors.npy", allow_pickle=False)
        store = FaissFlatStore.read(folder / "vectors.faiss")
    except (OSError, ValueError, RuntimeError) as exc:  # faiss raises RuntimeError on a damaged file
        raise IndexCorruptError(f"index at {folder} is unreadable: {exc}") from exc
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexCorruptError(f"index at {folder} has format {manifest.get('format')}, expected {FORMAT_VERSION}")
    if not (len(records) == store.size == manifest.get("passages")) or store.dim != manifest.get("dim"):
        raise IndexCorruptError(
            f"index at {folder} is inconsistent: {len(records)} passages, {store.size} vectors, "
            f"manifest says {manifest.get('passages')} of dimension {manifest.get('dim')}"
        )
    if sentence_vectors.shape != (len(sentences), store.dim):
        raise IndexCorruptError(
            f"index at {folder} has {len(sentences)} sentences but {sentence_vectors.shape} vectors"
        )
    try:
        chunks = [chunk_from_json(r) for r in records]
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexCorruptError(f"index at {folder} has a malformed passage: {exc}") from exc
    return StoredIndex(manifest, documents, chunks, store, folder.resolve(), sentences, sentence_vectors)
