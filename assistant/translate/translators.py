"""The translator seam: a small protocol (messages in, the model's reply out) over the LLM backends that
render plan text into English and English questions into Chinese, and a registry chosen by
`Settings.translator`. What a reply must satisfy is checked by the callers, the same for every backend."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from assistant.errors import GeneratorUnavailableError, SettingsError
from assistant.settings import Settings

log = logging.getLogger(__name__)

Messages = list[tuple[str, str]]  # (role, content); role "system" or "human"


class Translator(Protocol):
    name: str  # the registry name: "openai", "llamacpp"
    model: str  # the model's name, recorded with every draft it writes

    def complete(self, messages: Messages, max_tokens: int) -> str:
        """The model's whole reply (deterministic: temperature 0). Raises GeneratorUnavailableError
        when the backend fails."""
        ...


TRANSLATORS: dict[str, str] = {
    "openai": "assistant.translate.translators:OpenAITranslator",
    "llamacpp": "assistant.translate.translators:LlamaCppTranslator",
}
CHOICES = ("auto", "none", *TRANSLATORS)


def chosen_translator(settings: Settings) -> str:
    """The translator the settings choose; `auto` is `llamacpp` when its model and llama-cpp-python are
    installed, else `openai` when an OpenAI-compatible endpoint is configured, else `none`."""
    name = settings.translator
    if name not in CHOICES:
        raise SettingsError(f"unknown translator {name!r}; choose one of {', '.join(CHOICES)}")
    if name != "auto":
        return name
    from assistant.answer.llm import gguf_path

    local_ready = gguf_path(settings).is_file() and importlib.util.find_spec("llama_cpp") is not None
    if local_ready:
        return "llamacpp"
    return "openai" if settings.openai_configured else "none"


def make_translator(settings: Settings) -> Translator | None:
    """The configured translator, or None for `none`. A backend that cannot start raises
    GeneratorUnavailableError saying what to install or set."""
    name = chosen_translator(settings)
    if name == "none":
        return None
    module, _, attr = TRANSLATORS[name].partition(":")
    return getattr(importlib.import_module(module), attr)(settings)


class OpenAITranslator:
    """Any OpenAI-compatible chat endpoint (`PLANQA_OPENAI_BASE_URL`, `PLANQA_OPENAI_MODEL`)."""

    name = "openai"

    def __init__(self, settings: Settings) -> None:
        from assistant.answer.llm import openai_chat_model

        if not settings.openai_configured or not settings.openai_model:
            raise SettingsError(
                "the openai translator needs an OpenAI-compatible LLM: set PLANQA_OPENAI_BASE_URL (e.g. "
                "http://host:8000/v1), PLANQA_OPENAI_MODEL and, if the endpoint wants one, OPENAI_API_KEY"
            )
        self.settings = settings
        self.model = settings.openai_model
        self.client = openai_chat_model(settings)

    def complete(self, messages: Messages, max_tokens: int) -> str:
        try:
            return str(self.client.bind(max_tokens=max_tokens).invoke(messages).content)
        except Exception as exc:  # openai/httpx raise many kinds; all mean "the endpoint failed"
            s = self.settings
            raise GeneratorUnavailableError(
                f"the LLM endpoint {s.openai_base_url} (model {s.openai_model}) failed: {exc}; "
                "check PLANQA_OPENAI_BASE_URL, PLANQA_OPENAI_MODEL and OPENAI_API_KEY"
            ) from exc


class LlamaCppTranslator:
    """The local GGUF model (`planqa model fetch`) through llama-cpp-python, shared with the llamacpp
    generator: one copy of the weights in memory, one call at a time."""

    name = "llamacpp"

    def __init__(self, settings: Settings) -> None:
        from assistant.answer.llm import local_llama

        self.local = local_llama(settings)
        self.model = Path(self.local.path).stem

    def complete(self, messages: Messages, max_tokens: int) -> str:
        chat = [{"role": "system" if role == "system" else "user", "content": text} for role, text in messages]
        with self.local.lock:
            started = time.perf_counter()
            reply = self.local.llama.create_chat_completion(messages=chat, temperature=0, max_tokens=max_tokens)
        usage = reply.get("usage", {})
        log.debug(
            "%s: %s prompt + %s reply tokens in %.1f s",
            self.model,
            usage.get("prompt_tokens"),
            usage.get("completion_tokens"),
            time.perf_counter() - started,
        )
        return str(reply["choices"][0]["message"]["content"] or "")


class TranslatorHolder:
    """Starts the configured translator on first use (loading a local model takes a second or two) and
    remembers a failure to start, so that each question does not retry it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._translator: Translator | None = None
        self._started = False
        self.failure = ""
        # Askers translating now (`foreground`): background drafting waits until there are none, so a
        # question waits for at most the one background batch already in flight.
        self._askers = 0
        self._no_askers = threading.Condition()

    @property
    def configured(self) -> bool:
        return chosen_translator(self.settings) != "none"

    def get(self) -> Translator | None:
        with self._lock:
            if not self._started:
                self._started = True
                try:
                    self._translator = make_translator(self.settings)
                except GeneratorUnavailableError as exc:
                    self.failure = str(exc)
                    log.warning("no translator: %s", exc)
            return self._translator

    @contextmanager
    def foreground(self) -> Iterator[None]:
        """Around an asker's translator calls: they come before background drafting."""
        with self._no_askers:
            self._askers += 1
        try:
            yield
        finally:
            with self._no_askers:
                self._askers -= 1
                if not self._askers:
                    self._no_askers.notify_all()

    def wait_for_askers(self, stop: threading.Event | None = None, poll_seconds: float = 0.5) -> None:
        """Return once no asker is in `foreground` (or `stop` is set, checked every `poll_seconds`)."""
        with self._no_askers:
            while self._askers and not (stop is not None and stop.is_set()):
                self._no_askers.wait(poll_seconds)

    @property
    def askers(self) -> int:
        with self._no_askers:
            return self._askers
