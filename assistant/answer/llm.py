"""LLM generators: any OpenAI-compatible endpoint (through langchain-openai) and a local GGUF model
(through llama-cpp-python). Both fill the prompt templates in `prompts/` strictly and return a draft
that the citation check then verifies."""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from assistant import wording
from assistant.answer.citations import MARKER_RE
from assistant.answer.extractive import SentencePicker
from assistant.answer.generators import AnswerContext, Draft, TokenSink
from assistant.errors import GeneratorUnavailableError, SettingsError
from assistant.index.view import IndexView
from assistant.models import Hit
from assistant.retrieve.query import Query
from assistant.settings import Settings
from assistant.text import content_units, join_claims, sentences, split_claims

if TYPE_CHECKING:
    from langchain_openai import ChatOpenAI
    from llama_cpp import Llama

log = logging.getLogger(__name__)


def fill(template_path: Path, **values: str) -> str:
    """Strict templating: a `$name` without a value is an error, never left in the prompt."""
    try:
        return Template(template_path.read_text(encoding="utf-8")).substitute(**values)
    except KeyError as exc:
        raise SettingsError(f"prompt {template_path.name} needs a value for {exc}") from exc


@dataclass(frozen=True)
class Shown:
    """A passage as the prompt shows it: its text (whole, or the sentences that matter) and English."""

    hit: Hit
    text: str
    rendering: str = ""


def build_messages(query: Query, shown: list[Shown], view: IndexView, prompts: Path) -> list[tuple[str, str]]:
    blocks = []
    for n, item in enumerate(shown, 1):
        blocks.append(
            fill(
                prompts / "passage.txt",
                n=str(n),
                doc_title=view.document(item.hit.chunk.doc_id).title,
                heading=item.hit.chunk.path.label(),
                text=item.text,
                rendering=f"(English rendering, unofficial: {item.rendering})" if item.rendering else "",
            ).strip()
        )
    system = fill(
        prompts / f"answer_{query.lang}.txt", passages="\n\n".join(blocks), not_found=wording.LLM_NOT_FOUND[query.lang]
    )
    return [("system", system), ("human", query.text)]


def whole_passages(query: Query, hits: list[Hit], view: IndexView) -> list[Shown]:
    """Each passage whole, with its English rendering for an English question."""
    return [Shown(h, h.chunk.text, view.english_text(h.chunk.id) if query.lang == "en" else "") for h in hits]


def passage_excerpts(query: Query, hits: list[Hit], context: AnswerContext, max_chars: int) -> list[Shown]:
    """The sentences of each passage that best match the question, in their own order, up to `max_chars`
    a passage: a small local model reads its prompt at a few dozen tokens a second. An English question
    sees the English of the excerpt alone when every sentence of it has a rendering."""
    view = context.view
    ranked = SentencePicker(context, passages=len(hits)).pick(query, hits)
    shown = []
    for hit in hits:
        texts = [text for text, _ in view.sentences_of(view.row_of(hit.chunk.id))]
        best = [e.sentence for e in ranked if e.hit == hit]
        kept: set[str] = set()
        for sentence in best:
            if sum(map(len, kept)) + len(sentence) > max_chars and kept:
                break
            kept.update(sentences(sentence))
        excerpt = "".join(s for s in texts if s in kept) or hit.chunk.text[:max_chars]
        english = [view.rendering(s) for s in texts if s in kept] if query.lang == "en" else []
        if english and all(english):
            shown.append(Shown(hit, "", " ".join(english)))  # type: ignore[arg-type]
        else:
            shown.append(Shown(hit, excerpt))
    return shown


def draft_from_text(text: str, shown: list[Hit], renderings: list[str], marker_overlap: float) -> Draft:
    """An LLM's answer as a draft: its [n] refer to the passages in the prompt, in order. A sentence the
    model left without a marker gets the shown passage it overlaps most, if any overlaps enough; the
    citation check then decides whether that passage really supports it."""
    text = attach_missing_markers(text, shown, renderings, marker_overlap)
    used = sorted({int(n) for n in MARKER_RE.findall(text)})
    cited = tuple(shown[n - 1] for n in used if 1 <= n <= len(shown))
    renumber = {n: i for i, n in enumerate([n for n in used if 1 <= n <= len(shown)], 1)}
    text = MARKER_RE.sub(lambda m: f"[{renumber.get(int(m.group(1)), int(m.group(1)) + 100)}]", text)
    if says_only_not_found(text):
        return Draft(text.strip(), (), (), True)
    return Draft(text.strip(), cited, tuple(h.chunk.text for h in cited), False)


