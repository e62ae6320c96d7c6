"""Background drafting over a small indexed plan against a real HTTP endpoint (the loopback stub LLM): every
missing sentence and title drafted batch by batch, progress in the status file, resumable after a failure
or a stop, one job per index, askers first, `planqa translate --pending/--status`, and the app's start."""

from __future__ import annotations

import json
import math
import re
import shutil
import threading
import time
from pathlib import Path

import pytest

from assistant.index.build import ensure_index
from assistant.index.folder import read_index
from assistant.ingest.curation import Curation
from assistant.interfaces.cli import main
from assistant.settings import Settings
from assistant.translate.background import (
    STATUS_FILE,
    DraftingJob,
    JobRunningError,
    Offline,
    job_running,
    read_status,
    start_background_drafting,
)
from assistant.translate.drafts import document_sentences
from assistant.translate.translators import TranslatorHolder
from tests.conftest import SMALL_PLAN
from tests.stub_llm import StubLLM, batch_of
from tests.stub_llm import stand_in_rendering as fake_english

GLOSSARY = "zh\ten\taliases\tkind\n水源地\twater source area\t\tterm\n"
BATCH = 4
WAIT_S = 30  # bound on waiting for a thread or process that should finish at once; never reached when it works
QUIET_S = 0.3  # how long a job held back must stay silent


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder) -> Path:
    """The small plan indexed once; each test works on its own copy."""
    root = tmp_path_factory.mktemp("background")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "water.txt").write_text(SMALL_PLAN, encoding="utf-8")
    (corpus / "glossary_zh_en.tsv").write_text(GLOSSARY, encoding="utf-8")
    ensure_index(
        Settings.load(environ={}, corpus_dir=corpus, index_dir=root / "index"), lambda: embedder, progress=False
    )
    return root


def drafts(body: dict) -> str:
    return json.dumps([fake_english(zh) for zh in batch_of(body)])


@pytest.fixture
def stub():
    with StubLLM() as server:
        server.respond = drafts
        yield server


@pytest.fixture
def settings(built: Path, tmp_path: Path, stub: StubLLM) -> Settings:
    shutil.copytree(built / "corpus", tmp_path / "corpus")
    shutil.copytree(built / "index", tmp_path / "index", symlinks=True)
    return Settings.load(
        environ={},
        corpus_dir=tmp_path / "corpus",
        index_dir=tmp_path / "index",
        translator="openai",
        openai_base_url=stub.base_url,
        openai_model="stub-model",
        translate_batch_size=BATCH,
    )


@pytest.fixture
def target(settings: Settings) -> Offline:
    return Offline(
        read_index(settings.index_dir), TranslatorHolder(settings), Curation.load(settings.corpus_dir).glossary
    )


def job(settings: Settings, target: Offline, **kwargs) -> DraftingJob:
    return DraftingJob(settings, lambda: target, **kwargs)


def wanted(view) -> list[str]:
    """What an English answer may show of the plan: its sentences, its title and its places' titles."""
    doc = view.documents[0]
    paths = [p.chunk.path for p in view.passages]
    titles = [t for p in paths for t in (p.chapter_title, p.section_title, p.box_title, p.term_title) if t]
    return list(dict.fromkeys([*document_sentences(view, doc.id), doc.title, *titles]))


def written(settings: Settings) -> list[dict]:
    path = settings.corpus_dir / "translations" / "water.en.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def state_is(settings: Settings, state: str) -> bool:
    status = read_status(settings) if (settings.index_dir / STATUS_FILE).exists() else None
    return status is not None and status.state == state


