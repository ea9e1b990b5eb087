"""What every index backend offers; ingest, retrieval, core and the CLI use nothing else.

A `Store` is where an index lives (a FAISS folder, a PostgreSQL database). `Store.load` gives an
`IndexView`: the manifest, the articles and the searches of the index as it is now. A
`Store.writer` holds the one write lock and applies a batch of changes all at once.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from assistant.errors import IndexMismatchError
from assistant.settings import Settings
from assistant.types import Chunk, Filters, IndexedArticle

if TYPE_CHECKING:
    import numpy as np

FORMAT = "news-assistant-index"
FORMAT_VERSION = 1

# A search hit names a chunk by a backend's own key (a FAISS row, a database chunk id).
Row = Hashable


def expected_manifest(settings: Settings, dim: int) -> dict[str, Any]:
    """The fields that must match for vectors to be comparable."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "embedding_model": settings.embedding.model,
        "dim": dim,
        "chunking": settings.chunking.model_dump(),
    }


def check_manifest(manifest: dict[str, Any], settings: Settings, where: Any, hint: str) -> None:
    """Refuse an index built with another model, chunking or format; `hint` says how to fix."""
    wanted = expected_manifest(settings, manifest.get("dim", 0))
    for key, value in wanted.items():
        if key == "dim":
            continue
        have = manifest.get(key)
        if have != value:
            raise IndexMismatchError(
                f"index at {where} was built with {key}={have!r} but the settings ask for "
                f"{value!r}. {hint} Or set {key} back to {have!r}."
            )


class IndexView(ABC):
    """The index as one reader sees it. `articles` maps article id to the article, text and all."""

    manifest: dict[str, Any]
    version: str | None
    articles: Mapping[str, IndexedArticle]

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    @abstractmethod
    def dense_search(self, query: np.ndarray, k: int, filters: Filters) -> list[tuple[Row, float]]:
        """Top-k chunks by cosine similarity to the normalised `query`, best first."""

    @abstractmethod
    def keyword_search(self, question: str, k: int, filters: Filters) -> list[Row]:
        """Top-k chunks by BM25 over title and text, best first."""

    @abstractmethod
    def fetch(self, rows: list[Row]) -> tuple[list[Chunk], np.ndarray]:
        """The chunks `rows` name and their vectors, in the order of `rows`."""

    def article_dates(self, article_ids: set[str]) -> dict[str, str | None]:
        """The date of each article (YYYY-MM-DD, or None)."""
        return {aid: self.articles[aid].date for aid in article_ids}

    def newest_date(self) -> str | None:
        """The latest article date: what "now" is for an index older than today."""
        dates = self.stats()["date_range"]
        return dates[1] if dates else None

    @abstractmethod
    def stats(self) -> dict[str, Any]:
        """Counts, sources, date range, model and where the index lives."""

    @abstractmethod
    def dump(self) -> Iterator[tuple[IndexedArticle, list[Chunk], np.ndarray]]:
        """Every article with its chunks and their vectors (in chunk order), for migration."""

    def article_list(self) -> list[IndexedArticle]:
        """Every article without its text."""
        return [replace(a, text="") for a in self.articles.values()]

    def checksum(self) -> tuple[int, int, str]:
        """Article count, chunk count and a SHA-256 over every record, chunk and vector.

        Independent of the backend and of storage order, so a copy can be checked against its
        source.
        """
        import numpy as np

        per_article = []
        n_articles = n_chunks = 0
        for article, chunks, vectors in self.dump():
            record = json.dumps(article.to_record(), sort_keys=True)
            digest = hashlib.sha256(record.encode("utf-8"))
            for chunk, vector in zip(chunks, vectors, strict=True):
                fields = [chunk.id, chunk.article_id, chunk.start, chunk.end, chunk.text]
                digest.update(json.dumps(fields).encode("utf-8"))
                digest.update(np.asarray(vector, dtype="<f4").tobytes())
            per_article.append(digest.hexdigest())
            n_articles += 1
            n_chunks += len(chunks)
        total = hashlib.sha256("".join(sorted(per_article)).encode("ascii")).hexdigest()
        return n_articles, n_chunks, total


class Writer(ABC):
    """Changes to one store while holding its write lock; `write` applies them all or none."""

    @abstractmethod
    def current(self, settings: Settings) -> IndexView | None:
        """The index as it stands (checked against `settings`), or None when there is none."""

    @abstractmethod
    def check_new(self) -> None:
        """Refuse to create an index where one must not be created."""

    @abstractmethod
    def write(
        self,
        manifest: dict[str, Any],
        remove: set[str],
        records: list[IndexedArticle],
        chunks: list[Chunk],
        vectors: np.ndarray,
        rebuild: bool = False,
    ) -> None:
        """Drop the articles in `remove`, put `records` (replacing same ids) with their chunks.

        `vectors` is row-aligned with `chunks`. `rebuild` starts from an empty index.
        """


class Store(ABC):
    """Where an index lives."""

    @property
    @abstractmethod
    def location(self) -> str:
        """Where, for messages (a folder, or a database URL without its password)."""

    @abstractmethod
    def rebuild_hint(self) -> str:
        """The command that rebuilds this index."""

    @abstractmethod
    def current_version(self) -> str | None:
        """A token that changes with every write; None when there is no index. Cheap."""

    @abstractmethod
    def load(self, settings: Settings | None = None) -> IndexView:
        """The live index, refused if corrupt or built with other `settings`."""

    @abstractmethod
    def writer(self, timeout: float) -> AbstractContextManager[Writer]:
        """Take the write lock, waiting up to `timeout` seconds for another writer."""

    @abstractmethod
    def verify(self, settings: Settings) -> str:
        """Check the index thoroughly; the one-line report on success."""