# Fewer letters than this besides "the plans do not say" make no claim (a stray "的" or "about this").
MIN_CLAIM_CHARS = 25


def says_only_not_found(text: str) -> bool:
    """The model's answer is that the plans do not say, whatever markers it put after that: "The plans
    do not say.[1]" cites a passage for a claim it does not make. "The plans do not say much about X,
    but Box 5 lists…" makes a claim."""

    def substance(piece: str) -> int:
        return len(re.sub(r"[\W_]+", "", piece))

    pieces = split_claims(MARKER_RE.sub("", text))
    phrases = wording.LLM_NOT_FOUND_PHRASES
    found = [s for s in pieces if any(p in s for p in phrases)]
    if not found:
        return False
    claims = [s for s in pieces if s not in found] + [s.replace(p, "") for s in found for p in phrases if p in s]
    return sum(substance(c) for c in claims) < MIN_CLAIM_CHARS


def attach_missing_markers(text: str, shown: list[Hit], renderings: list[str], floor: float) -> str:
    out = []
    for piece in split_claims(text):
        if MARKER_RE.search(piece) or not shown:
            out.append(piece)
            continue
        words = content_units(piece)
        overlaps = [overlap(words, content_units(h.chunk.text + " " + r)) for h, r in zip(shown, renderings)]
        best = max(range(len(shown)), key=lambda i: overlaps[i])
        out.append(f"{piece}[{best + 1}]" if overlaps[best] >= floor else piece)
    return join_claims(out, like=text)


def overlap(claim: set[str], passage: set[str]) -> float:
    return len(claim & passage) / len(claim) if claim else 0.0


def openai_chat_model(settings: Settings) -> ChatOpenAI:
    """A langchain-openai `ChatOpenAI` on the configured endpoint: deterministic, no retries, the set timeout."""
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise GeneratorUnavailableError("mode openai and planqa translate need: pip install -e '.[llm]'") from exc
    return ChatOpenAI(
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key or "not-needed",
        model=settings.openai_model,
        timeout=settings.llm_timeout,
        max_retries=0,
        temperature=0,
    )


class ChatGenerator:
    """What the LLM generators share: the prompt from the top passages, and the draft from the reply
    (exactly the text streamed)."""

    name: str
    passages: int
    context: AnswerContext

    def tokens(self, messages: list[tuple[str, str]]) -> Iterator[str]:
        raise NotImplementedError

    def shown(self, query: Query, hits: list[Hit]) -> list[Shown]:
        return whole_passages(query, hits[: self.passages], self.context.view)

    def messages(self, query: Query, hits: list[Hit]) -> list[tuple[str, str]]:
        return build_messages(query, self.shown(query, hits), self.context.view, self.context.settings.prompts_dir)

    def draft(self, query: Query, hits: list[Hit], on_token: TokenSink | None = None) -> Draft:
        parts = []
        for token in self.tokens(self.messages(query, hits)):
            parts.append(token)
            if on_token:
                on_token(token)
        shown = hits[: self.passages]
        renderings = [self.context.view.english_text(h.chunk.id) for h in shown]
        return draft_from_text("".join(parts), shown, renderings, self.context.settings.marker_overlap)


class OpenAIGenerator(ChatGenerator):
    """Any OpenAI-compatible chat endpoint (OpenAI, vLLM, llama.cpp server, Ollama...), streaming."""

    name = "openai"

    def __init__(self, context: AnswerContext) -> None:
        self.client = openai_chat_model(context.settings)
        self.context = context
        self.passages = context.settings.openai_passages

    def tokens(self, messages: list[tuple[str, str]]) -> Iterator[str]:
        try:
            for chunk in self.client.stream(messages):
                if chunk.content:
                    yield str(chunk.content)
        except Exception as exc:  # openai/httpx raise many kinds; all mean "the backend failed"
            url = self.context.settings.openai_base_url
            raise GeneratorUnavailableError(f"the LLM endpoint {url} failed: {exc}") from exc


