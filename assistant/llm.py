"""LLM generators: any OpenAI-compatible endpoint (through langchain-openai) and a local GGUF model
(through llama-cpp-python). Both fill the prompt templates in `prompts/` strictly and return a draft
that the citation check then verifies."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from assistant.answering import Draft, SentencePicker
from assistant.citations import MARKER_RE
from assistant.errors import GeneratorUnavailableError, SettingsError
from assistant.models import Hit
from assistant.outline import split_sentences
from assistant.retrieval import HybridRetriever, Query, bigram_set
from assistant.segmentation import en_tokens
from assistant.settings import Settings

if TYPE_CHECKING:
    from langchain_openai import ChatOpenAI

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


def build_messages(
    query: Query, shown: list[Shown], retriever: HybridRetriever, prompts: Path
) -> list[tuple[str, str]]:
    blocks = []
    for n, item in enumerate(shown, 1):
        doc = next(d for d in retriever.index.documents if d["id"] == item.hit.chunk.doc_id)
        blocks.append(
            fill(
                prompts / "passage.txt",
                n=str(n),
                doc_title=doc["title"],
                heading=item.hit.chunk.path.label(),
                text=item.text,
                rendering=f"(English rendering, unofficial: {item.rendering})" if item.rendering else "",
            ).strip()
        )
    system = fill(prompts / f"answer_{query.lang}.txt", passages="\n\n".join(blocks))
    return [("system", system), ("human", query.text)]


def whole_passages(query: Query, hits: list[Hit], retriever: HybridRetriever) -> list[Shown]:
    """Each passage whole, with its English rendering for an English question."""
    return [
        Shown(h, h.chunk.text, retriever.text_en[retriever.row_of(h.chunk)] if query.lang == "en" else "") for h in hits
    ]


def passage_excerpts(query: Query, hits: list[Hit], retriever: HybridRetriever, max_chars: int) -> list[Shown]:
    """The sentences of each passage that best match the question, in their own order, up to `max_chars`
    a passage: a small local model reads its prompt at a few dozen tokens a second. An English question
    sees the English of the excerpt alone when every sentence of it has a rendering."""
    ranked = SentencePicker(retriever, passages=len(hits)).pick(query, hits)
    shown = []
    for hit in hits:
        sentences = [text for text, _ in retriever.sentences_of(retriever.row_of(hit.chunk))]
        best = [e.sentence for e in ranked if e.hit == hit]
        kept: set[str] = set()
        for sentence in best:
            if sum(map(len, kept)) + len(sentence) > max_chars and kept:
                break
            kept.update(line.text for line in split_sentences(sentence))
        excerpt = "".join(s for s in sentences if s in kept) or hit.chunk.text[:max_chars]
        english = [retriever.curation.rendering(s) for s in sentences if s in kept] if query.lang == "en" else []
        if english and all(english):
            shown.append(Shown(hit, "", " ".join(english)))  # type: ignore[arg-type]
        else:
            shown.append(Shown(hit, excerpt))
    return shown


def draft_from_text(text: str, shown: list[Hit], renderings: list[str]) -> Draft:
    """An LLM's answer as a draft: its [n] refer to the passages in the prompt, in order. A sentence the
    model left without a marker gets the shown passage it overlaps most, if any overlaps enough; the
    citation check then decides whether that passage really supports it."""
    text = attach_missing_markers(text, shown, renderings)
    used = sorted({int(n) for n in MARKER_RE.findall(text)})
    cited = tuple(shown[n - 1] for n in used if 1 <= n <= len(shown))
    renumber = {n: i for i, n in enumerate([n for n in used if 1 <= n <= len(shown)], 1)}
    text = MARKER_RE.sub(lambda m: f"[{renumber.get(int(m.group(1)), int(m.group(1)) + 100)}]", text)
    if says_only_not_found(text):
        return Draft(text.strip(), (), (), True)
    return Draft(text.strip(), cited, tuple(h.chunk.text for h in cited), False)


NOT_FOUND = ("没有找到相关内容", "plans do not say", "plans do not mention")


def says_only_not_found(text: str) -> bool:
    """The model's answer is that the plans do not say, whatever markers it put after that: "The plans
    do not say.[1]" cites a passage for a claim it does not make. "The plans do not say much about X,
    but Box 5 lists…" makes a claim."""

    def substance(piece: str) -> int:
        return len(re.sub(r"[\W_]+", "", piece))

    sentences = [s for s in re.split(r"(?<=[。！？.!?])", MARKER_RE.sub("", text)) if s.strip()]
    found = [s for s in sentences if any(p in s for p in NOT_FOUND)]
    if not found:
        return False
    claims = [s for s in sentences if s not in found] + [s.replace(p, "") for s in found for p in NOT_FOUND if p in s]
    return sum(substance(c) for c in claims) < 25