def test_drafts_every_sentence_and_title_batch_by_batch_and_then_nothing(settings, target, stub):
    texts = wanted(target.view)
    assert len(texts) > 13  # the 13 sentences, and titles
    status = job(settings, target).run()
    assert status.state == "done" and status.model == "stub-model" and not status.error
    assert len(stub.requests) == math.ceil(len(texts) / BATCH)
    assert all(len(batch_of(r)) <= BATCH for r in stub.requests)
    records = written(settings)
    assert sorted(r["zh"].strip() for r in records) == sorted(t.strip() for t in texts)
    assert all(r["draft"] is True and r["model"] == "stub-model" for r in records)

    on_disk = json.loads((settings.index_dir / STATUS_FILE).read_text(encoding="utf-8"))
    assert on_disk["state"] == "done" and on_disk["pid"] > 0 and on_disk["started_at"] <= on_disk["updated_at"]
    [doc] = on_disk["documents"]
    assert doc["source"] == "water.txt" and doc["title"] == target.view.documents[0].title
    assert (doc["total"], doc["done_before"], doc["drafted"], doc["rejected"], doc["pending"]) == (
        len(texts),
        0,
        len(texts),
        0,
        0,
    )
    # the view learnt every batch: each passage, the plan's title and every place now read in English
    view = target.view
    assert all(view.english_text(p.id) and view.english_heading(p.id) for p in view.passages)
    assert view.english_title(view.documents[0].id) == fake_english(view.documents[0].title)

    fresh = Offline(read_index(settings.index_dir), TranslatorHolder(settings), target.glossary)
    again = job(settings, fresh).run()  # a new process: what the file holds counts as done
    assert again.state == "done" and (again.drafted, again.pending) == (0, 0)
    assert again.documents[0].done_before == len(texts) and len(stub.requests) == math.ceil(len(texts) / BATCH)


def test_a_failure_midway_keeps_earlier_batches_and_the_next_run_completes(settings, target, stub):
    def two_then_broken(body: dict) -> str:
        if len(stub.requests) == 2:
            stub.garbage = True  # the third request on gets an HTTP reply that is not JSON
        return drafts(body)

    stub.respond = two_then_broken
    status = job(settings, target).run()
    total = len(wanted(target.view))
    assert status.state == "failed" and f"endpoint {stub.base_url}" in status.error
    assert len(stub.requests) == 3 and len(written(settings)) == 2 * BATCH
    assert (status.drafted, status.pending) == (2 * BATCH, total - 2 * BATCH)
    assert read_status(settings).state == "failed"

    stub.garbage, stub.respond = False, drafts
    again = job(settings, target).run()
    assert again.state == "done" and not again.error
    assert again.documents[0].done_before == 2 * BATCH and again.drafted == total - 2 * BATCH
    assert len(written(settings)) == total


def test_a_stopped_job_keeps_what_it_wrote_and_resumes(settings, target, stub):
    stop = threading.Event()
    status = job(settings, target, stop=stop, progress=lambda s: s.drafted and stop.set()).run()
    assert status.state == "stopped" and status.drafted == BATCH and len(stub.requests) == 1
    again = job(settings, target).run()
    assert again.state == "done" and again.documents[0].done_before == BATCH


def test_ctrl_c_records_stopped(settings, target, stub):
    def interrupt(status) -> None:
        if status.drafted:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        job(settings, target, progress=interrupt).run()
    assert read_status(settings).state == "stopped" and len(written(settings)) == BATCH
    assert not job_running(settings)  # the lock went with the job


def test_the_job_waits_while_an_asker_translates_and_a_second_job_is_refused(settings, target, stub):
    first = job(settings, target)
    with target.translator.foreground():  # an asker translating: the job must not send a request
        thread = threading.Thread(target=first.run)
        thread.start()
        wait_for(lambda: state_is(settings, "running"), "the job to start")
        time.sleep(QUIET_S)
        assert stub.requests == []
        assert job_running(settings)
        with pytest.raises(JobRunningError, match="already running"):
            job(settings, target).run()
    thread.join(WAIT_S)
    assert not thread.is_alive() and first.status.state == "done" and stub.requests
    assert not job_running(settings)