# Prompt tokens llama.cpp evaluates per step: its own default, fast on two cores.
LLAMACPP_BATCH = 512


@dataclass
class LocalLlama:
    """A loaded GGUF model and the lock its callers take: llama.cpp runs one call at a time."""

    path: str
    llama: Llama
    lock: threading.Lock


# Model states kept after each call, so that a prompt starting like an earlier one (the translation
# instructions after a question was translated or answered) skips evaluating what they share: a
# translation request after a question's took 2.9 s with it, 4.9 s without (Qwen2.5-Coder-1.5B, 2 cores).
# A 400-token state of that model is ~11 MB.
LLAMA_STATE_CACHE_BYTES = 256 << 20
_LOADED: dict[tuple[str, int, int], LocalLlama] = {}
_LOADING = threading.Lock()


def gguf_path(settings: Settings) -> Path:
    """The local model: `gguf_path` if set, else the one `planqa model fetch` assembles."""
    from assistant.answer.model_fetch import default_gguf_path

    return Path(settings.gguf_path) if settings.gguf_path else default_gguf_path()


def llama_threads(settings: Settings) -> int:
    """Threads the local model generates on. llama-cpp-python takes half the cores unless told: on 2 cores,
    all of them write 19.2 tokens/s against 12.1 (Qwen2.5-Coder-1.5B Q4, one 76-token translation)."""
    return settings.threads or len(os.sched_getaffinity(0))


def local_llama(settings: Settings) -> LocalLlama:
    """The configured GGUF model, loaded once per process and shared by the llamacpp generator and
    translator (a 1.5B model takes ~1.1 GB). A clear error when the file or llama-cpp-python is missing."""
    path = gguf_path(settings)
    if not path.is_file():
        raise GeneratorUnavailableError(
            f"no GGUF model at {path}: run `planqa model fetch`, or set PLANQA_GGUF_PATH to a .gguf file"
        )
    try:
        from llama_cpp import Llama, LlamaRAMCache
    except ImportError as exc:
        raise GeneratorUnavailableError("the local model needs llama-cpp-python: pip install -e '.[local]'") from exc
    key = (str(path.resolve()), settings.llamacpp_context, settings.threads)
    with _LOADING:
        if key not in _LOADED:
            model = Llama(
                model_path=str(path),
                n_ctx=settings.llamacpp_context,
                n_batch=LLAMACPP_BATCH,
                n_threads=llama_threads(settings),
                verbose=False,
            )
            model.set_cache(LlamaRAMCache(capacity_bytes=LLAMA_STATE_CACHE_BYTES))
            _LOADED[key] = LocalLlama(str(path), model, threading.Lock())
        return _LOADED[key]


class LlamaCppGenerator(ChatGenerator):
    """A local GGUF model through llama-cpp-python (`pip install -e '.[local]'`; `planqa model fetch`)."""

    name = "llamacpp"

    def __init__(self, context: AnswerContext) -> None:
        self.context = context
        self.passages = context.settings.llamacpp_passages
        self.local = local_llama(context.settings)

    def shown(self, query: Query, hits: list[Hit]) -> list[Shown]:
        chars = self.context.settings.llamacpp_excerpt_chars
        if chars <= 0:
            return super().shown(query, hits)
        return passage_excerpts(query, hits[: self.passages], self.context, chars)

    def tokens(self, messages: list[tuple[str, str]]) -> Iterator[str]:
        chat = [{"role": "system" if role == "system" else "user", "content": content} for role, content in messages]
        with self.local.lock:  # the translator shares the model: one call at a time
            parts = self.local.llama.create_chat_completion(
                messages=chat, stream=True, temperature=0, max_tokens=self.context.settings.llamacpp_max_tokens
            )
            for part in parts:
                token = part["choices"][0]["delta"].get("content")
                if token:
                    yield token
