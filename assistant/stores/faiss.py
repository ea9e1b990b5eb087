"""The default backend, embedded: FAISS vectors, chunks and articles as JSON Lines, a manifest.

Layout of an index folder (no pickle anywhere):

    CURRENT                 name of the live version, replaced atomically
    versions/v00000007/     manifest.json, vectors.faiss, chunks.jsonl, articles.jsonl
    .lock                   held by the one process writing

A write builds a new version folder aside, fsyncs it, then swaps CURRENT; a crash at any point
leaves the previous version live. Readers load whichever version CURRENT names, so they keep
answering from it while a write is in progress.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from assistant.errors import (
    AssistantError,
    CorruptIndexError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
)
from assistant.settings import DEFAULT_INDEX_DIR, Settings
from assistant.stores.base import (
    FORMAT,
    FORMAT_VERSION,
    IndexView,
    Row,
    Store,
    Writer,
    check_manifest,
)
from assistant.types import Chunk, Filters, IndexedArticle

if TYPE_CHECKING:
    import faiss
    import numpy as np

FILES = ("vectors.faiss", "chunks.jsonl", "articles.jsonl")
# From here HNSW answers in <1 ms (exact: 7 ms at 100k) with recall@10 1.00 at 100k and 0.99
# at 1M synthetic chunks (efSearch 200; 96 gave 0.92 at 1M); below, exact search is as fast.
HNSW_THRESHOLD = 50_000
HNSW_EF_SEARCH = 200
_VERSION_NAME = re.compile(r"v\d{1,12}")


def _build_hint(index_dir: Path) -> str:
    hint = "build one with `assistant index build ARTICLES_DIR`"
    if Path(index_dir).resolve() != DEFAULT_INDEX_DIR.resolve():
        hint += f" (for this folder: `assistant --index {index_dir} index build ARTICLES_DIR`)"
    return hint


def rebuild_hint(index_dir: Path) -> str:
    """The command that rebuilds the index at `index_dir` (`--index` belongs before `index`)."""
    return f"Rebuild it with `assistant --index {index_dir} index build ARTICLES_DIR`."


@dataclass
class IndexData(IndexView):
    """One version of the index, in memory. Row i of `vectors` is `chunks[i]`."""

    manifest: dict[str, Any]
    articles: dict[str, IndexedArticle]
    chunks: list[Chunk]
    vectors: faiss.Index
    version: str | None = None

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    def all_vectors(self) -> np.ndarray:
        return self.vectors.reconstruct_n(0, self.vectors.ntotal)

    def _allowed_rows(self, filters: Filters) -> np.ndarray | None:
        import numpy as np

        if not filters:
            return None
        ok = {aid for aid, a in self.articles.items() if filters.accepts(a)}
        return np.array(
            [i for i, c in enumerate(self.chunks) if c.article_id in ok], dtype=np.int64
        )

    @cached_property
    def bm25(self) -> Any:
        """The BM25 index of this version's chunks (titles included), built on first use: a
        process that only adds articles never pays for it."""
        import bm25s  # sparse-matrix BM25; indexes 100k passages in seconds

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs each index at DEBUG
        texts = [f"{self.articles[c.article_id].title}\n{c.text}" for c in self.chunks]
        model = bm25s.BM25()
        if texts:
            tokens = bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)
            model.index(tokens, show_progress=False)
        return model

    def dense_search(self, query: np.ndarray, k: int, filters: Filters) -> list[tuple[Row, float]]:
        import faiss

        allowed = self._allowed_rows(filters)
        if self.vectors.ntotal == 0 or (allowed is not None and len(allowed) == 0):
            return []
        params = None
        if allowed is not None:
            # the Python wrapper's __init__ takes fields as keywords (and keeps `sel` alive);
            # faiss's stubs only know the bare SWIG constructor
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))  # type: ignore[call-arg]
        k = min(k, self.vectors.ntotal)
        scores, rows = self.vectors.search(query.reshape(1, -1), k, params=params)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]

    def keyword_search(self, question: str, k: int, filters: Filters) -> list[Row]:
        import bm25s
        import numpy as np

        if not self.chunks:
            return []
        tokens = bm25s.tokenize([question], stopwords="en", return_ids=False, show_progress=False)
        if not tokens[0]:
            return []
        scores = self.bm25.get_scores(tokens[0])
        allowed = self._allowed_rows(filters)
        if allowed is not None:
            mask = np.full(len(scores), -1.0)
            mask[allowed] = scores[allowed]
            scores = mask
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [int(i) for i in top if scores[i] > 0]

    def newest_date(self) -> str | None:
        return self._newest

    @cached_property
    def _newest(self) -> str | None:
        return max((a.date for a in self.articles.values() if a.date), default=None)

    def fetch(self, rows: list[Row]) -> tuple[list[Chunk], np.ndarray]:
        import numpy as np

        numbers = [cast(int, r) for r in rows]  # this view's rows are FAISS row numbers
        vectors = np.stack([self.vectors.reconstruct(r) for r in numbers])
        return [self.chunks[r] for r in numbers], vectors

    def stats(self) -> dict[str, Any]:
        dates = sorted(a.date for a in self.articles.values() if a.date)
        return {
            "articles": len(self.articles),
            "chunks": len(self.chunks),
            "sources": sorted({a.source for a in self.articles.values() if a.source}),
            "date_range": (dates[0], dates[-1]) if dates else None,
            "embedding_model": self.manifest["embedding_model"],
            "dim": self.dim,
            "faiss_index": self.manifest.get("faiss_index"),
            "version": self.version,
            "written": self.manifest.get("written"),
        }

    def dump(self) -> Iterator[tuple[IndexedArticle, list[Chunk], np.ndarray]]:
        vectors = self.all_vectors()
        rows: dict[str, list[int]] = {aid: [] for aid in self.articles}
        for i, chunk in enumerate(self.chunks):
            rows[chunk.article_id].append(i)
        for aid, article in self.articles.items():
            yield article, [self.chunks[i] for i in rows[aid]], vectors[rows[aid]]


def check_compatible(manifest: dict[str, Any], settings: Settings, where: Path) -> None:
    """Refuse an index built with another model, dimension, chunking or format."""
    check_manifest(manifest, settings, where, rebuild_hint(where))


def check_index_folder_is_dir(index_dir: Path) -> None:
    if index_dir.exists() and not index_dir.is_dir():
        raise AssistantError(f"{index_dir} is a file, not an index folder; choose another --index")


def check_index_folder(index_dir: Path) -> None:
    """Refuse to create an index in a folder that already holds other things.

    A mistyped `--index` (a home or articles folder) would otherwise get `versions/` and
    `CURRENT` written among the user's files.
    """
    if not index_dir.exists():
        return
    check_index_folder_is_dir(index_dir)
    ours = {"CURRENT", "CURRENT.tmp", "versions"}
    foreign = sorted(
        p.name for p in index_dir.iterdir() if not p.name.startswith(".") and p.name not in ours
    )
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise AssistantError(
            f"{index_dir} holds other files ({shown}) and no index; refusing to write an index "
            "there. Choose an empty or new folder with --index."
        )


def uses_hnsw(size: int) -> bool:
    """Whether an index of `size` chunks should be HNSW rather than exact (flat)."""
    return size >= HNSW_THRESHOLD


def empty_index(dim: int, size_hint: int = 0) -> faiss.Index:
    """A flat inner-product index for small collections, HNSW above `HNSW_THRESHOLD`."""
    import faiss

    if uses_hnsw(size_hint):
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = HNSW_EF_SEARCH
        return index
    return faiss.IndexFlatIP(dim)


def current_version(index_dir: Path) -> str | None:
    """Name of the live version, or None when there is no index yet."""
    path = index_dir / "CURRENT"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CorruptIndexError(
            f"{path} cannot be read ({exc}). {rebuild_hint(index_dir)}"
        ) from exc
    name = raw.decode("ascii", errors="replace").strip()
    if not _VERSION_NAME.fullmatch(name):
        raise CorruptIndexError(
            f"{path} does not name an index version; this folder is not an index written by "
            f"this tool. {rebuild_hint(index_dir)}"
        )
    return name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _index_dir_of(folder: Path) -> Path:
    """The index folder a version folder (`INDEX/versions/vN`) belongs to."""
    return folder.parent.parent


def verify_files(folder: Path, manifest: dict[str, Any]) -> None:
    """Check every file against the size and checksum the manifest recorded."""
    hint = rebuild_hint(_index_dir_of(folder))
    files = manifest["files"]
    for name in FILES:
        path = folder / name
        if not path.is_file():
            raise CorruptIndexError(f"{path} is missing. {hint}")
        size = path.stat().st_size
        if size != files[name]["bytes"]:
            raise CorruptIndexError(
                f"{path} is truncated or altered ({size} bytes, the manifest says "
                f"{files[name]['bytes']}). {hint}"
            )
        if _sha256(path) != files[name]["sha256"]:
            raise CorruptIndexError(f"{path} does not match its checksum. {hint}")


def _valid_files_entry(files: Any) -> bool:
    return (
        isinstance(files, dict)
        and set(files) == set(FILES)
        and all(
            isinstance(f, dict)
            and isinstance(f.get("bytes"), int)
            and isinstance(f.get("sha256"), str)
            for f in files.values()
        )
    )


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a version folder, checked to be ours, of this format, and well formed."""
    path = folder / "manifest.json"
    hint = rebuild_hint(_index_dir_of(folder))
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError as exc:
        raise CorruptIndexError(f"{path} is missing. {hint}") from exc
    except OSError as exc:
        raise CorruptIndexError(f"{path} cannot be read ({exc}). {hint}") from exc
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise CorruptIndexError(f"{path} is not valid JSON ({exc}). {hint}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CorruptIndexError(f"{path} is not a manifest of this tool's index format. {hint}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"{path} has format version {manifest.get('format_version')!r}; this version reads "
            f"{FORMAT_VERSION}. {hint}"
        )
    dim = manifest.get("dim")
    if (
        not isinstance(dim, int)
        or dim <= 0
        or not isinstance(manifest.get("embedding_model"), str)
        or not isinstance(manifest.get("chunking"), dict)
        or not _valid_files_entry(manifest.get("files"))
    ):
        raise CorruptIndexError(f"{path} is incomplete or malformed. {hint}")
    return manifest


