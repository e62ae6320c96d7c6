"""Refusing what the plans do not cover (small talk, arithmetic, writing requests, questions about the
assistant, instructions aimed at it, other places and subjects): a logistic model over evidence features,
fitted on labelled questions (`benchmarks/fit_refusal.py`), decides before any answer is written."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from assistant.index.view import IndexView
from assistant.text import en_tokens, sentences, zh_tokens

WEIGHTS_FILE = Path(__file__).with_name("refusal_weights.json")
# Words about asking are never what a question is about.
QUESTION_WORD_RE = re.compile(r"哪|什么|多少|几|怎么|怎样|如何|是否|为何|为什么|吗|呢")
NUMBER_RE = re.compile(r"^[\d.,%]+$")
FEATURES = (
    "evidence_coverage",
    "corpus_coverage",
    "numeric_share",
    "best_similarity",
    "domain_similarity",
    "exemplar_margin",
)
# The features on the embedder's own scale: a model fitted with another embedder leaves them out.
EMBEDDING_FEATURES = ("best_similarity", "domain_similarity", "exemplar_margin")
# The model for an English question read through its Chinese translation (plans without English): fitted
# apart, as a machine translation words a question otherwise than a Chinese asker would.
TRANSLATED = "en_via_zh"


@dataclass(frozen=True)
class Support:
    """How well the plans support a question, as the refusal model reads it."""

    evidence_coverage: float  # share of the question's content words in the sentences picked to answer it
    corpus_coverage: float  # share of them anywhere in the plans (English: in their English renderings)
    numeric_share: float  # share of the question's words that are bare numbers ("17 times 23")
    best_similarity: float  # cosine of the best-matching sentence of the top passages to the question
    # cosine of the question to the plans' centroid (the mean passage vector): how much it reads like a
    # question about plans at all, whatever place it names (small talk, arithmetic and writing requests don't)
    domain_similarity: float
    # how much closer the question is to the labelled off-topic questions it was fitted on than to the
    # answerable ones (best cosine to each): what kind of request it is (a poem, a sum, a greeting), learnt
    # from examples rather than listed as phrases; 0.0 without examples
    exemplar_margin: float = 0.0

    def vector(self) -> list[float]:
        return [getattr(self, name) for name in FEATURES]


def content_words(question: str, lang: str) -> list[str]:
    """The words that say what a question is about: no question words, no bare numbers."""
    words = zh_tokens(question) if lang == "zh" else en_tokens(question)
    return [w for w in dict.fromkeys(words) if not QUESTION_WORD_RE.search(w) and not NUMBER_RE.match(w)]


class SupportMeter:
    """Computes `Support` over one index."""

    def __init__(self, view: IndexView, english_corpus: str, exemplars: Exemplars | None = None) -> None:
        self.view = view
        self.english_corpus = english_corpus
        self.exemplars = exemplars

    @cached_property
    def english_vocabulary(self) -> frozenset[str]:
        return frozenset(en_tokens(self.english_corpus))

    @cached_property
    def centroid(self) -> np.ndarray:
        mean = self.view.passage_vectors.mean(axis=0)
        return mean / (np.linalg.norm(mean) or 1.0)

    def measure(
        self, question: str, lang: str, quotes: list[str], best_similarity: float, vector: np.ndarray
    ) -> Support:
        """`vector`: the question's embedding (the same one `best_similarity` was measured with)."""
        words = content_words(question, lang)
        all_words = zh_tokens(question) if lang == "zh" else en_tokens(question)
        numeric = sum(1 for w in all_words if NUMBER_RE.match(w)) / len(all_words) if all_words else 0.0
        domain = float(vector @ self.centroid)
        margin = self.exemplars.margin(vector) if self.exemplars is not None else 0.0
        if not words:
            return Support(0.0, 0.0, numeric, best_similarity, domain, margin)
        quoted = " ".join(quotes)
        if lang == "zh":
            in_evidence = [w for w in words if w in quoted]
            in_corpus = [w for w in words if w in self.view.corpus_text]
        else:
            rendered = set(en_tokens(" ".join(self.view.rendering(s) or "" for s in sentences(quoted))))
            in_evidence = [w for w in words if w in rendered]
            in_corpus = [w for w in words if w in self.english_vocabulary]
        evidence, corpus = len(in_evidence) / len(words), len(in_corpus) / len(words)
        return Support(evidence, corpus, numeric, best_similarity, domain, margin)


