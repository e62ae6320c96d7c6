"""The generator seam: a small protocol (a draft answer with [n] markers from the retrieved passages),
a registry chosen by `Settings.generator` (extractive, openai, llamacpp), and what every generator is
given. Whoever wrote a draft, the pipeline checks it before it is shown."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from assistant.errors import BadQuestionError
from assistant.index.view import IndexView
from assistant.models import Hit
from assistant.retrieve.query import Query
from assistant.settings import Settings

TokenSink = Callable[[str], None]


@dataclass(frozen=True)
class Draft:
    """A generator's answer before the citation check: text with [n] markers, n indexing `cited`."""

    text: str
    cited: tuple[Hit, ...]
    quotes: tuple[str, ...]  # the supporting sentence(s) of each cited passage, same order
    abstained: bool = False
    kind: str = "fact"  # "fact", "list" or "overview": what the question asked for


@dataclass(frozen=True)
class AnswerContext:
    """What a generator reads: the built index, the settings and the (cached) query embedder."""

    view: IndexView
    settings: Settings
    query_vector: Callable[[str], np.ndarray]


class Generator(Protocol):
    name: str

    def draft(self, query: Query, hits: list[Hit], on_token: TokenSink | None = None) -> Draft:
        """The answer to `query` from `hits`. `on_token` receives the text as it is produced (an LLM's
        tokens; the extractive answer at once): the draft is made of exactly that text."""
        ...


GENERATORS: dict[str, str] = {
    "extractive": "assistant.answer.extractive:ExtractiveGenerator",
    "openai": "assistant.answer.llm:OpenAIGenerator",
    "llamacpp": "assistant.answer.llm:LlamaCppGenerator",
}


def make_generator(mode: str, context: AnswerContext) -> Generator:
    try:
        module, _, attr = GENERATORS[mode].partition(":")
    except KeyError:
        raise BadQuestionError(f"unknown mode {mode!r}; choose one of {', '.join(GENERATORS)}") from None
    return getattr(importlib.import_module(module), attr)(context)