def load_index(index_dir: Path, settings: Settings | None = None) -> IndexData:
    """Load the live version, refusing anything corrupt, foreign or built with other settings.

    A writer may make a new version live and prune this one while it is being read; the load
    then starts over from the new CURRENT instead of failing.
    """
    for attempt in range(3):
        version = current_version(index_dir)
        if version is None:
            raise IndexNotFoundError(f"no index at {index_dir}; {_build_hint(index_dir)}")
        try:
            return _load_version(index_dir, version, settings)
        except CorruptIndexError:
            if attempt < 2 and current_version(index_dir) != version:
                continue
            raise
    raise AssertionError("unreachable")


def _load_version(index_dir: Path, version: str, settings: Settings | None) -> IndexData:
    import faiss

    folder = index_dir / "versions" / version
    hint = rebuild_hint(index_dir)
    if not folder.is_dir():
        raise CorruptIndexError(
            f"{index_dir / 'CURRENT'} names version {version}, but {folder} is missing. {hint}"
        )
    manifest = read_manifest(folder)
    if settings is not None:
        check_compatible(manifest, settings, index_dir)
    verify_files(folder, manifest)
    path = folder / "vectors.faiss"
    try:
        vectors = faiss.read_index(str(path))
    except RuntimeError as exc:
        reason = str(exc).strip().rsplit(": ", 1)[-1][:160]
        raise CorruptIndexError(f"{path} is not a FAISS index ({reason}). {hint}") from exc
    if (
        type(vectors).__name__ not in ("IndexFlatIP", "IndexHNSWFlat")
        or vectors.metric_type != faiss.METRIC_INNER_PRODUCT
        or vectors.d != manifest["dim"]
    ):
        raise CorruptIndexError(
            f"{path} holds a {type(vectors).__name__} of dimension {vectors.d}, not the "
            f"inner-product index of dimension {manifest['dim']} this tool writes. {hint}"
        )
    articles = {}
    for record in _read_jsonl(folder / "articles.jsonl", hint, ("id", "title", "hash")):
        articles[record["id"]] = IndexedArticle.from_record(record)
    chunks = []
    for c in _read_jsonl(
        folder / "chunks.jsonl", hint, ("id", "article_id", "text", "start", "end")
    ):
        chunks.append(Chunk(c["id"], c["article_id"], c["text"], c["start"], c["end"]))
    orphans = {c.article_id for c in chunks} - set(articles)
    if vectors.ntotal != len(chunks) or orphans:
        raise CorruptIndexError(
            f"index at {folder}: {vectors.ntotal} vectors, {len(chunks)} chunks and "
            f"{len(orphans)} chunks' articles missing; they must agree. {hint}"
        )
    return IndexData(manifest, articles, chunks, vectors, version)


