"""Optional cross-encoder reranking (sentence-transformers `CrossEncoder`), off unless configured."""

from __future__ import annotations

from assistant.embed.sentence_transformers import sentence_transformers
from assistant.errors import EmbedderUnavailableError
from assistant.models import Hit
from assistant.settings import Settings


class CrossEncoderReranker:
    """Reorders fused hits by a cross-encoder's relevance score, e.g. `BAAI/bge-reranker-v2-m3`."""

    def __init__(self, settings: Settings) -> None:
        library = sentence_transformers()
        try:
            self._model = library.CrossEncoder(settings.reranker, device="cpu")
        except Exception as exc:  # OSError, hub errors, ValueError: all mean "cannot load it"
            raise EmbedderUnavailableError(f"cannot load reranker {settings.reranker!r}: {exc}") from exc

    def rerank(self, question: str, hits: list[Hit]) -> list[Hit]:
        if not hits:
            return hits
        scores = self._model.predict([(question, h.chunk.text) for h in hits], show_progress_bar=False)
        order = sorted(range(len(hits)), key=lambda i: -float(scores[i]))
        return [Hit(hits[i].chunk, float(scores[i]), rank, hits[i].sources) for rank, i in enumerate(order, 1)]
