"""Structure recovery of the badly extracted plan, measured on 190 passages labelled by hand
(tests/fixtures/attribution_000.jsonl: each line says how its chapter and section were decided)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from assistant.ingest.documents import parse_document
from tests.conftest import SHUFFLED

FIXTURE = Path(__file__).parent / "fixtures" / "attribution_000.jsonl"
# Measured 0.968 / 0.932 when this floor was set (see README, "Structure recovery"). The target is
# 0.95 / 0.90; a change that lowers either figure by two passages fails here.
CHAPTER_FLOOR = 0.955
SECTION_FLOOR = 0.92


@pytest.fixture(scope="module")
def recovered(embedder, curation):
    return parse_document(SHUFFLED.read_text(encoding="utf-8"), SHUFFLED.name, embedder, curation)


def test_fixture_is_large_and_spread_over_all_chapters():
    labels = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
    assert len(labels) >= 60
    assert set(Counter(label["chapter"] for label in labels)) == set(range(1, 13))
    text = SHUFFLED.read_text(encoding="utf-8")
    assert all(label["quote"] in text and label["why"] for label in labels)


def test_attribution_against_hand_labels(recovered, record_property):
    labels = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
    chapter_hits = section_hits = 0
    for label in labels:
        unit = next(u for u in recovered.units if label["quote"] in u.text)
        chapter_hits += unit.path.chapter == label["chapter"]
        section_hits += (unit.path.chapter, unit.path.section) == (label["chapter"], label["section"])
    chapter, section = chapter_hits / len(labels), section_hits / len(labels)
    record_property("chapter_attribution", chapter)
    record_property("section_attribution", section)
    print(f"\nattribution on {len(labels)} hand-labelled passages: chapter {chapter:.3f}, section {section:.3f}")
    assert chapter >= CHAPTER_FLOOR
    assert section >= SECTION_FLOOR


def test_duplicated_paragraphs_collapse_to_one(recovered):
    texts = [u.text for u in recovered.units]
    assert len(texts) == len(set(texts))
    source = recovered.text
    assert sum(source.count(t) > 1 for t in texts) > 100, "the source repeats many sentences"


def test_units_point_at_their_source_text(recovered):
    for unit in recovered.units:
        assert recovered.text[unit.start : unit.end] == unit.text


def test_inline_headings_are_split_off(recovered):
    assert not any(u.text.startswith(("第一章", "第二节", "第三节")) for u in recovered.units)
    assert recovered.structure == "recovered"
    assert len(recovered.outline.chapters) == 12
    assert any(u.path.part == "notice" for u in recovered.units)


def test_units_follow_the_recovered_reading_order():
    """A duplicate keeps one occurrence, but its unit stands where the plan reads it: the lead "B" kept
    at its first occurrence still comes right before its body "C", kept far later in the source."""
    import numpy as np

    from assistant.ingest.recovery import Attribution, Occurrence, Place, keep_best_occurrences
    from assistant.models import SectionPath
    from assistant.text import Line

    texts = ["B。", "X。", "A。", "B。", "C。"]
    # the first "B" stands right after a heading, so that occurrence is the one kept
    occurrences = [Occurrence(Line(t, 2 * i, 2 * i + 2), 0 if i == 0 else None) for i, t in enumerate(texts)]
    places = [Place(SectionPath("body", 1, "一", 1, "甲"), "甲"), Place(SectionPath("body", 2, "二"), "二")]
    labels = np.array([0, 1, 0, 0, 0])
    source_order = keep_best_occurrences(occurrences, Attribution(labels, None), places)
    read = keep_best_occurrences(occurrences, Attribution(labels, ("X。", "A。", "B。", "C。")), places)
    assert [u.text for u in source_order] == ["B。", "X。", "A。", "C。"]
    assert [u.text for u in read] == ["X。", "A。", "B。", "C。"]
    assert read[2].start == 0  # the unit still points at the occurrence kept


@pytest.mark.parametrize(
    "values",
    [[3.0, 1.0, 3.0, 5.0, 5.0, 2.0], [-1e18, -1e18, 0.5, 0.5], [7.0], [1.0, 2.0, 3.0], [3.0, 2.0, 1.0]],
)
def test_running_argmax_is_argmax_of_each_prefix(values):
    """The segmenter's vectorised back-pointer must pick what `np.argmax` picks, ties included (first)."""
    import numpy as np

    from assistant.ingest.recovery import running_argmax

    array = np.array(values)
    expected = [int(np.argmax(array[: j + 1])) for j in range(len(array))]
    assert running_argmax(array, np.maximum.accumulate(array)).tolist() == expected
