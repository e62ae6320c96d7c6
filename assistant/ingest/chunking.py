"""Cuts a document's attributed units into passages sized for the embedder, never across a place."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from assistant.models import Chunk, Document, SectionPath, Unit, content_hash

SEPARATORS = ["\n", "。", "！", "？", "；", ";", "，", ""]


@dataclass(frozen=True)
class Piece:
    text: str
    start: int
    end: int
    opens_paragraph: bool = False


@lru_cache(maxsize=8)
def _splitter(max_chars: int):
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        chunk_size=max_chars,
        chunk_overlap=0,
        keep_separator="end",
        length_function=len,
        strip_whitespace=True,
    )


def chunk_document(doc: Document, max_chars: int, min_chars: int) -> list[Chunk]:
    chunks: list[Chunk] = []
    for path, units in group_by_place(doc.units):
        paragraphs = doc.structure == "headings"  # a recovered document's units are sentences
        pieces = [piece for unit in units for piece in split_unit(unit, max_chars, paragraphs)]
        for group in pack(pieces, max_chars, min_chars):
            chunks.append(make_chunk(doc, path, group, len(chunks)))
    return chunks


def group_by_place(units: tuple[Unit, ...]) -> list[tuple[SectionPath, list[Unit]]]:
    """Units of each place, places in order of first appearance (a recovered document's units of one
    place are scattered through its source)."""
    groups: dict[SectionPath, list[Unit]] = {}
    for unit in units:
        groups.setdefault(unit.path, []).append(unit)
    return list(groups.items())


def split_unit(unit: Unit, max_chars: int, paragraph: bool) -> list[Piece]:
    """A paragraph cut at sentence ends into pieces of at most `max_chars`, with source offsets."""
    if len(unit.text) <= max_chars:
        return [Piece(unit.text, unit.start, unit.end, paragraph)]
    pieces, cursor = [], 0
    for part in _splitter(max_chars).split_text(unit.text):
        at = unit.text.find(part, cursor)
        if at < 0:  # the splitter stripped something; fall back to the running position
            at = cursor
        pieces.append(Piece(part, unit.start + at, unit.start + at + len(part), paragraph and not pieces))
        cursor = at + len(part)
    return pieces


def pack(pieces: list[Piece], max_chars: int, min_chars: int) -> list[list[Piece]]:
    """Consecutive pieces into groups of at most `max_chars`; a short tail joins the group before it."""
    groups: list[list[Piece]] = []
    size = 0
    for piece in pieces:
        if groups and size + len(piece.text) <= max_chars:
            groups[-1].append(piece)
            size += len(piece.text)
        else:
            groups.append([piece])
            size = len(piece.text)
    if len(groups) > 1 and sum(len(p.text) for p in groups[-1]) < min_chars:
        tail = groups.pop()
        if sum(len(p.text) for p in groups[-1] + tail) <= max_chars + min_chars:
            groups[-1].extend(tail)
        else:
            groups.append(tail)
    return groups


def make_chunk(doc: Document, path: SectionPath, pieces: list[Piece], ordinal: int) -> Chunk:
    text = "".join(("\n" if p.opens_paragraph and i else "") + p.text for i, p in enumerate(pieces))
    heading = path.label()
    embed_text = f"{doc.title} {heading}\n{text}" if heading else f"{doc.title}\n{text}"
    return Chunk(
        id=content_hash(f"{doc.id}|{heading}|{text}"),
        doc_id=doc.id,
        path=path,
        text=text,
        embed_text=embed_text,
        spans=merge_spans([(p.start, p.end) for p in pieces]),
        ordinal=ordinal,
    )


def merge_spans(spans: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)