def _read_jsonl(path: Path, hint: str, required: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line.decode("utf-8"))
            except ValueError as exc:
                raise CorruptIndexError(f"{path}, line {lineno}: not valid JSON. {hint}") from exc
            if not isinstance(record, dict) or any(k not in record for k in required):
                raise CorruptIndexError(
                    f"{path}, line {lineno}: a record lacks {', '.join(required)}. {hint}"
                )
            yield record


def _write_file(path: Path, write: Any) -> None:
    with path.open("wb") as fh:
        write(fh)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_index(index_dir: Path, data: IndexData) -> str:
    """Write `data` as a new version and make it live; call while holding `write_lock`."""
    import faiss

    versions = index_dir / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    try:
        previous = current_version(index_dir)
    except CorruptIndexError:  # a rebuild replaces a broken pointer
        previous = None
    number = int(previous[1:]) + 1 if previous else 1
    existing = [int(p.name[1:]) for p in versions.iterdir() if _VERSION_NAME.fullmatch(p.name)]
    number = max([number, *(n + 1 for n in existing)])
    name = f"v{number:08d}"
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=versions))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; other users may read the index
        _write_file(tmp / "vectors.faiss", lambda fh: fh.write(faiss.serialize_index(data.vectors)))
        _write_file(
            tmp / "chunks.jsonl",
            lambda fh: fh.writelines(
                json.dumps(
                    {
                        "id": c.id,
                        "article_id": c.article_id,
                        "start": c.start,
                        "end": c.end,
                        "text": c.text,
                    },
                    ensure_ascii=False,
                ).encode("utf-8")
                + b"\n"
                for c in data.chunks
            ),
        )
        _write_file(
            tmp / "articles.jsonl",
            lambda fh: fh.writelines(
                json.dumps(a.to_record(), ensure_ascii=False).encode("utf-8") + b"\n"
                for a in data.articles.values()
            ),
        )
        manifest = dict(data.manifest)
        manifest.update(
            version=name,
            written=datetime.now(UTC).isoformat(timespec="seconds"),
            counts={"articles": len(data.articles), "chunks": len(data.chunks)},
            faiss_index=type(data.vectors).__name__,
            files={
                f: {"bytes": (tmp / f).stat().st_size, "sha256": _sha256(tmp / f)} for f in FILES
            },
        )
        _write_file(
            tmp / "manifest.json",
            lambda fh: fh.write(json.dumps(manifest, indent=2).encode("utf-8")),
        )
        _fsync_dir(tmp)
        tmp.rename(versions / name)
        _fsync_dir(versions)
        pointer = index_dir / "CURRENT.tmp"
        _write_file(pointer, lambda fh: fh.write(name.encode("ascii") + b"\n"))
        os.replace(pointer, index_dir / "CURRENT")
        _fsync_dir(index_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    data.manifest, data.version = manifest, name
    _prune(versions, keep={name, previous or name})
    return name


def _prune(versions: Path, keep: set[str]) -> None:
    """Drop leftovers of crashed writes and every version but the new and the previous one.

    The previous version stays because a reader may have read CURRENT just before the swap;
    a version folder a crashed write left behind (renamed, never made live) is not kept.
    """
    for entry in versions.iterdir():
        stale = entry.name.startswith(".tmp-") or (
            _VERSION_NAME.fullmatch(entry.name) and entry.name not in keep
        )
        if stale and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)


