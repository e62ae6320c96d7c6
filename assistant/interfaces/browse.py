"""What the index holds, for people: document summaries and each plan's recovered outline."""

from __future__ import annotations

from collections import Counter
from typing import Any

from assistant import wording
from assistant.index.view import IndexView
from assistant.text import box_label, chapter_label, section_label


def document_summaries(view: IndexView) -> list[dict[str, Any]]:
    summaries = []
    for doc in view.documents:
        chapters = doc.outline.chapters
        summaries.append(
            {
                "id": doc.id,
                "title": doc.title,
                "title_en": view.english_title(doc.id),
                "source": doc.source,
                "chapters": len(chapters),
                "sections": sum(len(c.sections) for c in chapters),
                "boxes": len(doc.outline.boxes),
                "glossary_terms": len(doc.outline.glossary),
                "passages": doc.passages,
                "structure": doc.structure,
            }
        )
    return summaries


def passage_counts(view: IndexView, doc_id: str) -> Counter[tuple[Any, ...]]:
    counts: Counter[tuple[Any, ...]] = Counter()
    for chunk in view.chunks:
        if chunk.doc_id != doc_id:
            continue
        p = chunk.path
        counts[(p.part, p.chapter, p.section, p.box, p.term)] += 1
        if p.chapter is not None:
            counts[("chapter", p.chapter)] += 1
    return counts


def outline_lines(view: IndexView, key: str) -> list[str]:
    """The recovered outline as indented lines with passage counts."""
    doc = view.find_document(key)
    counts = passage_counts(view, doc.id)
    lines = [
        f"《{doc.title}》 {view.english_title(doc.id)}".rstrip(),
        f"  id {doc.id} · {doc.source} · {doc.structure}",
    ]
    for part in ("notice", "preface"):
        if counts[(part, None, None, None, None)]:
            lines.append(f"  {wording.PART_NAMES[part]['zh']}  [{counts[(part, None, None, None, None)]}]")
    numbering = doc.outline.numbering
    for chapter in doc.outline.chapters:
        label = chapter_label(chapter.n, chapter.title, numbering=numbering)
        lines.append(f"  {label}  [{counts[('chapter', chapter.n)]}]")
        lead = counts[("body", chapter.n, None, None, None)]
        if lead:
            lines.append(f"    {wording.PART_NAMES['chapter_lead']['zh']}  [{lead}]")
        for section in chapter.sections:
            n = counts[("body", chapter.n, section.n, None, None)]
            lines.append(f"    {section_label(section.n, section.title, numbering=numbering)}  [{n}]")
        for box in doc.outline.boxes:
            if box.chapter == chapter.n:
                n = counts[("box", chapter.n, None, box.n, None)]
                lines.append(f"    {box_label(box.n, box.title)}  [{n}]")
    if doc.outline.glossary:
        lines.append(f"  {wording.PART_NAMES['glossary']['zh']}  ({len(doc.outline.glossary)} terms)")
        for term in doc.outline.glossary:
            lines.append(f"    {term.n}. {term.term}  [{counts[('glossary', None, None, None, term.n)]}]")
    return lines
