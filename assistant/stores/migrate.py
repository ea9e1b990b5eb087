"""Copy an index between backends (FAISS folder <-> PostgreSQL) without embedding again."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import AssistantError, CorruptIndexError
from assistant.settings import Settings
from assistant.stores import open_store
from assistant.stores.base import Store, expected_manifest


@dataclass(frozen=True)
class Migration:
    """What a migration copied, and the checksum both sides agree on."""

    source: str
    target: str
    articles: int
    chunks: int
    checksum: str
    seconds: float


def target_store(target: str) -> Store:
    """A PostgreSQL URL (postgresql://...) or an index folder."""
    if target.startswith(("postgresql://", "postgres://")):
        from assistant.stores.postgres import PostgresStore

        return PostgresStore(target)
    from assistant.stores.faiss import FaissStore

    return FaissStore(Path(target))


def migrate(settings: Settings, target: str, lock_timeout: float = 30.0) -> Migration:
    """Copy the index the settings name into `target`, which must hold no index yet.

    Articles, chunks and vectors are copied as they are; then both sides are read back and
    their counts and content checksums compared.
    """
    started = time.perf_counter()
    source = open_store(settings)
    view = source.load(settings)
    destination = target_store(target)
    if destination.location == source.location:
        raise AssistantError(f"{target} is the index being migrated; choose another target")
    records, chunks, vectors = [], [], []
    for record, article_chunks, article_vectors in view.dump():
        records.append(record)
        chunks.extend(article_chunks)
        vectors.append(article_vectors)
    import numpy as np

    matrix = np.concatenate(vectors) if vectors else np.zeros((0, view.dim), dtype=np.float32)
    with destination.writer(lock_timeout) as writer:
        if destination.current_version() is not None:
            raise AssistantError(
                f"{destination.location} already holds an index; migrate into an empty database "
                "or a new folder (or remove that index first)"
            )
        writer.check_new()
        manifest = {  # the source's model and chunking, whatever the settings say
            **expected_manifest(settings, view.dim),
            "embedding_model": view.manifest["embedding_model"],
            "chunking": view.manifest["chunking"],
        }
        writer.write(manifest, set(), records, chunks, matrix, rebuild=True)
    want = view.checksum()
    have = destination.load().checksum()
    if have != want:
        raise CorruptIndexError(
            f"the copy at {destination.location} differs from its source: {have[0]} articles, "
            f"{have[1]} chunks, checksum {have[2][:16]} against {want[0]}, {want[1]}, "
            f"{want[2][:16]}. Remove it and migrate again."
        )
    return Migration(
        source.location,
        destination.location,
        want[0],
        want[1],
        want[2],
        time.perf_counter() - started,
    )
