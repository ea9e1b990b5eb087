"""Index maintenance: build, add (incremental, deduplicated), remove.

Only new or changed articles are embedded. Every write holds the index lock and goes through
`store.write_index`, so a crash leaves the last good version live.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path

from assistant.articles import LoadResult, load_paths
from assistant.chunking import chunk_article, embedding_text
from assistant.embeddings import Embedder
from assistant.errors import IndexMismatchError, IndexNotFoundError
from assistant.settings import Settings
from assistant.store import (
    IndexData,
    check_index_folder,
    empty_index,
    expected_manifest,
    load_index,
    rebuild_hint,
    uses_hnsw,
    write_index,
    write_lock,
)
from assistant.types import Article, IngestReport, Rejected

log = logging.getLogger(__name__)

# Seconds a writer waits for another to finish when the caller gives no lock_timeout.
LOCK_TIMEOUT = 30.0


def article_record(article: Article, chunks: int) -> dict:
    """What the index keeps of an article (the text too, so spans can be shown in context)."""
    return {
        **article.meta(),
        "key": article.key,
        "origin": article.origin,
        "hash": article.hash,
        "chunks": chunks,
        "text": article.text,
    }


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
    report = IngestReport(rejected=list(loaded.rejected), warnings=list(loaded.warnings))
    embedder = embedder or Embedder.from_settings(settings.embedding)
    index_dir = Path(settings.index_dir)
    with write_lock(index_dir, timeout=LOCK_TIMEOUT if lock_timeout is None else lock_timeout):
        data = None if rebuild else _load_or_none(index_dir, settings)
        if data is None:
            check_index_folder(index_dir)
            data = IndexData(
                manifest=expected_manifest(settings, embedder.dim),
                articles={},
                chunks=[],
                vectors=empty_index(embedder.dim),
            )
        elif data.dim != embedder.dim:
            raise IndexMismatchError(
                f"index at {index_dir} holds {data.dim}-dimensional vectors but "
                f"{embedder.name} makes {embedder.dim}. {rebuild_hint(index_dir)}"
            )
        fresh, replaced = _plan(data, loaded.articles, report)
        if rebuild and not fresh:
            report.warnings.append(
                Rejected(str(index_dir), "no article to index; the index was left unchanged")
            )
        elif fresh or rebuild:
            _remove_rows(data, replaced, settings)
            _append(data, fresh, settings, embedder, progress, report)
            write_index(index_dir, data)
    report.seconds = time.perf_counter() - started
    return report


_META = ("title", "date", "source", "url")


def _plan(
    data: IndexData, articles: list[Article], report: IngestReport
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
        aid
        for aid, article in first.items()
        if aid in data.articles and _changed(data.articles[aid], article)
    }
    by_hash = {a["hash"]: a["key"] for aid, a in data.articles.items() if aid not in replaced}
    in_batch: dict[str, str] = {}
    fresh: list[Article] = []
    for article in articles:
        if first[article.id] is not article:
            report.duplicates.append(
                Rejected(article.origin, f"same url or path as {first[article.id].origin!r}")
            )
            continue
        old = data.articles.get(article.id)
        if old is not None and article.id not in replaced:
            report.unchanged.append(article.origin)
            continue
        if article.hash in by_hash and by_hash[article.hash] != article.key:
            report.duplicates.append(
                Rejected(article.origin, f"same text as {by_hash[article.hash]!r}, already indexed")
            )
            if article.id in replaced:  # its indexed version stays as it is
                replaced.discard(article.id)
                by_hash[old["hash"]] = old["key"]
            continue
        if article.hash in in_batch:
            report.duplicates.append(
                Rejected(article.origin, f"same text as {in_batch[article.hash]!r}")
            )
            if article.id in replaced:
                replaced.discard(article.id)
                by_hash[old["hash"]] = old["key"]
            continue
        (report.updated if old is not None else report.added).append(article.origin)
        in_batch[article.hash] = article.origin
        fresh.append(article)
    return fresh, replaced


def _changed(record: dict, article: Article) -> bool:
    meta = article.meta()
    return record["hash"] != article.hash or any(record.get(k) != meta[k] for k in _META)


def remove_ids(
    ids: Iterable[str], settings: Settings, lock_timeout: float | None = None
) -> IngestReport:
    """Remove articles by id, url, key or file path (a file's path removes all its articles).

    Unknown ids are reported as rejected; nothing is written when nothing matched.
    """
    started = time.perf_counter()
    report = IngestReport()
    index_dir = Path(settings.index_dir)
    with write_lock(index_dir, timeout=LOCK_TIMEOUT if lock_timeout is None else lock_timeout):
        data = load_index(index_dir, settings)
        doomed: dict[str, None] = {}  # ordered set
        for wanted in dict.fromkeys(ids):
            found = _match(data, wanted)
            if not found:
                report.rejected.append(Rejected(wanted, "no article with this id, url or path"))
            for article_id in found:
                doomed.setdefault(article_id)
        if doomed:
            report.removed.extend(doomed)
            _remove_rows(data, set(doomed), settings)
            for article_id in doomed:
                del data.articles[article_id]
            write_index(index_dir, data)
    report.seconds = time.perf_counter() - started
    return report


_PART = re.compile(r"(:\d+|\[\d+\])$")  # "file.jsonl:3", "file.json[2]": one of a file's articles


def _match(data: IndexData, wanted: str) -> list[str]:
    """Ids of the articles `wanted` names: an id, key, url or origin, else a file's path."""
    if wanted in data.articles:
        return [wanted]
    for field in ("key", "url", "origin"):
        hits = [aid for aid, a in data.articles.items() if a.get(field) == wanted]
        if hits:
            return hits
    path = os.path.abspath(wanted)
    return [
        aid
        for aid, a in data.articles.items()
        if a.get("origin") and os.path.abspath(_PART.sub("", a["origin"])) == path
    ]


def _load_or_none(index_dir: Path, settings: Settings) -> IndexData | None:
    try:
        return load_index(index_dir, settings)
    except IndexNotFoundError:
        return None


def _remove_rows(data: IndexData, article_ids: set[str], settings: Settings) -> None:
    """Drop the chunks of `article_ids`; the vector index is rebuilt from the kept rows."""
    if not article_ids:
        return
    keep = [i for i, c in enumerate(data.chunks) if c.article_id not in article_ids]
    vectors = data.all_vectors()[keep]
    data.chunks = [data.chunks[i] for i in keep]
    data.vectors = empty_index(data.dim, len(keep))
    if len(keep):
        data.vectors.add(vectors)


def _append(
    data: IndexData,
    articles: list[Article],
    settings: Settings,
    embedder: Embedder,
    progress: bool,
    report: IngestReport,
) -> None:
    chunks, texts = [], []
    for article in articles:
        pieces = chunk_article(article, settings.chunking)
        data.articles[article.id] = article_record(article, len(pieces))
        chunks.extend(pieces)
        texts.extend(embedding_text(article, c) for c in pieces)
    import faiss

    log.info("embedding %d chunks from %d articles", len(texts), len(articles))
    vectors = embedder.encode(texts, progress=progress)
    size = len(data.chunks) + len(chunks)
    if isinstance(data.vectors, faiss.IndexHNSWFlat) != uses_hnsw(size):
        old = data.all_vectors()
        data.vectors = empty_index(data.dim, size)
        data.vectors.add(old)
    if len(chunks):
        data.vectors.add(vectors)
    data.chunks.extend(chunks)
    report.chunks_embedded += len(chunks)
