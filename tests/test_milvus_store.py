"""The Milvus searcher on a milvus-lite file: the searcher contract, the same rankings as the local searcher,
and the collections' life (one per build, reused when reopened, switched in under the alias, old ones dropped)."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

from assistant.errors import SettingsError
from assistant.index.view import Filters, IndexView
from assistant.pipeline import Assistant
from assistant.retrieve.searchers import LocalSearcher
from assistant.settings import Settings
from tests.conftest import SMALL_PLAN
from tests.test_contracts import SearcherContract, small_index  # noqa: F401

pytest.importorskip("pymilvus", reason="the milvus extra is not installed: pip install -e '.[milvus]'")
pytest.importorskip("milvus_lite", reason="the milvus extra is not installed: pip install -e '.[milvus]'")

from assistant.retrieve.milvus_store import (  # noqa: E402
    CONNECT_TIMEOUT_S,
    MilvusSearcher,
    MilvusUnavailableError,
    collection_names,
)


def lite_settings(assistant: Assistant, folder: Path) -> Settings:
    return assistant.settings.with_(store="milvus", milvus_uri=str(folder / "milvus.db"))


@pytest.fixture(scope="module")
def milvus_searcher(small_index, tmp_path_factory) -> MilvusSearcher:  # noqa: F811
    return MilvusSearcher(small_index.view, lite_settings(small_index, tmp_path_factory.mktemp("milvus")))


class TestMilvusSearcher(SearcherContract):
    @pytest.fixture
    def searcher(self, milvus_searcher):
        return milvus_searcher


def test_rankings_match_the_local_searcher(milvus_searcher, small_index):  # noqa: F811
    view: IndexView = small_index.view
    local = LocalSearcher(view, small_index.settings)
    air = view.find_document("air.txt").id
    for filters in (Filters(), Filters(doc_id=air), Filters(chapter=2)):
        for row in range(len(view.passages)):
            vector = view.passage_vectors[row]
            assert milvus_searcher.dense(vector, 8, filters) == local.dense(vector, 8, filters)
            assert milvus_searcher.best_sentence(vector, 8, filters) == local.best_sentence(vector, 8, filters)
            tokens = view.passages[row].tokens[:4]
            assert milvus_searcher.lexical(tokens, 8, filters) == local.lexical(tokens, 8, filters)


def test_english_words_keep_hyphens_and_decimals(milvus_searcher):
    # no renderings in the small index: an English query matches nothing, hyphenated or not
    assert milvus_searcher.lexical(["low-carbon", "2.5"], 5, Filters(), "en") == []


def test_reopening_a_build_reuses_its_collection(milvus_searcher, small_index, monkeypatch):  # noqa: F811
    from pymilvus import MilvusClient

    def no_insert(*args, **kwargs):
        raise AssertionError("a build already in Milvus was inserted again")

    monkeypatch.setattr(MilvusClient, "insert", no_insert)
    settings = small_index.settings.with_(store="milvus", milvus_uri=milvus_searcher.uri)
    again = MilvusSearcher(small_index.view, settings)
    assert again.build_seconds is None and again.passages == milvus_searcher.passages
    assert again.dense(small_index.view.passage_vectors[0], 1, Filters()) == [0]


def test_a_build_cut_short_is_built_again(small_index, tmp_path):  # noqa: F811
    settings = lite_settings(small_index, tmp_path)
    first = MilvusSearcher(small_index.view, settings)
    first.client.delete(first.passages, filter="row >= 2")  # as if the process died while inserting
    again = MilvusSearcher(small_index.view, settings)
    assert again.build_seconds is not None
    assert again.dense(small_index.view.passage_vectors[3], 1, Filters()) == [3]


def test_a_new_build_takes_the_alias_and_drops_the_old_collection(small_settings, embedder, tmp_path):
    old = Assistant.from_settings(small_settings, embedder=embedder)
    settings = old.settings.with_(store="milvus", milvus_uri=str(tmp_path / "milvus.db"))
    first = MilvusSearcher(old.view, settings)
    assert first.client.describe_alias("planqa")["collection_name"] == first.passages

    plan = small_settings.corpus_dir / "water.txt"
    plan.write_text(SMALL_PLAN + "3.再生水:污水经处理后达到一定水质标准的非饮用水。\n", encoding="utf-8")
    new = Assistant.from_settings(small_settings, embedder=embedder)  # the corpus changed: a new build
    assert new.view.folder != old.view.folder
    second = MilvusSearcher(new.view, settings)

    client = second.client
    assert second.build_seconds is not None and second.passages != first.passages
    assert client.describe_alias("planqa")["collection_name"] == second.passages
    assert client.describe_alias("planqa_sentences")["collection_name"] == second.sentences
    assert set(client.list_collections()) == set(collection_names("planqa", new.view))
    row = len(new.view.passages) - 1
    assert second.dense(new.view.passage_vectors[row], 1, Filters()) == [row]


def test_an_unreachable_server_is_named_in_a_clear_error_quickly(small_index):  # noqa: F811
    settings = small_index.settings.with_(store="milvus", milvus_uri="http://127.0.0.1:1")
    started = time.perf_counter()
    with pytest.raises(MilvusUnavailableError, match=r"127\.0\.0\.1:1"):
        MilvusSearcher(small_index.view, settings)
    assert time.perf_counter() - started < CONNECT_TIMEOUT_S + 1


def test_a_missing_extra_says_how_to_install_it(small_index, monkeypatch):  # noqa: F811
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pymilvus" else real(name, *a))
    with pytest.raises(SettingsError, match=r"pip install -e '\.\[milvus\]'"):
        MilvusSearcher(small_index.view, small_index.settings.with_(store="milvus"))


def test_a_uri_that_is_neither_a_server_nor_a_lite_file_is_a_settings_error(small_index, tmp_path):  # noqa: F811
    with pytest.raises(SettingsError, match="milvus-lite file"):
        MilvusSearcher(small_index.view, small_index.settings.with_(milvus_uri=str(tmp_path / "milvus")))
