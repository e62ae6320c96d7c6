"""The English renderings in corpus/translations: complete, faithful to the figures, none orphaned."""

from __future__ import annotations

import json
import re

from assistant.translate.drafts import missing_figures
from tests.conftest import CORPUS

RECORDS = [
    json.loads(line)
    for path in sorted((CORPUS / "translations").glob("*.jsonl"))
    for line in path.read_text(encoding="utf-8").splitlines()
    if line.strip()
]


def test_no_rendering_is_orphaned():
    text = "".join(p.read_text(encoding="utf-8") for p in CORPUS.glob("*.txt"))
    orphans = [r["zh"][:30] for r in RECORDS if r["zh"] not in text]
    assert not orphans, f"renderings whose Chinese is no longer in the plans: {orphans}"


def test_renderings_are_english():
    assert all(r["en"].strip() and not re.search(r"[\u4e00-\u9fff]", r["en"]) for r in RECORDS)


def test_figures_are_kept():
    problems = [(missing, r["zh"][:30]) for r in RECORDS if (missing := missing_figures(r["zh"], r["en"]))]
    assert not problems, problems[:10]


def test_every_passage_has_its_english(real_assistant):
    missing = [(p.chunk.path.label(), p.chunk.text[:30]) for p in real_assistant.view.passages if not p.text_en]
    assert not missing, f"passages without an English rendering: {missing[:5]}"