def test_cli_pending_and_status(settings, stub, monkeypatch, capsys):
    for name, value in (("OPENAI_BASE_URL", stub.base_url), ("OPENAI_MODEL", "stub-model")):
        monkeypatch.setenv(f"PLANQA_{name}", value)
    monkeypatch.setenv("PLANQA_TRANSLATE_BATCH_SIZE", str(BATCH))
    base = ["--corpus", str(settings.corpus_dir), "--index", str(settings.index_dir), "--translator", "openai"]
    assert main([*base, "translate", "--status"]) == 0
    assert "no translation job has run" in capsys.readouterr().out
    assert main([*base, "translate", "--pending", "--status"]) == 2
    assert "exactly one of DOC, --pending or --status" in capsys.readouterr().err

    assert main([*base, "translate", "--pending"]) == 0
    total = len(wanted(read_index(settings.index_dir)))
    assert f"done: {total} drafted, 0 rejected, 0 pending" in capsys.readouterr().out
    assert main([*base, "translate", "--status"]) == 0
    out = capsys.readouterr().out
    assert "translation job: done · model stub-model" in out
    assert re.search(rf"^\s+{total}\s+{total}\s+{total}\s+0\s+0\s+water.txt 《示范省水资源保护规划》$", out, re.M)
    assert re.search(rf"^\s+{total}\s+{total}\s+{total}\s+0\s+0\s+all plans$", out, re.M)
    assert "sentences/min" in out
    assert main([*base, "translate", "--status", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert (record["state"], record["drafted"], record["running"]) == ("done", total, False)


def test_planqa_index_starts_the_job_detached(settings, stub, monkeypatch, capsys):
    for name, value in (("OPENAI_BASE_URL", stub.base_url), ("OPENAI_MODEL", "stub-model")):
        monkeypatch.setenv(f"PLANQA_{name}", value)
    base = ["--corpus", str(settings.corpus_dir), "--index", str(settings.index_dir), "--translator", "openai"]
    assert main([*base, "index", "--no-translate"]) == 0
    assert "background" not in capsys.readouterr().out
    assert main([*base, "index"]) == 0
    assert "follow it with `planqa translate --status`" in capsys.readouterr().out  # returned at once
    wait_for(lambda: state_is(settings, "done"), "the detached job to finish")
    assert len(written(settings)) == len(wanted(read_index(settings.index_dir)))
    assert "drafted" in (settings.index_dir / "translation.log").read_text(encoding="utf-8")


def test_the_app_drafts_in_a_thread_and_its_view_learns(settings, stub, embedder):
    from assistant.pipeline import Assistant

    assistant = Assistant.from_settings(settings, embedder=embedder)
    assert start_background_drafting(settings.with_(translate_in_background=False), lambda: assistant) is None
    assert start_background_drafting(settings.with_(translator="none"), lambda: assistant) is None
    passage = assistant.view.passages[0]
    assert not assistant.view.english_text(passage.id)
    drafting = start_background_drafting(settings, lambda: assistant)
    drafting.thread.join(WAIT_S)
    assert not drafting.thread.is_alive() and read_status(settings).state == "done"
    assert assistant.view.english_text(passage.id)  # seen at once by the running app
    drafting.stop()


def test_askers_translate_in_the_foreground(settings, stub, embedder):
    """The question's translation and the answer's English are asked for inside `foreground`, so a
    background job waits for them."""
    from assistant.pipeline import Assistant

    assistant = Assistant.from_settings(settings, embedder=embedder)
    askers: dict[str, list[int]] = {"question": [], "answer": []}

    def respond(body: dict) -> str:
        answer = "\n[" in body["messages"][-1]["content"]  # a batch of sentences, not a question
        askers["answer" if answer else "question"].append(assistant.translator.askers)
        return drafts(body) if answer else "县级水源地达标率是多少"

    stub.respond = respond
    assistant.ask("What share of county water sources should meet the standard by 2025?")
    assert askers["question"] == [1] and askers["answer"] and all(askers["answer"])
    assert assistant.translator.askers == 0
