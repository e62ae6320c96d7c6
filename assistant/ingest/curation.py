"""Curated data kept in `corpus/`: English outlines and titles, the zh–en glossary, English renderings."""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from assistant.models import SectionPath, content_hash
from assistant.text import PlaceTitles, place_label

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

        def title_of(items: list[dict], n: int | None, key: str = "title_en") -> str | None:
            return next((item[key] for item in items if item["n"] == n), None)

        chapters = outline.get("chapters", [])
        chapter = next((c for c in chapters if c["n"] == path.chapter), None)
        titles = PlaceTitles(
            chapter=chapter["title_en"] if chapter else "",
            section=(title_of(chapter.get("sections", []), path.section) or "") if chapter else "",
            box=title_of(outline.get("boxes", []), path.box) or "",
            term=title_of(outline.get("glossary", []), path.term, "term_en") or "",
        )
        # a place the English outline does not list keeps no English label of its own
        known = dataclasses.replace(
            path,
            chapter=path.chapter if chapter else None,
            section=path.section if titles.section else None,
            box=path.box if titles.box else None,
        )
        return place_label(known, "en", titles)

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
