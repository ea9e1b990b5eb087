"""Index maintenance: build, add (incremental, deduplicated), remove.

Only new or changed articles are embedded. Every write holds the store's write lock and is
applied by its `Writer` all at once, so a crash leaves the last good index live.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from assistant.articles import LoadResult, load_paths
from assistant.chunking import chunk_article, embedding_text
from assistant.cleaning import clean_text
from assistant.embeddings import Embedder
from assistant.errors import IndexMismatchError
from assistant.settings import Settings
from assistant.stores import open_store
from assistant.stores.base import expected_manifest
from assistant.types import Article, Chunk, IndexedArticle, IngestReport, Rejected

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

# Seconds a writer waits for another to finish when the caller gives no lock_timeout.
LOCK_TIMEOUT = 30.0


def add_paths(
    paths: Iterable[str | os.PathLike[str]],
    settings: Settings,
    *,
    rebuild: bool = False,
    progress: bool = False,
    embedder: Embedder | None = None,
    lock_timeout: float | None = None,
) -> IngestReport:
    """Load the articles under `paths` and add them; `rebuild` starts from an empty index."""
    started = time.perf_counter()
    loaded = load_paths(
        paths, max_bytes=settings.max_article_bytes, follow_symlinks=settings.follow_symlinks
    )
    report = add_loaded(
        loaded,
        settings,
        rebuild=rebuild,
        progress=progress,
        embedder=embedder,
        lock_timeout=lock_timeout,
    )
    report.seconds = time.perf_counter() - started
    return report


def add_loaded(
    loaded: LoadResult,
    settings: Settings,
    *,
    rebuild: bool = False,
    progress: bool = False,
    embedder: Embedder | None = None,
    lock_timeout: float | None = None,
) -> IngestReport:
    """Add already-loaded articles (the UI's uploads come this way)."""
    started = time.perf_counter()
    report = IngestReport(
        rejected=list(loaded.rejected),
        warnings=list(loaded.warnings),
        unchanged=list(loaded.known),
    )
    embedder = embedder or Embedder.from_settings(settings.embedding)
    store = open_store(settings)
    with store.writer(LOCK_TIMEOUT if lock_timeout is None else lock_timeout) as writer:
        data = None if rebuild else writer.current(settings)
        if data is None:
            writer.check_new()
            manifest = expected_manifest(settings, embedder.dim)
            articles: Mapping[str, IndexedArticle] = {}
        elif data.dim != embedder.dim:
            raise IndexMismatchError(
                f"index at {store.location} holds {data.dim}-dimensional vectors but "
                f"{embedder.name} makes {embedder.dim}. {store.rebuild_hint()}"
            )
        else:
            manifest, articles = data.manifest, data.articles
        incoming = loaded.articles
        if settings.clean_text:
            incoming = [replace(a, text=clean_text(a.text)) for a in incoming]
        fresh, replaced = _plan(articles, incoming, report)
        if rebuild and not fresh:
            report.warnings.append(
                Rejected(store.location, "no article to index; the index was left unchanged")
            )
        elif fresh or rebuild:
            records, chunks, vectors = _embed(fresh, settings, embedder, progress)
            writer.write(manifest, replaced, records, chunks, vectors, rebuild=rebuild)
            report.chunks_embedded += len(chunks)
    report.seconds = time.perf_counter() - started
    return report


def _plan(
    indexed: Mapping[str, IndexedArticle], articles: list[Article], report: IngestReport
) -> tuple[list[Article], set[str]]:
    """Sort a batch into new, updated, unchanged and duplicate articles.

    An article is unchanged when its text and metadata (title, date, source, url: the title and
    date are embedded with each chunk) are as indexed. A duplicate has the same text as another
    article that stays in the index or comes earlier in the batch; the text an updated article
    had before no longer counts, since it leaves the index.
    """
    first: dict[str, Article] = {}
    for article in articles:
        first.setdefault(article.id, article)
    replaced = {
        aid for aid, article in first.items() if aid in indexed and _changed(indexed[aid], article)
    }
    by_hash = {a.hash: a.key for aid, a in indexed.items() if aid not in replaced}
    in_batch: dict[str, str] = {}
    fresh: list[Article] = []
    for article in articles:
        if first[article.id] is not article:
            report.duplicates.append(
                Rejected(article.origin, f"same url or path as {first[article.id].origin!r}")
            )
            continue
        old = indexed.get(article.id)
        if old is not None and article.id not in replaced:
            report.unchanged.append(article.origin)
            continue
        if article.hash in by_hash and by_hash[article.hash] != article.key:
            report.duplicates.append(
                Rejected(article.origin, f"same text as {by_hash[article.hash]!r}, already indexed")
            )
            if old is not None and article.id in replaced:  # its indexed version stays
                replaced.discard(article.id)
                by_hash[old.hash] = old.key
            continue
        if article.hash in in_batch:
            report.duplicates.append(
                Rejected(article.origin, f"same text as {in_batch[article.hash]!r}")
            )
            if old is not None and article.id in replaced:
                replaced.discard(article.id)
                by_hash[old.hash] = old.key
            continue
        (report.updated if old is not None else report.added).append(article.origin)
        in_batch[article.hash] = article.origin
        fresh.append(article)
    return fresh, replaced


def _changed(indexed: IndexedArticle, article: Article) -> bool:
    return (indexed.hash, indexed.title, indexed.date, indexed.source, indexed.url) != (
        article.hash,
        article.title,
        article.date,
        article.source,
        article.url,
    )


def remove_ids(
    ids: Iterable[str], settings: Settings, lock_timeout: float | None = None
) -> IngestReport:
    """Remove articles by id, url, key or file path (a file's path removes all its articles).

    Unknown ids are reported as rejected; nothing is written when nothing matched.
    """
    started = time.perf_counter()
    report = IngestReport()
    store = open_store(settings)
    with store.writer(LOCK_TIMEOUT if lock_timeout is None else lock_timeout) as writer:
        data = writer.current(settings) or store.load(settings)  # load: "no index, build one"
        doomed: dict[str, None] = {}  # ordered set
        for wanted in dict.fromkeys(ids):
            found = _match(data.articles, wanted)
            if not found:
                report.rejected.append(Rejected(wanted, "no article with this id, url or path"))
            for article_id in found:
                doomed.setdefault(article_id)
        if doomed:
            report.removed.extend(doomed)
            writer.write(data.manifest, set(doomed), [], [], _no_vectors(data.dim))
    report.seconds = time.perf_counter() - started
    return report


_PART = re.compile(r"(:\d+|\[\d+\])$")  # "file.jsonl:3", "file.json[2]": one of a file's articles


def _match(articles: Mapping[str, IndexedArticle], wanted: str) -> list[str]:
    """Ids of the articles `wanted` names: an id, key, url or origin, else a file's path."""
    if wanted in articles:
        return [wanted]
    for field in ("key", "url", "origin"):
        hits = [aid for aid, a in articles.items() if getattr(a, field) == wanted]
        if hits:
            return hits
    path = os.path.abspath(wanted)
    return [
        aid
        for aid, a in articles.items()
        if a.origin and os.path.abspath(_PART.sub("", a.origin)) == path
    ]


def _no_vectors(dim: int) -> np.ndarray:
    import numpy as np

    return np.zeros((0, dim), dtype=np.float32)


def _embed(
    articles: list[Article], settings: Settings, embedder: Embedder, progress: bool
) -> tuple[list[IndexedArticle], list[Chunk], np.ndarray]:
    """Chunk and embed `articles`: their records, chunks and the chunks' vectors."""
    records: list[IndexedArticle] = []
    chunks: list[Chunk] = []
    texts: list[str] = []
    for article in articles:
        pieces = chunk_article(article, settings.chunking)
        records.append(IndexedArticle.from_article(article, len(pieces)))
        chunks.extend(pieces)
        texts.extend(embedding_text(article, c) for c in pieces)
    log.info("embedding %d chunks from %d articles", len(texts), len(articles))
    if not texts:
        return records, chunks, _no_vectors(embedder.dim)
    return records, chunks, embedder.encode(texts, progress=progress)
