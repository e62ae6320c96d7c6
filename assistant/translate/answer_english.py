"""English made when an English question needs it: the quoted sentences, plan titles and headings of an
answer that have no rendering are translated (checked as `planqa translate` checks drafts), written to
each plan's renderings file as machine drafts, and learnt by the index view, so the next asker has them."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from assistant.answer.generators import Draft
from assistant.errors import GeneratorUnavailableError
from assistant.index.view import IndexView
from assistant.ingest.curation import Curation, GlossaryEntry
from assistant.settings import Settings
from assistant.text import sentences
from assistant.translate.drafts import (
    append_records,
    batched,
    default_output,
    draft_records,
    draft_with_repairs,
    log_rejections,
)
from assistant.translate.translators import TranslatorHolder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rendered:
    """What one request for an answer's English did."""

    drafted: int = 0
    rejected: int = 0
    model: str = ""
    failure: str = ""  # the translator's error, when it failed or could not start


def missing_english(draft: Draft, view: IndexView) -> dict[str, list[str]]:
    """By document, the Chinese an English answer would show without English: the sentences it quotes,
    and the titles of its plans and places."""
    out: dict[str, list[str]] = {}
    for hit, quote in zip(draft.cited, draft.quotes):
        doc_id = hit.chunk.doc_id
        texts = [s.strip() for s in sentences(quote) if not view.rendering(s)]
        if not view.english_title(doc_id):
            texts.append(view.document(doc_id).title)
        if not view.english_heading(hit.chunk.id):
            texts.extend(t for t in hit.chunk.path.titles if t and not view.rendering(t))
        out.setdefault(doc_id, []).extend(texts)
    return {doc: list(dict.fromkeys(t for t in texts if t)) for doc, texts in out.items() if texts}


def title_renderings(view: IndexView, curation: Curation) -> dict[str, str]:
    """The renderings files' English for the plans' titles and their places' titles, which the index
    does not store (it keeps sentences' renderings): learnt by the view when it is loaded."""
    titles = {d.title for d in view.documents}
    for p in view.passages:
        titles.update(t for t in p.chunk.path.titles if t)
    return {t: en for t in titles if (en := curation.rendering(t))}


class AnswerEnglish:
    """Renders what an answer lacks with the configured translator, one plan at a time."""

    def __init__(
        self, holder: TranslatorHolder, view: IndexView, settings: Settings, glossary: tuple[GlossaryEntry, ...]
    ) -> None:
        self.holder = holder
        self.view = view
        self.settings = settings
        self.glossary = glossary
        self._write_lock = threading.Lock()  # several askers may draft for the same plan at once
        # Texts whose drafts failed the checks: at temperature 0 the model would write the same again, so
        # they are not asked for again in this process (`planqa translate` retries them).
        self.rejected: set[str] = set()

    def render(self, draft: Draft) -> Rendered:
        missing = {
            doc: todo
            for doc, texts in missing_english(draft, self.view).items()
            if (todo := [t for t in texts if t not in self.rejected])
        }
        if not missing:
            return Rendered()
        translator = self.holder.get()
        if translator is None:
            return Rendered(failure=self.holder.failure)
        drafted = rejected = 0
        try:
            with self.holder.foreground():  # background drafting waits meanwhile
                for doc_id, texts in missing.items():
                    for batch in batched(texts, self.settings.translate_batch_size):
                        result = draft_with_repairs(translator, batch, self.glossary, self.settings.prompts_dir)
                        log_rejections(result)
                        self.rejected.update(r.zh for r in result.rejected)
                        self.keep(doc_id, draft_records(result, translator.model))
                        drafted, rejected = drafted + len(result.accepted), rejected + len(result.rejected)
        except GeneratorUnavailableError as exc:
            log.warning("English for an answer was not drafted: %s", exc)
            self.holder.failure = str(exc)
            return Rendered(drafted, rejected, translator.model, str(exc))
        return Rendered(drafted, rejected, translator.model)

    def keep(self, doc_id: str, records: list[dict]) -> None:
        """Write drafts to the plan's renderings file, then let the view use them."""
        if not records:
            return
        path: Path = default_output(self.settings.corpus_dir, self.view.document(doc_id).source)
        with self._write_lock:
            append_records(path, records)
        self.view.learn_renderings({r["zh"]: r["en"] for r in records})