@dataclass(frozen=True)
class Exemplars:
    """The labelled questions a refusal model was fitted on, embedded as queries (unit vectors)."""

    offtopic: np.ndarray
    answerable: np.ndarray

    def margin(self, vector: np.ndarray, leave_out: tuple[int, int] = (-1, -1)) -> float:
        """Best cosine to an off-topic example minus best cosine to an answerable one. `leave_out`: the
        row of the question itself among (off-topic, answerable), when fitting on the examples."""
        off, answerable = self.offtopic @ vector, self.answerable @ vector
        off[leave_out[0]] = -1.0 if leave_out[0] >= 0 else off[leave_out[0]]
        answerable[leave_out[1]] = -1.0 if leave_out[1] >= 0 else answerable[leave_out[1]]
        return float(off.max() - answerable.max())


def exemplar_texts(path: Path = WEIGHTS_FILE) -> dict[str, list[str]]:
    """{"offtopic": [...], "answerable": [...]}: the fitted-on questions, as the weights file lists them."""
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8")).get("exemplars", {})


EXEMPLARS_FILE = "refusal_exemplars.npz"


def load_or_embed_exemplars(texts: dict[str, list[str]], embedder, path: Path) -> Exemplars:
    """The exemplars' vectors from `path` when it holds them for these texts and this embedder; else
    embedded now and written there (plain arrays, never pickled; a bad file is embedded over)."""
    key = hashlib.sha256(json.dumps([embedder.name, texts], ensure_ascii=False).encode()).hexdigest()
    try:
        with np.load(path, allow_pickle=False) as stored:
            if str(stored["key"]) == key:
                return Exemplars(stored["offtopic"], stored["answerable"])
    except (OSError, KeyError, ValueError):
        pass  # missing, stale or unreadable: embedded again below
    exemplars = Exemplars(*(embedder.embed_queries(texts[k]) for k in ("offtopic", "answerable")))
    try:  # written aside, then moved in one step: a reader never sees half a file
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        with partial.open("wb") as fh:
            np.savez(fh, key=np.array(key), offtopic=exemplars.offtopic, answerable=exemplars.answerable)
        os.replace(partial, path)
    except OSError:
        pass  # a read-only index folder: embedded again next time
    return exemplars


@dataclass(frozen=True)
class RefusalModel:
    """Logistic regression on standardised `Support` features, one per language, with the threshold under
    which a question is refused. The weights file says what it was fitted on and with which embedder."""

    means: tuple[float, ...]
    scales: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float
    features: tuple[str, ...] = FEATURES

    def probability(self, support: Support) -> float:
        values = [getattr(support, name) for name in self.features]
        z = sum(w * (v - m) / s for w, v, m, s in zip(self.weights, values, self.means, self.scales)) + self.bias
        return 1.0 / (1.0 + math.exp(-z))

    def refuses(self, support: Support) -> bool:
        return self.probability(support) < self.threshold


def load_models(embedder_name: str, path: Path = WEIGHTS_FILE) -> dict[str, RefusalModel]:
    """The fitted models by language. The similarity feature is the embedder's own scale, so with another
    embedder the models fitted without it are used."""
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    variant = "with_similarity" if data.get("embedder") == embedder_name else "lexical"
    return {
        lang: RefusalModel(**{k: tuple(v) if isinstance(v, list) else v for k, v in m.items()})
        for lang, m in data["models"][variant].items()
    }
