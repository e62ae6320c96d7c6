"""Structure recovery for badly extracted plans: body paragraphs duplicated and shuffled, headings inline
or missing. The table of contents is the outline; every sentence is attributed to a place by what it says.

How: the body is cut into sentences (inline headings split off). Each place of the outline gets a profile
(its titles, plus the sentences right after its heading where the body has one). A hidden-Markov pass
over the sentence sequence weighs content similarity (embedding + words) against continuity (neighbours
usually share a place; the body mostly follows the contents' order). Profiles are re-estimated from the
result a few times. A sentence that occurs twice is kept once, where it fits best.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.ingest.outline import NUM
from assistant.models import Outline, SectionPath, Unit
from assistant.text import Line, parse_numeral, split_sentences, zh_tokens

log = logging.getLogger(__name__)

EmbedFn = Callable[[Sequence[str]], np.ndarray]
INLINE_HEADING_RE = re.compile(rf"第({NUM})([章节])")


@dataclass(frozen=True)
class RecoverySettings:
    """Weights of the attribution model. Documented defaults; none tuned to single passages."""

    same_copy: float = 0.7  # the next sentence comes from the same copy of the text
    stay: float = 0.85  # a copy's next sentence keeps its place
    advance: float = 0.12  # ... moves on to the next place of the contents
    skip: float = 0.02  # ... skips one place
    empty_place_cost: float = 30.0  # in-order pass: a place of the contents with no sentence at all
    boundary_cost: float = 1.0  # in-order pass: starting the next place
    refinements: int = 2  # re-estimations of the place profiles from the in-order cut
    # Whole passes: the first decodes the copies against the titles alone; later ones against the profiles
    # the previous pass learned, which say more about a place than its title does.
    copy_passes: int = 3
    sharpness: float = 1.0  # scales the standardised similarity into a log-likelihood
    title_weight: float = 1.0
    centroid_weight: float = 2.0  # the sentences attributed to a place, against its title (1.0)
    # All the sentences attributed to a place's chapter: more text than one section has, and which copy a
    # sentence seen once belongs to is mostly a choice between chapters.
    chapter_weight: float = 4.0
    lexical_weight: float = 0.5
    # A place's title words count like this many of its sentences in its word profile.
    title_profile_weight: float = 3.0


@dataclass(frozen=True)
class Place:
    path: SectionPath
    description: str  # titles, for matching


@dataclass(frozen=True)
class Occurrence:
    sentence: Line
    forced: int | None  # index of the place whose heading stands right before it


@dataclass(frozen=True)
class Attribution:
    labels: np.ndarray  # place index of every occurrence
    reading_order: tuple[str, ...] | None  # distinct sentences in the plan's own order, when recovered


def recover_units(
    text: str,
    outline: Outline,
    toc_start: int,
    toc_end: int,
    embed_passages: EmbedFn | None,
    embed_queries: EmbedFn | None,
    settings: RecoverySettings = RecoverySettings(),
) -> list[Unit]:
    """Attributed, de-duplicated sentence units of a shuffled plan (notice, preface and body)."""
    body_occurrences, places = body_sequence(text, outline, toc_end)
    notice = notice_units(text[:toc_start], {o.sentence.text for o in body_occurrences})
    attribution = attribute(body_occurrences, places, embed_passages, embed_queries, settings)
    return notice + keep_best_occurrences(body_occurrences, attribution, places)


def build_places(outline: Outline, lead_chapters: set[int]) -> list[Place]:
    places = [Place(SectionPath("preface"), "前言")]
    for chapter in outline.chapters:
        if chapter.n in lead_chapters:
            places.append(Place(SectionPath("body", chapter.n, chapter.title), chapter.title))
        for section in chapter.sections:
            path = SectionPath("body", chapter.n, chapter.title, section.n, section.title)
            places.append(Place(path, f"{chapter.title}：{section.title}"))
    return places


def find_headings(body: str, offset: int, outline: Outline) -> list[tuple[int, int, int, int | None]]:
    """Inline headings that match the contents: (start, end, chapter, section or None), in body order."""
    found = []
    current_chapter: int | None = None
    for m in INLINE_HEADING_RE.finditer(body):
        n, kind = parse_numeral(m.group(1)), m.group(2)
        rest = body[m.end() : m.end() + 60]
        if kind == "章":
            chapter = outline.chapter(n)
            if chapter and rest.startswith(chapter.title):
                found.append((offset + m.start(), offset + m.end() + len(chapter.title), n, None))
                current_chapter = n
            continue
        candidates = [
            c.n for c in outline.chapters for s in c.sections if s.n == n and s.title and rest.startswith(s.title)
        ]
        if candidates:
            chapter_n = current_chapter if current_chapter in candidates else candidates[0]
            title = outline.chapter(chapter_n).section_title(n)
            found.append((offset + m.start(), offset + m.end() + len(title), chapter_n, n))
    return found


def body_sequence(text: str, outline: Outline, toc_end: int) -> tuple[list[Occurrence], list[Place]]:
    """Sentence occurrences of the body in source order, and the places they may belong to."""
    body = text[toc_end:]
    headings = find_headings(body, toc_end, outline)
    lead_chapters = set()
    for (_, end, chapter, section), nxt in zip(headings, headings[1:] + [None]):
        gap = text[end : nxt[0]] if nxt else text[end : end + 10]
        if section is None and gap.strip():
            lead_chapters.add(chapter)
    places = build_places(outline, lead_chapters)
    index_of = {(p.path.chapter, p.path.section): i for i, p in enumerate(places)}
    cuts = [(toc_end, toc_end, None)] + [(s, e, index_of.get((c, sec))) for s, e, c, sec in headings]
    if body.lstrip().startswith("前言"):
        start = toc_end + body.index("前言")
        cuts[0] = (start, start + 2, 0)
    occurrences: list[Occurrence] = []
    for (_, seg_start, place), nxt in zip(cuts, cuts[1:] + [(len(text), len(text), None)]):
        sentences = split_sentences(text[seg_start : nxt[0]], seg_start)
        for i, sentence in enumerate(sentences):
            occurrences.append(Occurrence(sentence, place if i == 0 else None))
    return occurrences, places


def notice_units(head: str, body_sentences: set[str]) -> list[Unit]:
    """The issuing notice before the contents, minus preface sentences that leaked there, each kept once."""
    seen: set[str] = set()
    units = []
    for sentence in split_sentences(head):
        if sentence.text in body_sentences or sentence.text in seen:
            continue
        seen.add(sentence.text)
        units.append(Unit(SectionPath("notice"), sentence.text, sentence.start, sentence.end))
    return units


def attribute(
    occurrences: list[Occurrence],
    places: list[Place],
    embed_passages: EmbedFn | None,
    embed_queries: EmbedFn | None,
    settings: RecoverySettings,
) -> Attribution:
    """Place index of every occurrence, and the plan's reading order where the copies could be merged.

    1. Similarity of each sentence to each place's titles.
    2. Two-copy decoding of the sentence sequence (`viterbi`): which copy each sentence belongs to.
    3. Where the copies agree on order, merge them into the plan's own reading order and cut that into
       consecutive runs in the contents' order (`segment_in_order`); re-estimate each place's profile
       from its run and cut again.
    4. Decode the copies again with the learned profiles (`copy_passes`), since which copy a sentence seen
       once belongs to is decided by content alone. A learned profile is its place's sentences, and also
       its whole chapter's (`chapter_weight`).
    """
    texts = [o.sentence.text for o in occurrences]
    unique = list(dict.fromkeys(texts))
    position = {t: i for i, t in enumerate(unique)}
    occ_unique = np.array([position[t] for t in texts])
    descriptions = [p.description for p in places]
    lexical = LexicalProfiles(unique, descriptions, settings.title_profile_weight)
    chapters = np.array([p.path.chapter if p.path.chapter is not None else -1 for p in places])
    dense = DenseProfiles(unique, descriptions, embed_passages, embed_queries)
    forced = np.array([o.forced if o.forced is not None else -1 for o in occurrences])

    def emissions_for(unique_labels: np.ndarray) -> np.ndarray:
        scores = settings.lexical_weight * lexical.similarity(unique_labels)
        scores = scores + dense.similarity(unique_labels, settings.title_weight, settings.centroid_weight)
        scores = scores + settings.chapter_weight * dense.group_similarity(unique_labels, chapters)
        return standardise(scores) * settings.sharpness

    unique_labels = np.full(len(unique), -1)
    labels, order = np.full(len(occurrences), -1), None
    for _ in range(settings.copy_passes):
        labels, unique_labels, order = decode_pass(occ_unique, forced, unique_labels, emissions_for, settings)
        if order is None:
            break
    return Attribution(labels, tuple(unique[i] for i in order) if order is not None else None)


def decode_pass(
    occ_unique: np.ndarray,
    forced: np.ndarray,
    unique_labels: np.ndarray,
    emissions_for: Callable[[np.ndarray], np.ndarray],
    settings: RecoverySettings,
) -> tuple[np.ndarray, np.ndarray, list[int] | None]:
    """One pass: decode the copies with the current place profiles, merge them into reading order and cut
    that in the contents' order. Returns the occurrence labels, the labels per unique sentence, and the
    reading order (None when the copies did not merge: the labels are the two-copy decoding alone)."""
    emissions = emissions_for(unique_labels)
    labels, copy = viterbi(emissions[occ_unique], forced, settings, copy_assignment(occ_unique))
    order = reading_order(occ_unique, copy)
    if order is None:
        return labels, unique_labels, None
    forced_in_order = unique_assignment(occ_unique, forced, len(unique_labels))[order]
    segmented = segment_in_order(emissions[order], forced_in_order, settings)
    unique_labels = unique_labels.copy()
    for _ in range(settings.refinements):
        unique_labels[order] = segmented
        segmented = segment_in_order(emissions_for(unique_labels)[order], forced_in_order, settings)
    unique_labels[order] = segmented
    return unique_labels[occ_unique], unique_labels, order


def copy_assignment(occ_unique: np.ndarray) -> np.ndarray:
    """0 for the first of a sentence's two occurrences, 1 for the second, -1 for a sentence seen once."""
    counts = np.bincount(occ_unique)
    seen: set[int] = set()
    out = np.full(len(occ_unique), -1)
    for i, u in enumerate(occ_unique):
        if counts[u] > 1:
            out[i] = 1 if u in seen else 0
            seen.add(u)
    return out


