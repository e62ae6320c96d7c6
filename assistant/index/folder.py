"""The index on disk: a folder of plain files (FAISS vectors, passages and sentences as JSON lines, documents
and a manifest as JSON), validated on load into an `IndexView`, written beside the old build and switched
in with one rename. Nothing is pickled."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import IndexCorruptError
from assistant.index.view import IndexView, Passage, StoredDocument, StoredSentence
from assistant.models import (
    Chunk,
    GlossaryTerm,
    Outline,
    OutlineBox,
    OutlineChapter,
    OutlineSection,
    SectionPath,
)

log = logging.getLogger(__name__)

# 4: typed sentence rows ("kind", the rendering beside each body sentence), passages carry heading_en
FORMAT_VERSION = 4
CURRENT_LINK = "current"
BUILDS_DIR = "builds"
FILES = ("manifest.json", "documents.json", "chunks.jsonl", "vectors.faiss", "sentences.jsonl", "sentence_vectors.npy")


@dataclasses.dataclass(frozen=True)
class BuiltIndex:
    """What a build hands to `write_index`."""

    manifest: dict[str, Any]
    documents: list[StoredDocument]
    passages: list[Passage]
    passage_vectors: np.ndarray
    sentences: list[StoredSentence]
    sentence_vectors: np.ndarray


# --- records ---------------------------------------------------------------------------------------


def outline_to_json(outline: Outline) -> dict[str, Any]:
    return {
        "chapters": [
            {"n": c.n, "title": c.title, "sections": [{"n": s.n, "title": s.title} for s in c.sections]}
            for c in outline.chapters
        ],
        "boxes": [{"n": b.n, "title": b.title, "chapter": b.chapter} for b in outline.boxes],
        "glossary": [{"n": t.n, "term": t.term} for t in outline.glossary],
        "numbering": outline.numbering,
    }


def outline_from_json(record: dict[str, Any]) -> Outline:
    return Outline(
        chapters=tuple(
            OutlineChapter(c["n"], c["title"], tuple(OutlineSection(s["n"], s["title"]) for s in c["sections"]))
            for c in record["chapters"]
        ),
        boxes=tuple(OutlineBox(b["n"], b["title"], b["chapter"]) for b in record["boxes"]),
        glossary=tuple(GlossaryTerm(t["n"], t["term"]) for t in record["glossary"]),
        numbering=record.get("numbering", "chapters"),  # indexes built before plans could be enumerated
    )


def document_to_json(doc: StoredDocument) -> dict[str, Any]:
    return {**dataclasses.asdict(doc), "outline": outline_to_json(doc.outline)}


def document_from_json(record: dict[str, Any]) -> StoredDocument:
    return StoredDocument(**{**record, "outline": outline_from_json(record["outline"])})


def passage_to_json(passage: Passage) -> dict[str, Any]:
    chunk = passage.chunk
    return {
        "id": chunk.id,
        "doc_id": chunk.doc_id,
        "path": dataclasses.asdict(chunk.path),
        "text": chunk.text,
        "embed_text": chunk.embed_text,
        "spans": [list(s) for s in chunk.spans],
        "ordinal": chunk.ordinal,
        "tokens": list(passage.tokens),
        "text_en": passage.text_en,
        "tokens_en": list(passage.tokens_en),
        "heading_en": passage.heading_en,
    }


def passage_from_json(row: int, record: dict[str, Any]) -> Passage:
    chunk = Chunk(
        id=record["id"],
        doc_id=record["doc_id"],
        path=SectionPath(**record["path"]),
        text=record["text"],
        embed_text=record["embed_text"],
        spans=tuple((int(a), int(b)) for a, b in record["spans"]),
        ordinal=int(record["ordinal"]),
    )
    return Passage(
        row, chunk, tuple(record["tokens"]), tuple(record["tokens_en"]), record["text_en"], record["heading_en"]
    )


def sentence_to_json(sentence: StoredSentence) -> dict[str, Any]:
    record = {"row": sentence.row, "text": sentence.text, "kind": sentence.kind}
    return {**record, "en": sentence.en} if sentence.en else record


def sentence_from_json(record: dict[str, Any]) -> StoredSentence:
    if record["kind"] not in ("heading", "body", "english"):
        raise ValueError(f"unknown sentence kind {record['kind']!r}")
    return StoredSentence(int(record["row"]), record["text"], record["kind"], record.get("en", ""))


# --- writing ---------------------------------------------------------------------------------------


def write_index(index_dir: Path, built: BuiltIndex) -> Path:
    """Write a new build next to the current one, then switch the `current` link to it in one rename:
    a crash at any point leaves the previous index in place."""
    import faiss

    builds = index_dir / BUILDS_DIR
    builds.mkdir(parents=True, exist_ok=True)
    folder = builds / f"build-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
    tmp = folder.with_name(folder.name + ".partial")
    tmp.mkdir()
    vectors = np.ascontiguousarray(built.passage_vectors, dtype=np.float32)
    flat = faiss.IndexFlatIP(vectors.shape[1])
    if len(vectors):
        flat.add(vectors)
    faiss.write_index(flat, str(tmp / "vectors.faiss"))
    write_jsonl(tmp / "chunks.jsonl", [passage_to_json(p) for p in built.passages])
    write_jsonl(tmp / "sentences.jsonl", [sentence_to_json(s) for s in built.sentences])
    np.save(tmp / "sentence_vectors.npy", np.ascontiguousarray(built.sentence_vectors, dtype=np.float32))
    documents = [document_to_json(d) for d in built.documents]
    (tmp / "documents.json").write_text(json.dumps(documents, ensure_ascii=False, indent=1), encoding="utf-8")
    manifest = {
        **built.manifest,
        "format": FORMAT_VERSION,
        "passages": len(built.passages),
        "dim": int(vectors.shape[1]),
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.rename(folder)
    switch_current(index_dir, folder)
    return folder


def switch_current(index_dir: Path, folder: Path) -> None:
    """Point `current` at `folder` with one rename (a reader sees the old build or the new one, never a mix),
    then remove the older builds."""
    link_tmp = index_dir / f".{CURRENT_LINK}.{os.getpid()}"
    if link_tmp.is_symlink() or link_tmp.exists():
        link_tmp.unlink()
    link_tmp.symlink_to(Path(BUILDS_DIR) / folder.name)
    os.replace(link_tmp, index_dir / CURRENT_LINK)
    remove_old_builds(folder.parent, keep=folder)


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


# --- reading ---------------------------------------------------------------------------------------


def read_index(index_dir: Path) -> IndexView:
    """Load and validate the current build. Raises IndexCorruptError with the reason."""
    import faiss

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
        flat = faiss.read_index(str(folder / "vectors.faiss"))
    except (OSError, ValueError, RuntimeError) as exc:  # faiss raises RuntimeError on a damaged file
        raise IndexCorruptError(f"index at {folder} is unreadable: {exc}") from exc
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexCorruptError(f"index at {folder} has format {manifest.get('format')}, expected {FORMAT_VERSION}")
    size, dim = int(flat.ntotal), int(flat.d)
    if not (len(records) == size == manifest.get("passages")) or dim != manifest.get("dim"):
        raise IndexCorruptError(
            f"index at {folder} is inconsistent: {len(records)} passages, {size} vectors, "
            f"manifest says {manifest.get('passages')} of dimension {manifest.get('dim')}"
        )
    if sentence_vectors.shape != (len(sentences), dim):
        raise IndexCorruptError(
            f"index at {folder} has {len(sentences)} sentences but {sentence_vectors.shape} vectors"
        )
    try:
        passages = tuple(passage_from_json(row, r) for row, r in enumerate(records))
        stored_sentences = tuple(sentence_from_json(s) for s in sentences)
        stored_documents = tuple(document_from_json(d) for d in documents)
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexCorruptError(f"index at {folder} has a malformed record: {exc}") from exc
    if any(not 0 <= s.row < size for s in stored_sentences):
        raise IndexCorruptError(f"index at {folder} has a sentence of no passage")
    passage_vectors = flat.reconstruct_n(0, size) if size else np.zeros((0, dim), dtype=np.float32)
    return IndexView(
        folder.resolve(), manifest, stored_documents, passages, stored_sentences, sentence_vectors, passage_vectors
    )