@contextmanager
def write_lock(index_dir: Path, timeout: float = 30.0) -> Iterator[None]:
    """Serialise writers across processes; a second writer waits up to `timeout` seconds."""
    from filelock import FileLock, Timeout

    check_index_folder_is_dir(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(index_dir / ".lock"))
    try:
        lock.acquire(timeout=timeout)
    except Timeout as exc:
        raise IndexLockedError(
            f"the index at {index_dir} is locked by another writer (lock file {lock.lock_file}); "
            f"gave up after {timeout:g}s. Try again when that write has finished."
        ) from exc
    try:
        yield
    finally:
        lock.release()


def _remove_rows(data: IndexData, article_ids: set[str]) -> None:
    """Drop the chunks of `article_ids`; the vector index is rebuilt from the kept rows."""
    if not any(c.article_id in article_ids for c in data.chunks):
        return
    keep = [i for i, c in enumerate(data.chunks) if c.article_id not in article_ids]
    vectors = data.all_vectors()[keep]
    data.chunks = [data.chunks[i] for i in keep]
    data.vectors = empty_index(data.dim, len(keep))
    if len(keep):
        data.vectors.add(vectors)


def _append(data: IndexData, chunks: list[Chunk], vectors: np.ndarray) -> None:
    """Add rows, switching between flat and HNSW when the size crosses `HNSW_THRESHOLD`."""
    import faiss

    size = len(data.chunks) + len(chunks)
    if isinstance(data.vectors, faiss.IndexHNSWFlat) != uses_hnsw(size):
        old = data.all_vectors()
        data.vectors = empty_index(data.dim, size)
        data.vectors.add(old)
    if len(chunks):
        data.vectors.add(vectors)
    data.chunks.extend(chunks)


