"""The English renderings in corpus/translations: complete, faithful to the figures, none orphaned."""

from __future__ import annotations

import json
import re

from assistant.translate.drafts import missing_figures, rendering_problem
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


def test_every_reviewed_rendering_passes_the_checks_drafts_must_pass():
    """The drafts' checks (figures, no Chinese, a length no reviewed rendering falls outside) hold for
    every reviewed rendering: they reject what a reviewer would, not what a reviewer wrote."""
    problems = [(rendering_problem(r["zh"], r["en"]), r["zh"][:30]) for r in RECORDS if not r.get("draft")]
    assert not [p for p in problems if p[0]], [p for p in problems if p[0]][:10]
    assert rendering_problem("到2025年，全省森林覆盖率达到35%。", "By 2025 forest cover reaches 35%.") == ""
    assert "added" in rendering_problem("森林覆盖率达到35%。", "Forest cover reaches 35%. " * 8)
    assert "left out" in rendering_problem("加快推进节水、节肥、节药绿色技术，深入推进化肥农药减量增效行动。", "Save.")


def test_every_passage_has_its_english(real_assistant):
    missing = [(p.chunk.path.label(), p.chunk.text[:30]) for p in real_assistant.view.passages if not p.text_en]
    assert not missing, f"passages without an English rendering: {missing[:5]}"
