"""`Assistant`: the one object the CLI, the web app and Python users call. Loads (or builds) the index,
the embedder and the curated data once; answers searches and questions."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from assistant.curation import Curation
from assistant.embedding import Embedder, make_embedder
from assistant.errors import BadQuestionError
from assistant.indexing import BuildReport, ensure_index
from assistant.models import Hit
from assistant.retrieval import Filters, HybridRetriever
from assistant.settings import Settings
from assistant.store import StoredIndex

log = logging.getLogger(__name__)


@dataclass
class Assistant:
    settings: Settings
    index: StoredIndex
    embedder: Embedder
    curation: Curation
    build_report: BuildReport

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        progress: bool = False,
        rebuild: bool = False,
        embedder: Embedder | None = None,
    ) -> Assistant:
        """Load the index (building it first if needed). `embedder` overrides the configured one."""
        settings = settings or Settings.load()
        holder: dict[str, Embedder] = {"e": embedder} if embedder is not None else {}

        def get_embedder() -> Embedder:
            if "e" not in holder:
                holder["e"] = make_embedder(settings)
            return holder["e"]

        index, report = ensure_index(settings, get_embedder, rebuild=rebuild, progress=progress)
        return cls(settings, index, get_embedder(), Curation.load(settings.corpus_dir), report)

    @cached_property
    def retriever(self) -> HybridRetriever:
        return HybridRetriever(self.index, self.embedder, self.settings, self.curation)

    def clean_question(self, question: str) -> tuple[str, list[str]]:
        """The question trimmed to the configured length, with a note when it was cut."""
        text = " ".join((question or "").split())
        if not text:
            raise BadQuestionError("the question is empty")
        notes = []
        if len(text) > self.settings.max_question_chars:
            notes.append(
                f"the question was {len(text)} characters; only the first {self.settings.max_question_chars} were used"
            )
            text = text[: self.settings.max_question_chars]
        return text, notes

    def search(
        self,
        question: str,
        top_k: int | None = None,
        doc: str | None = None,
        chapter: int | None = None,
        section: int | None = None,
    ) -> list[Hit]:
        text, _ = self.clean_question(question)
        return self.retriever.search(text, top_k, Filters(self.resolve_doc(doc), chapter, section))

    def resolve_doc(self, key: str | None) -> str | None:
        if key is None:
            return None
        from assistant.browse import find_document

        return find_document(self.index, key)["id"]

    def document(self, doc_id: str) -> dict[str, Any]:
        return next(d for d in self.index.documents if d["id"] == doc_id)

    def heading_en(self, hit: Hit) -> str:
        doc = self.document(hit.chunk.doc_id)
        return self.curation.heading_en(doc["source"], doc["title"], hit.chunk.path)