class FaissWriter(Writer):
    """Builds the next version in memory and writes it with `write_index`."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir
        self.data: IndexData | None = None

    def current(self, settings: Settings) -> IndexData | None:
        try:
            self.data = load_index(self.index_dir, settings)
        except IndexNotFoundError:
            self.data = None
        return self.data

    def check_new(self) -> None:
        check_index_folder(self.index_dir)

    def write(
        self,
        manifest: dict[str, Any],
        remove: set[str],
        records: list[IndexedArticle],
        chunks: list[Chunk],
        vectors: np.ndarray,
        rebuild: bool = False,
    ) -> None:
        data = self.data
        if rebuild or data is None:
            dim = int(manifest["dim"])
            data = IndexData(dict(manifest), {}, [], empty_index(dim))
        _remove_rows(data, set(remove) | {r.id for r in records})
        for article_id in remove:
            data.articles.pop(article_id, None)
        for record in records:
            data.articles[record.id] = record
        _append(data, chunks, vectors)
        write_index(self.index_dir, data)
        self.data = data


class FaissStore(Store):
    """An index folder on this machine (the default)."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)

    @property
    def location(self) -> str:
        return str(self.index_dir)

    def rebuild_hint(self) -> str:
        return rebuild_hint(self.index_dir)

    def current_version(self) -> str | None:
        return current_version(self.index_dir)

    def load(self, settings: Settings | None = None) -> IndexData:
        return load_index(self.index_dir, settings)

    @contextmanager
    def writer(self, timeout: float) -> Iterator[FaissWriter]:
        with write_lock(self.index_dir, timeout=timeout):
            yield FaissWriter(self.index_dir)

    def verify(self, settings: Settings) -> str:
        data = load_index(self.index_dir, settings)
        return (
            f"ok: {self.index_dir} version {data.version}, {len(data.articles)} articles, "
            f"{len(data.chunks)} chunks, files match their checksums"
        )
