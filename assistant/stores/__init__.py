"""Index backends behind one interface: FAISS folders (the default) and PostgreSQL + pgvector."""

from __future__ import annotations

from assistant.settings import Settings
from assistant.stores.base import IndexView, Store, Writer


def open_store(settings: Settings) -> Store:
    """The store the settings name: `store.url` (PostgreSQL), else the `index_dir` folder."""
    if settings.store.backend == "postgres":
        from assistant.stores.postgres import PostgresStore

        return PostgresStore.connect(settings.store)
    from assistant.stores.faiss import FaissStore

    return FaissStore(settings.index_dir)


__all__ = ["IndexView", "Store", "Writer", "open_store"]
