"""Passages follow the structure: never across a place, sized for the embedder, offsets into the source."""

from __future__ import annotations

from assistant.ingest.chunking import chunk_document
from assistant.ingest.curation import Curation
from assistant.ingest.documents import parse_document
from assistant.text import split_sentences
from tests.conftest import CLEAN, SMALL_PLAN


def clean_chunks(max_chars=500, min_chars=150):
    doc = parse_document(CLEAN.read_text(encoding="utf-8"), CLEAN.name, None, Curation())
    return doc, chunk_document(doc, max_chars, min_chars)


def test_passages_never_cross_a_place_and_cover_every_unit():
    doc, chunks = clean_chunks()
    for unit in doc.units:
        holders = [c for c in chunks if any(s <= unit.start and unit.end <= e for s, e in c.spans)]
        pieces = [c for c in chunks if c.path == unit.path and unit.text[:20] in c.text]
        assert holders or pieces, f"unit not covered: {unit.text[:30]}"
        assert all(c.path == unit.path for c in holders)


def test_passage_text_comes_from_its_spans():
    doc, chunks = clean_chunks()
    for chunk in chunks:
        covered = "".join(doc.text[s:e] for s, e in chunk.spans)
        for sentence in split_sentences(chunk.text):
            assert sentence.text in covered


def test_passage_sizes():
    _, chunks = clean_chunks()
    sizes = [len(c.text) for c in chunks]
    assert max(sizes) <= 500 + 150
    long_enough = [s for s in sizes if s >= 100]
    assert len(long_enough) / len(sizes) > 0.6, "most passages are not fragments"


def test_boxes_and_glossary_terms_are_their_own_passages():
    _, chunks = clean_chunks()
    assert {c.path.box for c in chunks if c.path.part == "box"} == set(range(1, 11))
    glossary = [c for c in chunks if c.path.part == "glossary"]
    assert sorted(c.path.term for c in glossary) == list(range(1, 41))


def test_embedded_text_carries_the_heading_path_and_shown_text_does_not():
    doc = parse_document(SMALL_PLAN, "water.txt", None, Curation())
    chunks = chunk_document(doc, 500, 150)
    task = next(c for c in chunks if "水源保护区" in c.text)
    assert task.embed_text.startswith("示范省水资源保护规划 第二章 主要任务 › 第一节 加强水源保护")
    assert not task.text.startswith("第二章")


def test_ids_are_content_hashes():
    _, first = clean_chunks()
    _, second = clean_chunks()
    assert [c.id for c in first] == [c.id for c in second]
    assert len({c.id for c in first}) == len(first)
