"""What the index holds, for people: document summaries and each plan's recovered outline."""

from __future__ import annotations

from collections import Counter
from typing import Any

from assistant.errors import PlanqaError
from assistant.numerals import to_chinese_numeral
from assistant.store import StoredIndex


def document_summaries(index: StoredIndex) -> list[dict[str, Any]]:
    summaries = []
    for doc in index.documents:
        chapters = doc["outline"]["chapters"]
        summaries.append(
            {
                "id": doc["id"],
                "title": doc["title"],
                "title_en": doc["title_en"],
                "source": doc["source"],
                "chapters": len(chapters),
                "sections": sum(len(c["sections"]) for c in chapters),
                "boxes": len(doc["outline"]["boxes"]),
                "glossary_terms": len(doc["outline"]["glossary"]),
                "passages": doc["passages"],
                "structure": doc["structure"],
            }
        )
    return summaries


def find_document(index: StoredIndex, key: str) -> dict[str, Any]:
    """A document by id, id prefix, file name or title."""
    for doc in index.documents:
        if key in (doc["id"], doc["source"], doc["title"]) or (len(key) >= 4 and doc["id"].startswith(key)):
            return doc
    known = ", ".join(f"{d['id']} ({d['source']})" for d in index.documents)
    raise PlanqaError(f"no document {key!r} in the index; known: {known}")


def passage_counts(index: StoredIndex, doc_id: str) -> Counter[tuple[Any, ...]]:
    counts: Counter[tuple[Any, ...]] = Counter()
    for chunk in index.chunks:
        if chunk.doc_id != doc_id:
            continue
        p = chunk.path
        counts[(p.part, p.chapter, p.section, p.box, p.term)] += 1
        if p.chapter is not None:
            counts[("chapter", p.chapter)] += 1
    return counts


def outline_lines(index: StoredIndex, key: str) -> list[str]:
    """The recovered outline as indented lines with passage counts."""
    doc = find_document(index, key)
    counts = passage_counts(index, doc["id"])
    lines = [
        f"《{doc['title']}》 {doc['title_en']}".rstrip(),
        f"  id {doc['id']} · {doc['source']} · {doc['structure']}",
    ]
    for part, label in (("notice", "印发通知"), ("preface", "前言")):
        if counts[(part, None, None, None, None)]:
            lines.append(f"  {label}  [{counts[(part, None, None, None, None)]}]")
    for chapter in doc["outline"]["chapters"]:
        lines.append(
            f"  第{to_chinese_numeral(chapter['n'])}章 {chapter['title']}  [{counts[('chapter', chapter['n'])]}]"
        )
        lead = counts[("body", chapter["n"], None, None, None)]
        if lead:
            lines.append(f"    (导语)  [{lead}]")
        for section in chapter["sections"]:
            n = counts[("body", chapter["n"], section["n"], None, None)]
            lines.append(f"    第{to_chinese_numeral(section['n'])}节 {section['title']}  [{n}]")
        for box in doc["outline"]["boxes"]:
            if box["chapter"] == chapter["n"]:
                n = counts[("box", chapter["n"], None, box["n"], None)]
                lines.append(f"    专栏{box['n']} {box['title']}  [{n}]")
    if doc["outline"]["glossary"]:
        lines.append(f"  附件 名词解释  ({len(doc['outline']['glossary'])} terms)")
        for term in doc["outline"]["glossary"]:
            lines.append(f"    {term['n']}. {term['term']}  [{counts[('glossary', None, None, None, term['n'])]}]")
    return lines