def unique_assignment(occ_unique: np.ndarray, labels: np.ndarray, n_unique: int) -> np.ndarray:
    """Label per unique sentence (first labelled occurrence; -1 when none yet)."""
    out = np.full(n_unique, -1)
    for u, label in zip(occ_unique, labels):
        if out[u] < 0 and label >= 0:
            out[u] = label
    return out


def standardise(scores: np.ndarray) -> np.ndarray:
    mean = scores.mean(axis=1, keepdims=True)
    std = scores.std(axis=1, keepdims=True) + 1e-9
    return (scores - mean) / std


def viterbi(
    emissions: np.ndarray, forced: np.ndarray, settings: RecoverySettings, copy_of: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Most likely (place, copy) per sentence under a "two interleaved copies" model.

    Duplicated, shuffled extraction looks like two copies of the plan riffled together, each copy read in
    the contents' order. The state is (a, b, s): copy A is at place a, copy B at place b, and the current
    sentence comes from copy s. A copy's place stays or moves forward; a rare free jump covers text that
    follows no order at all. Positions right after a heading keep the heading's place. `copy_of` pins
    an occurrence to a copy (0 or 1; -1 free): a sentence seen twice is in copy A first, then in copy B.
    """
    copy_of = np.full(len(emissions), -1) if copy_of is None else copy_of
    n, k = emissions.shape
    emissions = emissions.copy()
    for i in np.flatnonzero(forced >= 0):
        emissions[i] = -1e9
        emissions[i, forced[i]] = 0.0
    t = transition_costs(settings, k)
    neg = -1e18
    # scores[s][a, b]; copy A's place indexes rows, copy B's place indexes columns
    start_prior = np.full(k, t["jump"])
    start_prior[0] = 0.0
    scores = [emissions[0][:, None] + start_prior[None, :], emissions[0][None, :] + start_prior[:, None]]
    if copy_of[0] >= 0:
        scores[1 - copy_of[0]] = np.full((k, k), neg)
    back = np.zeros((n, 2, k, k), dtype=np.int64)
    moves = ((0, t["stay"]), (1, t["advance"]), (2, t["skip"]))
    places = np.arange(k)
    # flat index of the state each move comes from; the same at every step
    move_codes = {
        (source, shift, target): encode(source, np.clip(places - shift, 0, None)[:, None], places[None, :], target, k)
        for source in (0, 1)
        for shift, _ in moves
        for target in (0, 1)
    }
    for i in range(1, n):
        new_scores, new_back = [], []
        for target in (0, 1):
            best = np.full((k, k), neg)
            ptr = np.zeros((k, k), dtype=np.int64)
            for source in (0, 1):
                stream = t["same"] if source == target else t["switch"]
                prev = scores[source] if target == 0 else scores[source].T  # rows: the moving copy
                for shift, cost in moves:
                    moved = np.full((k, k), neg)
                    moved[shift:] = prev[: k - shift] + cost + stream
                    better = moved > best
                    best = np.where(better, moved, best)
                    ptr = np.where(better, move_codes[source, shift, target], ptr)
                jumped = prev.max(axis=0) + t["jump"] + stream
                jump_rows = prev.argmax(axis=0)
                better = jumped[None, :] > best
                best = np.where(better, jumped[None, :], best)
                ptr = np.where(better, encode(source, jump_rows[None, :], np.arange(k)[None, :], target, k), ptr)
            best = best + emissions[i][:, None]
            if copy_of[i] >= 0 and copy_of[i] != target:
                best = np.full((k, k), neg)
            if target == 1:
                best, ptr = best.T, ptr.T
            new_scores.append(best)
            new_back.append(ptr)
        scores = new_scores
        back[i] = np.stack(new_back)
    flat = np.stack(scores)
    state = int(flat.argmax())
    path = np.zeros(n, dtype=np.int64)
    copy = np.zeros(n, dtype=np.int64)
    for i in range(n - 1, -1, -1):
        s, a, b = np.unravel_index(state, flat.shape)
        path[i] = a if s == 0 else b
        copy[i] = s
        state = int(back[i][s, a, b])
    return path, copy


def reading_order(occ_unique: np.ndarray, copy: np.ndarray) -> list[int] | None:
    """The plan's own sentence order, rebuilt by merging the two decoded copies on their shared sentences.
    None when the copies disagree on the order of what they share (then there is no riffle to undo)."""
    streams = [[u for u, c in zip(occ_unique, copy) if c == s] for s in (0, 1)]
    shared = set(streams[0]) & set(streams[1])
    if [u for u in streams[0] if u in shared] != [u for u in streams[1] if u in shared]:
        return None
    order: list[int] = []
    a = b = 0
    while a < len(streams[0]) or b < len(streams[1]):
        if a < len(streams[0]) and streams[0][a] not in shared:
            order.append(streams[0][a])
            a += 1
        elif b < len(streams[1]) and streams[1][b] not in shared:
            order.append(streams[1][b])
            b += 1
        else:  # both copies stand on the same shared sentence
            order.append(streams[0][a])
            a, b = a + 1, b + 1
    return list(dict.fromkeys(order))


def segment_in_order(emissions: np.ndarray, forced: np.ndarray, settings: RecoverySettings) -> np.ndarray:
    """Cut a sequence into consecutive runs, one per place, in the contents' order (a place may be empty,
    at a cost). A place whose heading is in the sequence starts exactly at its heading. Maximises the
    summed emissions."""
    n, k = emissions.shape
    emissions = emissions.copy()
    headed = np.zeros(k, dtype=bool)
    for i in np.flatnonzero(forced >= 0):
        emissions[i] = -1e9
        emissions[i, forced[i]] = 0.0
        headed[forced[i]] = True
    places = np.arange(k)
    skip, change = settings.empty_place_cost, settings.boundary_cost
    score = np.where(headed & (places != forced[0]), -1e18, emissions[0] - skip * places)
    back = np.zeros((n, k), dtype=np.int64)
    for i in range(1, n):
        adjusted = score + skip * (places + 1)
        prefix_best = np.maximum.accumulate(adjusted)
        prefix_arg = running_argmax(adjusted, prefix_best)
        move = np.r_[-1e18, prefix_best[:-1] - skip * places[1:] - change]
        move = np.where(headed & (places != forced[i]), -1e18, move)
        move_from = np.r_[0, prefix_arg[:-1]]
        stay_better = score >= move
        back[i] = np.where(stay_better, places, move_from)
        score = np.where(stay_better, score, move) + emissions[i]
    path = np.zeros(n, dtype=np.int64)
    path[-1] = int(np.argmax(score - skip * (k - 1 - places)))
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path


def running_argmax(values: np.ndarray, running_max: np.ndarray) -> np.ndarray:
    """For each j, the first index of the maximum of values[: j + 1] (like `np.argmax` on each prefix)."""
    rises = np.r_[True, values[1:] > running_max[:-1]]
    return np.maximum.accumulate(np.where(rises, np.arange(len(values)), 0))


def encode(source: int, moving: np.ndarray, other: np.ndarray, target: int, k: int) -> np.ndarray:
    """Flat index of a previous state (stream, place of A, place of B) from moving/other coordinates."""
    a, b = (moving, other) if target == 0 else (other, moving)
    return source * k * k + a * k + b


def transition_costs(settings: RecoverySettings, k: int) -> dict[str, float]:
    return {
        "same": np.log(settings.same_copy),
        "switch": np.log(1.0 - settings.same_copy),
        "stay": np.log(settings.stay),
        "advance": np.log(settings.advance),
        "skip": np.log(settings.skip),
        "jump": np.log((1.0 - settings.stay - settings.advance - settings.skip) / k),
    }


class LexicalProfiles:
    """TF-IDF word profiles of the places: titles plus the sentences currently attributed to them."""

    def __init__(self, sentences: list[str], descriptions: list[str], title_weight: float) -> None:
        self.title_weight = title_weight
        docs = [zh_tokens(s) for s in sentences]
        title_docs = [zh_tokens(d) for d in descriptions]
        vocab = {t: i for i, t in enumerate(dict.fromkeys(t for d in docs + title_docs for t in d))}
        self.x = self._tfidf(docs, vocab, len(docs))
        self.titles = self._tfidf(title_docs, vocab, len(docs))

    @staticmethod
    def _tfidf(docs: list[list[str]], vocab: dict[str, int], n_docs: int) -> np.ndarray:
        m = np.zeros((len(docs), len(vocab)), dtype=np.float32)
        for i, doc in enumerate(docs):
            for token in doc:
                m[i, vocab[token]] += 1.0
        return m

    def similarity(self, labels: np.ndarray) -> np.ndarray:
        df = (self.x > 0).sum(axis=0) + 1.0
        idf = np.log((self.x.shape[0] + 1.0) / df) + 1.0
        x = normalise_rows(self.x * idf)
        profiles = self.titles * idf * self.title_weight
        sums = np.zeros_like(profiles)
        np.add.at(sums, labels[labels >= 0], x[labels >= 0])
        sims = x @ (profiles + sums).T
        # leave-one-out: a sentence must not vote for the place it already sits in
        own = np.where(labels[:, None] == np.arange(profiles.shape[0])[None, :], (x * x).sum(axis=1)[:, None], 0.0)
        norms = np.linalg.norm(profiles + sums, axis=1) + 1e-9
        return (sims - own) / norms


class DenseProfiles:
    """Embedding similarity of each sentence to each place's titles and to its attributed sentences."""

    def __init__(
        self,
        sentences: list[str],
        descriptions: list[str],
        embed_passages: EmbedFn | None,
        embed_queries: EmbedFn | None,
    ) -> None:
        self.enabled = embed_passages is not None and embed_queries is not None
        if not self.enabled:
            return
        self.p = np.asarray(embed_passages(sentences), dtype=np.float32)
        self.q = np.asarray(embed_queries(descriptions), dtype=np.float32)

    def similarity(self, labels: np.ndarray, title_weight: float, centroid_weight: float) -> np.ndarray:
        if not self.enabled:
            return 0.0  # type: ignore[return-value]
        sims = title_weight * (self.p @ self.q.T)
        k = self.q.shape[0]
        sums = np.zeros((k, self.p.shape[1]), dtype=np.float32)
        counts = np.zeros(k)
        np.add.at(sums, labels[labels >= 0], self.p[labels >= 0])
        np.add.at(counts, labels[labels >= 0], 1)
        for j in range(k):
            if counts[j] == 0:
                continue
            # leave-one-out centroid for the sentences currently in place j
            loo = sums[j][None, :] - np.where((labels == j)[:, None], self.p, 0.0)
            sims[:, j] += centroid_weight * (normalise_rows(loo) * self.p).sum(axis=1)
        return sims

    def group_similarity(self, labels: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """Similarity of each sentence to the leave-one-out centroid of the sentences in its place's
        group (`groups`: a group key per place, e.g. the chapter), as a column per place."""
        if not self.enabled or (labels < 0).all():
            return np.zeros((len(labels), len(groups)), dtype=np.float32)
        sims = np.zeros((len(labels), len(groups)), dtype=np.float32)
        label_group = np.where(labels >= 0, groups[np.clip(labels, 0, None)], np.iinfo(np.int64).min)
        for group in np.unique(groups):
            members = label_group == group
            if not members.any():
                continue
            loo = self.p[members].sum(axis=0)[None, :] - np.where(members[:, None], self.p, 0.0)
            sims[:, groups == group] = (normalise_rows(loo) * self.p).sum(axis=1)[:, None]
        return sims


def normalise_rows(m: np.ndarray) -> np.ndarray:
    return m / (np.linalg.norm(m, axis=1, keepdims=True) + 1e-9)


def keep_best_occurrences(occurrences: list[Occurrence], attribution: Attribution, places: list[Place]) -> list[Unit]:
    """One unit per distinct sentence: a duplicate keeps the occurrence whose place a heading or the
    longer run of agreeing neighbours supports. Units follow the plan's reading order where it was
    recovered (a lead sentence then stands before its body), else the source order."""
    labels = attribution.labels
    support = run_lengths(labels)
    best: dict[str, int] = {}
    for i, occurrence in enumerate(occurrences):
        key = occurrence.sentence.text
        j = best.get(key)
        if j is None or rank_occurrence(occurrences[i], support[i]) > rank_occurrence(occurrences[j], support[j]):
            best[key] = i
    kept = sorted(best.values())
    if attribution.reading_order is not None:
        rank = {text: r for r, text in enumerate(attribution.reading_order)}
        kept.sort(key=lambda i: rank[occurrences[i].sentence.text])
    units = []
    for i in kept:
        sentence = occurrences[i].sentence
        units.append(Unit(places[labels[i]].path, sentence.text, sentence.start, sentence.end))
    return units


def rank_occurrence(occurrence: Occurrence, run: int) -> tuple[int, int]:
    return (1 if occurrence.forced is not None else 0, run)


def run_lengths(labels: np.ndarray) -> np.ndarray:
    """For each position, the length of the run of equal labels it belongs to."""
    out = np.zeros(len(labels), dtype=np.int64)
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            out[start:i] = i - start
            start = i
    return out
