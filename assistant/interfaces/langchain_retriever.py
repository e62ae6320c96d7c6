"""A LangChain `BaseRetriever` over planqa's hybrid retriever, for users who build their own chains."""

from __future__ import annotations

import dataclasses
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict


class PlanRetriever(BaseRetriever):
    """`PlanRetriever(assistant=Assistant.from_settings(), k=5).invoke("…")` → LangChain Documents whose
    metadata carry the place (document, chapter, section, box) and the fused score."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    assistant: Any  # an Assistant (typed loosely: pydantic cannot build a validator for its protocols)
    k: int = 5
    doc: str | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        hits = self.assistant.search(query, top_k=self.k, doc=self.doc)
        return [
            Document(
                page_content=h.chunk.text,
                metadata={
                    "id": h.chunk.id,
                    "doc_id": h.chunk.doc_id,
                    "doc_title": self.assistant.view.document(h.chunk.doc_id).title,
                    "heading": h.chunk.path.label(),
                    "heading_en": self.assistant.view.passage(h.chunk.id).heading_en,
                    **{k: v for k, v in dataclasses.asdict(h.chunk.path).items() if k in ("chapter", "section", "box")},
                    "score": h.score,
                    "rank": h.rank,
                },
            )
            for h in hits
        ]