def attach_missing_markers(text: str, shown: list[Hit], renderings: list[str], floor: float = 0.5) -> str:
    pieces = re.split(r"(?<=[。！？!?])|(?<=\.)\s+", text.strip())
    out = []
    for piece in filter(None, (p.strip() for p in pieces)):
        if MARKER_RE.search(piece) or not shown:
            out.append(piece)
            continue
        words = content_units(piece)
        overlaps = [overlap(words, content_units(h.chunk.text + " " + r)) for h, r in zip(shown, renderings)]
        best = max(range(len(shown)), key=lambda i: overlaps[i])
        out.append(f"{piece}[{best + 1}]" if overlaps[best] >= floor else piece)
    joiner = "" if re.search(r"[\u4e00-\u9fff]", text) else " "
    return joiner.join(out)


def content_units(text: str) -> set[str]:
    """Chinese character pairs and English content words: what a claim and a passage can share."""
    return bigram_set(re.sub(r"[^\u4e00-\u9fff]", "", text)) | set(en_tokens(text))


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
    """What the LLM generators share: the prompt from the top passages, and the draft from the reply."""

    passages = 4
    retriever: HybridRetriever
    settings: Settings

    def stream(self, query: Query, hits: list[Hit]) -> Iterator[str]:
        raise NotImplementedError

    def shown(self, query: Query, hits: list[Hit]) -> list[Shown]:
        return whole_passages(query, hits[: self.passages], self.retriever)

    def messages(self, query: Query, hits: list[Hit]) -> list[tuple[str, str]]:
        return build_messages(query, self.shown(query, hits), self.retriever, self.settings.prompts_dir)

    def draft(self, query: Query, hits: list[Hit]) -> Draft:
        shown = hits[: self.passages]
        renderings = [self.retriever.text_en[self.retriever.row_of(h.chunk)] for h in shown]
        return draft_from_text("".join(self.stream(query, hits)), shown, renderings)


class OpenAIGenerator(ChatGenerator):
    """Any OpenAI-compatible chat endpoint (OpenAI, vLLM, llama.cpp server, Ollama...), streaming."""

    name = "openai"
    passages = 6  # a hosted model reads a long prompt fast

    def __init__(self, retriever: HybridRetriever, settings: Settings) -> None:
        self.client = openai_chat_model(settings)
        self.retriever = retriever
        self.settings = settings

    def stream(self, query: Query, hits: list[Hit]) -> Iterator[str]:
        messages = self.messages(query, hits)
        try:
            for chunk in self.client.stream(messages):
                if chunk.content:
                    yield str(chunk.content)
        except Exception as exc:  # openai/httpx raise many kinds; all mean "the backend failed"
            raise GeneratorUnavailableError(f"the LLM endpoint {self.settings.openai_base_url} failed: {exc}") from exc


class LlamaCppGenerator(ChatGenerator):
    """A local GGUF model through llama-cpp-python (`pip install -e '.[local]'`; `planqa model fetch`)."""

    name = "llamacpp"
    passages = 3  # a 1.5B model on two cores reads ~50 prompt tokens a second: keep the prompt short
    max_tokens = 200  # one to three sentences

    def __init__(self, retriever: HybridRetriever, settings: Settings) -> None:
        from assistant.model_fetch import default_gguf_path

        path = Path(settings.gguf_path) if settings.gguf_path else default_gguf_path()
        if not path.is_file():
            raise GeneratorUnavailableError(
                f"no GGUF model at {path}: run `planqa model fetch`, or set PLANQA_GGUF_PATH to a .gguf file"
            )
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise GeneratorUnavailableError("mode llamacpp needs llama-cpp-python: pip install -e '.[local]'") from exc
        self.retriever = retriever
        self.settings = settings
        self.model = Llama(
            model_path=str(path), n_ctx=3072, n_batch=512, n_threads=settings.threads or None, verbose=False
        )

    def shown(self, query: Query, hits: list[Hit]) -> list[Shown]:
        chars = self.settings.llamacpp_excerpt_chars
        if chars <= 0:
            return super().shown(query, hits)
        return passage_excerpts(query, hits[: self.passages], self.retriever, chars)

    def stream(self, query: Query, hits: list[Hit]) -> Iterator[str]:
        messages = [
            {"role": "system" if role == "system" else "user", "content": content}
            for role, content in self.messages(query, hits)
        ]
        parts = self.model.create_chat_completion(
            messages=messages, stream=True, temperature=0, max_tokens=self.max_tokens
        )
        for part in parts:
            token = part["choices"][0]["delta"].get("content")
            if token:
                yield token
