"""Curated data kept in `corpus/`: English outlines and titles, the zh–en glossary, English renderings."""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from assistant.models import SectionPath, content_hash

log = logging.getLogger(__name__)

OUTLINE_FILE = "outline_en.json"
GLOSSARY_FILE = "glossary_zh_en.tsv"
TRANSLATIONS_DIR = "translations"


@dataclass(frozen=True)
class GlossaryEntry:
    zh: str
    en: str
    aliases: tuple[str, ...]
    kind: str

    @property
    def english_forms(self) -> tuple[str, ...]:
        return (self.en, *self.aliases)


@dataclass(frozen=True)
class Curation:
    outlines: dict[str, dict] = field(default_factory=dict)  # by source file name and by Chinese title
    glossary: tuple[GlossaryEntry, ...] = ()
    renderings: dict[str, str] = field(default_factory=dict)  # content hash of a Chinese sentence -> English

    @classmethod
    def load(cls, corpus_dir: Path) -> Curation:
        return cls(
            outlines=load_outlines(corpus_dir / OUTLINE_FILE),
            glossary=load_glossary(corpus_dir / GLOSSARY_FILE),
            renderings=load_renderings(corpus_dir / TRANSLATIONS_DIR),
        )

    def _outline(self, source: str, title: str) -> dict:
        return self.outlines.get(source) or self.outlines.get(title) or {}

    def title_en(self, source: str, title: str) -> str:
        return self._outline(source, title).get("title_en", "")

    def heading_en(self, source: str, title: str, path: SectionPath) -> str:
        """English rendering of a place, e.g. `Chapter 3 Ecological Security › Section 2 ...`; empty if unknown."""
        outline = self._outline(source, title)
        if not outline:
            return ""
        if path.part == "notice":
            return "Issuing notice"
        if path.part == "preface":
            return "Preface"
        if path.part == "glossary":
            term = next((t for t in outline.get("glossary", []) if t["n"] == path.term), None)
            return f"Appendix: Glossary {path.term}. {term['term_en']}" if term else "Appendix: Glossary"
        parts = []
        chapter = next((c for c in outline.get("chapters", []) if c["n"] == path.chapter), None)
        if chapter:
            parts.append(f"Chapter {chapter['n']} {chapter['title_en']}")
            section = next((s for s in chapter.get("sections", []) if s["n"] == path.section), None)
            if section:
                parts.append(f"Section {section['n']} {section['title_en']}")
        box = next((b for b in outline.get("boxes", []) if b["n"] == path.box), None)
        if box:
            parts.append(f"Box {box['n']} {box['title_en']}")
        return " › ".join(parts)

    def rendering(self, zh_text: str) -> str | None:
        return self.renderings.get(content_hash(zh_text.strip()))


def load_outlines(path: Path) -> dict[str, dict]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, dict] = {}
    for doc in data.get("documents", []):
        out[doc["source"]] = doc
        out[doc["title_zh"]] = doc
    return out


def load_glossary(path: Path) -> tuple[GlossaryEntry, ...]:
    if not path.exists():
        return ()
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    entries = []
    for row in rows:
        aliases = tuple(a.strip() for a in (row.get("aliases") or "").split(";") if a.strip())
        entries.append(GlossaryEntry(row["zh"].strip(), row["en"].strip(), aliases, (row.get("kind") or "").strip()))
    return tuple(entries)


def load_renderings(folder: Path) -> dict[str, str]:
    """English renderings: JSON lines `{"zh", "en"}` keyed by the hash of the Chinese text."""
    out: dict[str, str] = {}
    if not folder.is_dir():
        return out
    for file in sorted(folder.glob("*.jsonl")):
        out.update(load_rendering_file(file))
    return out


def load_rendering_file(file: Path) -> dict[str, str]:
    """One file of renderings; other keys of a record (`draft`, `model`) are ignored, bad lines skipped."""
    out: dict[str, str] = {}
    for line_no, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            out[content_hash(record["zh"].strip())] = record["en"]
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            log.warning("%s:%d: skipped a bad rendering record (%s)", file, line_no, exc)
    return out
