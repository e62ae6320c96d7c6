"""`planqa index --ray`: the documents are loaded, chunked and embedded by a Ray Data job, in actors that each
build the embedder once, and streamed back in file order to the same writer as a local build."""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Generator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import PlanqaError
from assistant.index.streaming import Prepared, SharedVectors
from assistant.settings import Settings

log = logging.getLogger(__name__)

# Embedder actors of the job, each with its own model and one of Ray's CPUs: on two cores two took 40.2 s and
# one 43.6 s for 4 plans (benchmarks/bench_ingest_memory.py --ray). A cluster sets --ray-actors.
RAY_ACTORS = 2
# Documents per actor call: a document is already hundreds of texts, so one keeps the rows in flight few.
DOCUMENTS_PER_CALL = 1


RAY_MISSING = "--ray needs Ray Data: pip install -e '.[ray]'"


def require_ray() -> None:
    """Fail early, without importing Ray (seconds), when it is not installed."""
    if importlib.util.find_spec("ray") is None:
        raise PlanqaError(RAY_MISSING)


def import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise PlanqaError(RAY_MISSING) from None
    return ray


def start_ray(ray: Any) -> bool:
    """Join the Ray cluster of RAY_ADDRESS, else start a local one on this machine's cores. True if this
    call started Ray (and so should stop it)."""
    if ray.is_initialized():
        return False
    if os.environ.get("RAY_ADDRESS"):
        ray.init()
    else:
        # worker output stays in Ray's log files: an actor's error is raised here all the same
        ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
    return True


class DocumentPreparer:
    """A Ray actor: the embedder, built once from the settings, and the corpus curation; each call loads,
    chunks and embeds the documents it is handed. Loading is here too because structure recovery embeds."""

    def __init__(self, settings: Settings, known: Mapping[str, np.ndarray]) -> None:
        from assistant.embed.base import make_embedder
        from assistant.ingest.curation import Curation

        self.settings = settings
        self.shared = SharedVectors(make_embedder(settings), known)
        self.curation = Curation.load(settings.corpus_dir)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from assistant.index.build import prepare_document

        prepared = np.empty(len(batch["path"]), dtype=object)
        for i, (path, sha) in enumerate(zip(batch["path"], batch["sha256"])):
            embedder = self.shared.for_document()
            prepared[i] = prepare_document(Path(path), str(sha), embedder, self.curation, self.settings)
        return {"prepared": prepared}


def prepared_with_ray(
    settings: Settings,
    items: list[tuple[Path, str]],
    known: Mapping[str, np.ndarray],
    actors: int = RAY_ACTORS,
    progress: bool = False,
) -> Generator[Prepared, None, None]:
    """Each (file, sha256) prepared by the Ray Data job, yielded in the order given as results arrive.
    The corpus folder must be readable by every Ray worker (one machine, or a shared file system)."""
    ray = import_ray()
    started = start_ray(ray)
    try:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # rows are written in file order, as a local build does
        context.enable_progress_bars = progress
        dataset = ray.data.from_items([{"path": str(path), "sha256": sha} for path, sha in items])
        dataset = dataset.map_batches(
            DocumentPreparer,
            fn_constructor_args=(settings, dict(known)),
            batch_size=DOCUMENTS_PER_CALL,
            compute=ray.data.ActorPoolStrategy(size=actors),
            batch_format="numpy",
        )
        log.info("embedding %d documents in a Ray Data job with %d actor(s)", len(items), actors)
        for batch in dataset.iter_batches(batch_size=DOCUMENTS_PER_CALL, batch_format="numpy"):
            yield from batch["prepared"]
    finally:
        if started:
            ray.shutdown()
