"""Turns a corpus file into a `Document`: id, titles, outline and attributed text units."""

from __future__ import annotations

import logging
from pathlib import Path

from assistant.embed.base import Embedder
from assistant.ingest.curation import Curation
from assistant.ingest.files import read_plan_file
from assistant.ingest.outline import count_heading_lines, find_title, parse_headed, parse_toc
from assistant.ingest.recovery import recover_units
from assistant.models import Document, content_hash

log = logging.getLogger(__name__)


def document_id(text: str) -> str:
    """Content hash of the decoded text: the same plan in GBK or UTF-8 keeps one id."""
    return content_hash(text)


def load_document(path: Path, embedder: Embedder | None, curation: Curation) -> Document:
    text = read_plan_file(path)
    return parse_document(text, path.name, embedder, curation)


def parse_document(text: str, source: str, embedder: Embedder | None, curation: Curation) -> Document:
    """Outline from headings on their own lines; for a text whose headings are inline or missing, from
    its table of contents with every sentence attributed by content (see `recovery`)."""
    title = find_title(text, Path(source).stem)
    toc = parse_toc(text)
    if toc is not None and count_heading_lines(text[toc[2] :]) < len(toc[0].chapters):
        outline, toc_start, toc_end = toc
        units = recover_units(
            text,
            outline,
            toc_start,
            toc_end,
            embedder.embed_passages if embedder else None,
            embedder.embed_queries if embedder else None,
        )
        structure = "recovered"
    else:
        outline, units = parse_headed(text)
        structure = "headings"
    doc_id = document_id(text)
    log.info("%s: %s, %d chapters, %d units (%s)", source, title, len(outline.chapters), len(units), structure)
    return Document(
        id=doc_id,
        source=source,
        title=title,
        title_en=curation.title_en(source, title),
        text=text,
        outline=outline,
        units=tuple(units),
        structure=structure,
    )
