"""The scale-out backend: one PostgreSQL database with pgvector, shared by many processes.

Tables (prefixed, so the database may hold other things):

    assistant_meta      manifest, version (bumped by every write), BM25 corpus statistics
    assistant_articles  one row per article: id, indexed date and source, the full record
    assistant_chunks    one row per chunk: vector(dim) under an HNSW cosine index, the
                        article's date and source, its BM25 term ids and weights as arrays
    assistant_postings  the inverted index BM25 reads: (term_id, row_id, weight), one narrow
                        row per term of each chunk under a (term_id, row_id) key, so a
                        term's chunks and weights are one index range, not heap rows
    assistant_terms     vocabulary: term id, document frequency (for BM25's IDF) and the
                        largest weight any chunk has had for the term (for pruning)

Every write runs in one transaction under an advisory lock, so writers queue, a killed writer
leaves nothing behind, and readers (never blocked, thanks to MVCC) see a write once committed.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from assistant.errors import (
    CorruptIndexError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    StoreUnavailableError,
)
from assistant.settings import Settings, StoreSettings
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
    import numpy as np
    import psycopg
    from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

LOCK_KEY = 0x6E657773  # "news": the advisory lock every writer of this schema takes
# The tables' layout, kept in the manifest: 2 = BM25 in assistant_postings (1 scored sparsevecs
# kept in the chunk rows, 0.24 s a question at 1M chunks).
SCHEMA = 2
BM25_K1, BM25_B = 1.5, 0.75  # bm25s's defaults, so both backends rank alike
# The graph. At 1M chunks pgvector's default build (m 16, ef_construction 64) kept at most 0.948
# of the exact top 10, whatever ef_search (0.870 at 200, 0.937 at 400, 0.948 at 1000, its
# maximum); this denser one keeps 1.000 from ef_search 200, for a load 2.3 times as long (31
# min against 13 at 1M on a loaded 2-core machine; bench_store --ef-search, 2026-11-27).
HNSW_M, HNSW_EF_CONSTRUCTION = 24, 128
# HNSW candidates per search. 200 keeps the exact top 10 at 100k and, on the graph above, at 1M
# (6.4 ms p50); 300-800 found nothing more at 2-7 times the time.
EF_SEARCH = 200
# Filters too broad to search exactly (see EXACT_BELOW) take the graph with iterative scan, which
# keeps going until it has k: at 1M and a 5% filter (now searched exactly) it kept 0.944-0.950 of
# the exact top 10 at ef_search 200-800, 0.947 at 400 (58 / 86 ms p50 / p95).
EF_SEARCH_FILTERED = 400
# A filter leaving at most this many chunks is searched exactly (a bitmap scan of the date/source
# index, every distance computed: recall 1, ~1.5 us a chunk left). At 1M chunks a 5% filter (50k)
# took 76 / 84 ms p50 / p95 where the graph kept 0.947 of the exact top 10 (above), and a 10% one
# (100k, a parallel bitmap scan) 132 / 157 ms; the count that decides takes 5 / 10 ms at 50k /
# 100k. At 100k chunks a 5% filter took 9 / 16 ms (the graph kept 0.94-0.95). Loaded 2-core
# machine, bench_store --no-graph, 2026-11-27. The graph's recall past 100k at 1M is unmeasured.
EXACT_BELOW = 100_000
# Keyword search first scores the chunks holding the query's rarest terms, up to this many
# postings (document frequencies summed), then four times as many, ... until the chunks holding
# only the other terms are ruled out (see keyword_search).
RARE_POSTINGS = 3_000
# Memory for building the HNSW graph in one go (~1.6 KB a chunk at dim 384): past it, the
# build slows down several-fold.
BUILD_MEMORY = "1GB"
T = TypeVar("T")

_pools: dict[tuple[str, int], ConnectionPool] = {}
_pools_lock = threading.Lock()


def tokenize(texts: list[str]) -> list[list[str]]:
    """The same tokens as the FAISS backend's BM25 (bm25s: lower case, English stopwords)."""
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)


def _configure(conn: psycopg.Connection) -> None:
    """Per connection: the pgvector types and the HNSW search settings."""
    from pgvector.psycopg import register_vector

    with conn.cursor() as cur:
        if cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone() is None:
            try:
                cur.execute("CREATE EXTENSION IF NOT EXISTS vector")
            except Exception as exc:  # no privilege, or the extension is not installed
                raise StoreUnavailableError(
                    f"the pgvector extension is missing from the database and cannot be "
                    f"created ({exc}); ask its administrator to run CREATE EXTENSION vector"
                ) from exc
        cur.execute(f"SET hnsw.ef_search = {EF_SEARCH}")
        cur.execute("SET hnsw.iterative_scan = relaxed_order")
    register_vector(conn)


def _pool(url: str, size: int) -> ConnectionPool:
    """One pool per database and process, shared by every `Assistant` in it."""
    import psycopg
    from psycopg_pool import ConnectionPool, PoolTimeout

    with _pools_lock:
        pool = _pools.get((url, size))
        if pool is None:
            try:  # one plain connection first, to report why a server cannot be reached
                psycopg.connect(url, connect_timeout=10).close()
            except psycopg.Error as exc:
                reason = " ".join(str(exc).split())[:300]
                raise StoreUnavailableError(
                    f"cannot connect to the PostgreSQL index at {_safe(url)} ({reason}); check "
                    "that the server is running and store.url (--store-url) is right"
                ) from exc
            pool = ConnectionPool(
                url,
                min_size=1,
                max_size=size,
                kwargs={"autocommit": True},
                configure=_configure,
                check=ConnectionPool.check_connection,
                timeout=15,
                reconnect_timeout=30,
                open=False,
                name="assistant",
            )
            try:
                pool.open(wait=True, timeout=10)
            except PoolTimeout as exc:
                pool.close()
                raise StoreUnavailableError(
                    f"cannot connect to the PostgreSQL index at {_safe(url)} within 10s; check "
                    "that the server is running and store.url (--store-url) is right"
                ) from exc
            _pools[(url, size)] = pool
        return pool


def close_pools() -> None:
    """Close every connection this process holds (tests drop their databases after this)."""
    with _pools_lock:
        for pool in _pools.values():
            pool.close()
        _pools.clear()


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except Exception:
        return "the configured database"
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host', '')}{port}/{parts.get('dbname', '')}"


def _where(filters: Filters, params: list[Any]) -> str:
    """SQL conditions on a chunk's date and source; appends their values to `params`."""
    sql = []
    if filters.date_from or filters.until:
        sql.append("date IS NOT NULL")
    if filters.date_from:
        sql.append("date >= %s")
        params.append(filters.date_from)
    if filters.until:  # date_to, or the as-of day when earlier
        sql.append("date <= %s")
        params.append(filters.until)
    if filters.sources:
        sql.append("source = ANY(%s)")
        params.append(list(filters.sources))
    return " AND ".join(sql) or "TRUE"


class PostgresStore(Store):
    """An index in a PostgreSQL database with pgvector."""

    def __init__(self, url: str, pool_size: int = 4) -> None:
        self.url = url
        self.pool_size = pool_size

    @classmethod
    def connect(cls, settings: StoreSettings) -> PostgresStore:
        assert settings.url is not None  # StoreSettings refuses postgres without a url
        return cls(settings.url, settings.pool_size)

    @property
    def location(self) -> str:
        return _safe(self.url)

    def rebuild_hint(self) -> str:
        return f"Rebuild it with `assistant --store-url {self.location} index build ARTICLES_DIR`."

    def run(self, work: Callable[[psycopg.Connection], T]) -> T:
        """Run a read on a pooled connection; a lost connection is retried once, then reported."""
        import psycopg
        from psycopg_pool import PoolTimeout

        for attempt in range(2):
            try:
                with _pool(self.url, self.pool_size).connection() as conn:
                    return work(conn)
            except (psycopg.OperationalError, PoolTimeout) as exc:
                if attempt == 0:
                    log.warning("lost the connection to %s (%s); retrying", self.location, exc)
                    time.sleep(0.5)
                    continue
                raise StoreUnavailableError(
                    f"lost the connection to the PostgreSQL index at {self.location} ({exc}); "
                    "check that the server is running, then try again"
                ) from exc
        raise AssertionError("unreachable")

    def current_version(self) -> str | None:
        return self.run(_version)

    def load(self, settings: Settings | None = None) -> PostgresView:
        return self.run(lambda conn: self._view(conn, settings, None))

    def _view(
        self, conn: psycopg.Connection, settings: Settings | None, writer: psycopg.Connection | None
    ) -> PostgresView:
        manifest, version = _read_manifest(conn, self)
        if settings is not None:
            check_manifest(manifest, settings, self.location, self.rebuild_hint())
        return PostgresView(self, manifest, version, writer)

    @contextmanager
    def writer(self, timeout: float) -> Iterator[PostgresWriter]:
        import psycopg

        try:
            with _pool(self.url, self.pool_size).connection() as conn, conn.transaction():
                conn.execute(f"SET LOCAL lock_timeout = '{int(timeout * 1000)}ms'")
                try:
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
                except psycopg.errors.LockNotAvailable as exc:
                    raise IndexLockedError(
                        f"the index at {self.location} is locked by another writer; gave up "
                        f"after {timeout:g}s. Try again when that write has finished."
                    ) from exc
                conn.execute("SET LOCAL lock_timeout = 0")
                yield PostgresWriter(self, conn)
        except psycopg.OperationalError as exc:
            raise StoreUnavailableError(
                f"lost the connection to the PostgreSQL index at {self.location} during a write "
                f"({exc}); nothing was written. Check the server, then run the command again."
            ) from exc

    def verify(self, settings: Settings) -> str:
        return self.run(lambda conn: self._verify(conn, settings))

    def _verify(self, conn: psycopg.Connection, settings: Settings) -> str:
        view = self._view(conn, settings, None)
        hint = self.rebuild_hint()
        articles, chunks, bad_counts, bad_dims, df, nnz, postings = _one(
            conn.execute(
                """SELECT (SELECT count(*) FROM assistant_articles),
                      (SELECT count(*) FROM assistant_chunks),
                      (SELECT count(*) FROM assistant_articles a
                        WHERE (a.record->>'chunks')::int <> (SELECT count(*)
                              FROM assistant_chunks c WHERE c.article_id = a.id)),
                      (SELECT count(*) FROM assistant_chunks WHERE vector_dims(embedding) <> %s),
                      (SELECT coalesce(sum(df), 0) FROM assistant_terms),
                      (SELECT coalesce(sum(cardinality(term_ids)), 0) FROM assistant_chunks),
                      (SELECT count(*) FROM assistant_postings)""",
                (view.dim,),
            )
        )
        counts = view.manifest.get("counts", {})
        if counts != {"articles": articles, "chunks": chunks}:
            raise CorruptIndexError(
                f"index at {self.location}: the manifest counts {counts} but the tables hold "
                f"{articles} articles and {chunks} chunks. {hint}"
            )
        if bad_counts or bad_dims or not df == nnz == postings:
            raise CorruptIndexError(
                f"index at {self.location}: {bad_counts} articles whose chunk count is off, "
                f"{bad_dims} vectors of the wrong dimension, {df} document frequencies for "
                f"{nnz} chunk terms and {postings} postings. {hint}"
            )
        return (
            f"ok: {self.location} version {view.version}, {articles} articles, {chunks} "
            "chunks, counts, vectors and term statistics consistent"
        )


def _has_tables(conn: psycopg.Connection) -> bool:
    """Whether this database holds our schema (asked, not tried: an error would abort a
    writer's transaction)."""
    return bool(_one(conn.execute("SELECT to_regclass('assistant_meta') IS NOT NULL"))[0])


def _one(cursor: psycopg.Cursor[Any]) -> Any:
    """The row of a query that always returns one (psycopg types `fetchone` as optional)."""
    row = cursor.fetchone()
    if row is None:
        raise AssertionError("a one-row query returned no row")
    return row


def _version(conn: psycopg.Connection) -> str | None:
    if not _has_tables(conn):
        return None
    row = conn.execute("SELECT value FROM assistant_meta WHERE key = 'version'").fetchone()
    return None if row is None else str(row[0])


def _read_manifest(conn: psycopg.Connection, store: PostgresStore) -> tuple[dict[str, Any], str]:

    where = store.location
    rows: dict[str, Any] = {}
    if _has_tables(conn):
        rows = dict(
            conn.execute(
                "SELECT key, value FROM assistant_meta WHERE key IN ('manifest', 'version')"
            ).fetchall()
        )
    if "manifest" not in rows:
        raise IndexNotFoundError(
            f"no index in the database at {where}; build one with "
            f"`assistant --store-url {where} index build ARTICLES_DIR`"
        )
    manifest = rows["manifest"]
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CorruptIndexError(
            f"the database at {where} holds no manifest of this tool. {store.rebuild_hint()}"
        )
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index at {where} has format version {manifest.get('format_version')!r}; this "
            f"version reads {FORMAT_VERSION}. {store.rebuild_hint()}"
        )
    if manifest.get("schema") != SCHEMA:
        raise IndexMismatchError(
            f"the index at {where} has the tables of another version (schema "
            f"{manifest.get('schema', 1)!r}); this version reads schema {SCHEMA}. "
            f"{store.rebuild_hint()}"
        )
    return manifest, str(rows["version"])


class PostgresArticles(Mapping[str, IndexedArticle]):
    """The articles table as a read-only mapping of id to record, queried on demand.

    `light` leaves out the article texts (what a writer needs to plan, at a fraction of the
    transfer).
    """

    def __init__(self, view: PostgresView, light: bool = False) -> None:
        self._view = view
        self._record = "(record::jsonb - 'text')" if light else "record"

    def __getitem__(self, article_id: str) -> IndexedArticle:
        row = self._view.query(
            f"SELECT {self._record} FROM assistant_articles WHERE id = %s", (article_id,)
        )
        if not row:
            raise KeyError(article_id)
        return IndexedArticle.from_record(row[0][0])

    def __iter__(self) -> Iterator[str]:
        rows = self._view.query("SELECT id FROM assistant_articles ORDER BY seq")
        return iter([r[0] for r in rows])

    def __len__(self) -> int:
        return self._view.query("SELECT count(*) FROM assistant_articles")[0][0]

    def items(self) -> Any:
        rows = self._view.query(f"SELECT id, {self._record} FROM assistant_articles ORDER BY seq")
        return [(r[0], IndexedArticle.from_record(r[1])) for r in rows]

    def values(self) -> Any:
        return [record for _, record in self.items()]


class PostgresView(IndexView):
    """Reads straight from the database: new articles show up as soon as they are committed."""

    def __init__(
        self,
        store: PostgresStore,
        manifest: dict[str, Any],
        version: str,
        conn: psycopg.Connection | None = None,
    ) -> None:
        self.store = store
        self.manifest = manifest
        self.version = version
        self._conn = conn  # a writer's transaction, else pooled connections
        self.articles = PostgresArticles(self, light=conn is not None)

    def query(
        self, sql: str, params: Any = None, setup: str | None = None
    ) -> list[tuple[Any, ...]]:
        """The rows of `sql`; `setup` (a SET LOCAL) runs first, in the same transaction."""

        def run(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
            if setup is None:
                return conn.execute(sql, params).fetchall()
            with conn.transaction():
                conn.execute(setup)
                return conn.execute(sql, params).fetchall()

        return run(self._conn) if self._conn is not None else self.store.run(run)

    def dense_search(self, query: np.ndarray, k: int, filters: Filters) -> list[tuple[Row, float]]:
        params: list[Any] = []
        where = _where(filters, params)
        setup, limit = None, k
        if filters:
            subset = self.query(
                f"SELECT count(*) FROM (SELECT 1 FROM assistant_chunks WHERE {where} "
                f"LIMIT {EXACT_BELOW + 1}) s",
                params,
            )[0][0]
            if subset <= EXACT_BELOW:  # exact, through the date/source indexes
                setup = "SET LOCAL enable_indexscan = off"
            else:  # a broad filter: the graph, taking more to make up for relaxed order
                setup, limit = f"SET LOCAL hnsw.ef_search = {EF_SEARCH_FILTERED}", 4 * k
        rows = self.query(
            f"SELECT row_id, 1 - (embedding <=> %s) FROM assistant_chunks WHERE {where} "
            "ORDER BY embedding <=> %s LIMIT %s",
            [query, *params, query, limit],
            setup,
        )
        # relaxed_order may return neighbours slightly out of order; rank by the true distance.
        return sorted(((r[0], float(r[1])) for r in rows), key=lambda r: -r[1])[:k]

    def keyword_search(self, question: str, k: int, filters: Filters) -> list[Row]:
        """BM25 summed over the postings of the query's terms, exact, reading as few as it can.

        A chunk holding none of the query's rarer terms scores at most the sum of the common
        terms' IDF times their largest weight (`max_weight`, an upper bound: kept when chunks
        go). The chunks holding a rare term are scored first (their postings for every query
        term, looked up by key); when their k-th score is above that bound, no other chunk can
        enter the top k and the long postings of the common terms are never read in full.
        Otherwise every posting of the query's terms is summed. Ties go to the earlier chunk.
        """
        tokens = sorted(set(tokenize([question])[0]))
        if not tokens:
            return []
        terms = self.query(
            "SELECT t.id, t.df, t.max_weight, "
            "(SELECT value FROM assistant_meta WHERE key = 'bm25') "
            "FROM assistant_terms t WHERE t.term = ANY(%s) AND t.df > 0",
            (tokens,),
        )
        if not terms:
            return []
        n = terms[0][3]["chunks"]
        idf = {tid: math.log(1 + (n - df + 0.5) / (df + 0.5)) for tid, df, _, _ in terms}
        params: list[Any] = []
        where = _where(filters, params)
        allowed = ""  # the filter, on the chunk rows, only when there is one
        if filters:
            allowed = f" AND row_id IN (SELECT row_id FROM assistant_chunks WHERE {where})"

        def top(rare: list[int] | None) -> list[tuple[Any, ...]]:
            """The best k by full score of the chunks holding a `rare` term (None: any)."""
            among, extra = allowed, params
            if rare is not None:
                among = (
                    " AND row_id = ANY(ARRAY(SELECT row_id FROM assistant_postings "
                    f"WHERE term_id = ANY(%s::int[]){allowed}))"
                )
                extra = [rare, *params]
            return self.query(  # IDF looked up by position: no join to plan
                "SELECT row_id, sum(weight * (%s::float8[])[array_position(%s::int[], term_id)]) "
                f"AS score FROM assistant_postings WHERE term_id = ANY(%s::int[]){among} "
                "GROUP BY row_id ORDER BY score DESC, row_id LIMIT %s",
                [list(idf.values()), list(idf), list(idf), *extra, k],
            )

        by_df = sorted(terms, key=lambda t: t[1])
        budget, taken, postings = RARE_POSTINGS, 0, 0
        while True:  # widen the rare terms fourfold in postings until the bound holds
            while taken < len(by_df) and (taken == 0 or postings + by_df[taken][1] <= budget):
                postings += by_df[taken][1]
                taken += 1
            if taken == len(by_df):
                break
            bound = sum(idf[tid] * max_weight for tid, _, max_weight, _ in by_df[taken:])
            rows = top([t[0] for t in by_df[:taken]])
            if len(rows) == k and rows[-1][1] > bound:
                return [r[0] for r in rows]
            budget *= 4
        return [r[0] for r in top(None)]

    def newest_date(self) -> str | None:
        """Asked on every question: the date index's last entry, not `stats()` (which counts
        every chunk)."""
        return self.query("SELECT max(date) FROM assistant_articles")[0][0]

    def article_dates(self, article_ids: set[str]) -> dict[str, str | None]:
        rows = self.query(
            "SELECT id, date FROM assistant_articles WHERE id = ANY(%s)", (list(article_ids),)
        )
        return {aid: str(day) if day else None for aid, day in rows}

    def fetch(self, rows: list[Row]) -> tuple[list[Chunk], np.ndarray]:
        import numpy as np

        found = {
            r[0]: r[1:]
            for r in self.query(
                'SELECT row_id, id, article_id, text, start, "end", embedding '
                "FROM assistant_chunks WHERE row_id = ANY(%s)",
                (list(rows),),
            )
        }
        chunks = [Chunk(*found[r][:5]) for r in rows]
        return chunks, np.stack([found[r][5].to_numpy() for r in rows])

    def stats(self) -> dict[str, Any]:
        articles, chunks, sources, first, last = self.query(
            """SELECT count(*), (SELECT count(*) FROM assistant_chunks),
                      coalesce(array_remove(array_agg(DISTINCT source), NULL), '{}'),
                      min(date), max(date)
                 FROM assistant_articles"""
        )[0]
        return {
            "articles": articles,
            "chunks": chunks,
            "sources": sorted(sources),
            "date_range": (first, last) if first else None,
            "embedding_model": self.manifest["embedding_model"],
            "dim": self.dim,
            "store": self.store.location,
            "version": self.version,
            "written": self.manifest.get("written"),
        }

    def article_list(self) -> list[IndexedArticle]:
        rows = self.query("SELECT record::jsonb - 'text' FROM assistant_articles ORDER BY seq")
        return [IndexedArticle.from_record(r[0]) for r in rows]

    def dump(self) -> Iterator[tuple[IndexedArticle, list[Chunk], np.ndarray]]:
        import numpy as np

        def stream(conn: psycopg.Connection) -> Iterator[tuple[Any, ...]]:
            with conn.transaction(), conn.cursor(name="assistant_dump") as cur:
                cur.itersize = 2000
                cur.execute(
                    'SELECT a.id, a.record, c.id, c.text, c.start, c."end", c.embedding '
                    "FROM assistant_articles a LEFT JOIN assistant_chunks c "
                    "ON c.article_id = a.id ORDER BY a.seq, c.row_id"
                )
                yield from cur

        def grouped(conn: psycopg.Connection) -> Iterator[Any]:
            article: IndexedArticle | None = None
            chunks: list[Chunk] = []
            vectors: list[Any] = []
            for aid, rec, cid, text, start, end, vector in stream(conn):
                if article is None or aid != article.id:
                    if article is not None:
                        yield article, chunks, _stack(vectors, self.dim)
                    article, chunks, vectors = IndexedArticle.from_record(rec), [], []
                if cid is not None:
                    chunks.append(Chunk(cid, aid, text, start, end))
                    vectors.append(vector)
            if article is not None:
                yield article, chunks, _stack(vectors, self.dim)

        def _stack(vectors: list[Any], dim: int) -> np.ndarray:
            if not vectors:
                return np.zeros((0, dim), dtype=np.float32)
            return np.stack([v.to_numpy() for v in vectors])

        if self._conn is not None:
            yield from grouped(self._conn)
            return
        with _pool(self.store.url, self.store.pool_size).connection() as conn:
            yield from grouped(conn)


class PostgresWriter(Writer):
    """Writes inside the transaction that holds the advisory lock; it commits on exit."""

    def __init__(self, store: PostgresStore, conn: psycopg.Connection) -> None:
        self.store = store
        self.conn = conn

    def current(self, settings: Settings) -> PostgresView | None:
        if _version(self.conn) is None:
            return None
        try:
            return self.store._view(self.conn, settings, self.conn)
        except IndexNotFoundError:
            return None

    def check_new(self) -> None:
        """Any database will do: the tables are prefixed and created on the first write."""

    def write(
        self,
        manifest: dict[str, Any],
        remove: set[str],
        records: list[IndexedArticle],
        chunks: list[Chunk],
        vectors: np.ndarray,
        rebuild: bool = False,
    ) -> None:
        conn, dim = self.conn, int(manifest["dim"])
        version = int(_version(conn) or 0)  # kept across rebuilds: readers compare it
        fresh = rebuild or version == 0
        if fresh:
            _create_tables(conn, dim)
        stats = self._meta("bm25") or {"chunks": 0, "tokens": 0}
        gone = set(remove) | {r.id for r in records}
        if gone and not fresh:
            self._forget(list(gone), stats)
        conn.cursor().executemany(
            "INSERT INTO assistant_articles (id, title, date, source, url, key, origin, hash, "
            "record) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    r.id,
                    r.title,
                    r.date,
                    r.source,
                    r.url,
                    r.key,
                    r.origin,
                    r.hash,
                    json.dumps(r.to_record(), ensure_ascii=False),
                )
                for r in records
            ],
        )
        if chunks:
            self._insert_chunks(chunks, vectors, {r.id: r for r in records}, stats)
        if fresh:  # building the graph once after loading is far faster than per row
            create_graph(conn)
            conn.execute(
                "ALTER TABLE assistant_postings ADD PRIMARY KEY (term_id, row_id) INCLUDE (weight)"
            )
            conn.execute(
                "ANALYZE assistant_articles, assistant_chunks, assistant_postings, assistant_terms"
            )
        counts = _one(
            conn.execute(
                "SELECT (SELECT count(*) FROM assistant_articles), "
                "(SELECT count(*) FROM assistant_chunks)"
            )
        )
        manifest = {
            **manifest,
            "store": "postgres",
            "schema": SCHEMA,
            "written": datetime.now(UTC).isoformat(timespec="seconds"),
            "counts": {"articles": counts[0], "chunks": counts[1]},
        }
        for key in ("files", "faiss_index", "version"):  # FAISS-folder fields
            manifest.pop(key, None)
        self._set_meta("manifest", manifest)
        self._set_meta("bm25", stats)
        self._set_meta("version", version + 1)

    def _meta(self, key: str) -> Any:
        row = self.conn.execute("SELECT value FROM assistant_meta WHERE key = %s", (key,))
        found = row.fetchone()
        return None if found is None else found[0]

    def _set_meta(self, key: str, value: Any) -> None:
        self.conn.execute(
            "INSERT INTO assistant_meta (key, value) VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (key, json.dumps(value)),
        )

    def _forget(self, article_ids: list[str], stats: dict[str, int]) -> None:
        """Delete articles, their chunks and postings, taking their terms out of the BM25
        statistics."""
        df: Counter[int] = Counter()
        rows = self.conn.execute(
            "SELECT term_ids, tokens FROM assistant_chunks WHERE article_id = ANY(%s)",
            (article_ids,),
        ).fetchall()
        for term_ids, tokens in rows:
            df.update(term_ids)
            stats["chunks"] -= 1
            stats["tokens"] -= tokens
        self.conn.execute(
            "DELETE FROM assistant_postings p USING (SELECT row_id, unnest(term_ids) AS term_id "
            "FROM assistant_chunks WHERE article_id = ANY(%s)) c "
            "WHERE p.term_id = c.term_id AND p.row_id = c.row_id",
            (article_ids,),
        )
        if df:
            ids, counts = zip(*df.items(), strict=True)
            self.conn.execute(
                "UPDATE assistant_terms t SET df = t.df - u.n "
                "FROM unnest(%s::int[], %s::int[]) AS u(id, n) WHERE t.id = u.id",
                (list(ids), list(counts)),
            )
        self.conn.execute("DELETE FROM assistant_articles WHERE id = ANY(%s)", (article_ids,))

    def _insert_chunks(
        self,
        chunks: list[Chunk],
        vectors: np.ndarray,
        records: dict[str, IndexedArticle],
        stats: dict[str, int],
    ) -> None:
        """COPY the chunks in, with BM25 weights against the corpus's new average length, and
        their postings after them in term order (a term's postings then share heap pages)."""
        tokens = tokenize([f"{records[c.article_id].title}\n{c.text}" for c in chunks])
        vocabulary = sorted({t for doc in tokens for t in doc})
        self.conn.execute(
            "INSERT INTO assistant_terms (term) SELECT unnest(%s::text[]) "
            "ON CONFLICT (term) DO NOTHING",
            (vocabulary,),
        )
        ids: dict[str, int] = dict(
            self.conn.execute(
                "SELECT term, id FROM assistant_terms WHERE term = ANY(%s)", (vocabulary,)
            ).fetchall()
        )
        stats["chunks"] += len(chunks)
        stats["tokens"] += sum(len(doc) for doc in tokens)
        avgdl = stats["tokens"] / max(stats["chunks"], 1)
        with self.conn.cursor().copy(
            'COPY assistant_chunks (id, article_id, text, start, "end", date, source, tokens, '
            "embedding, term_ids, weights) FROM STDIN WITH (FORMAT BINARY)"
        ) as copy:
            copy.set_types(
                [
                    "text",
                    "text",
                    "text",
                    "int4",
                    "int4",
                    "text",
                    "text",
                    "int4",
                    "vector",
                    "int4[]",
                    "float4[]",
                ]
            )
            for chunk, vector, doc in zip(chunks, vectors, tokens, strict=True):
                tf = Counter(ids[t] for t in doc)
                norm = BM25_K1 * (1 - BM25_B + BM25_B * len(doc) / avgdl)
                present = sorted(tf)
                record = records[chunk.article_id]
                copy.write_row(
                    (
                        chunk.id,
                        chunk.article_id,
                        chunk.text,
                        chunk.start,
                        chunk.end,
                        record.date,
                        record.source,
                        len(doc),
                        vector,
                        present,
                        [tf[t] * (BM25_K1 + 1) / (tf[t] + norm) for t in present],
                    )
                )
        self.conn.execute(  # and each term's document frequency and largest weight from them
            "WITH new AS (INSERT INTO assistant_postings (term_id, row_id, weight) "
            "SELECT u.term_id, c.row_id, u.weight FROM assistant_chunks c, "
            "unnest(c.term_ids, c.weights) AS u (term_id, weight) "
            "WHERE c.article_id = ANY(%s) ORDER BY 1, 2 RETURNING term_id, weight) "
            "UPDATE assistant_terms t SET df = t.df + u.n, "
            "max_weight = greatest(t.max_weight, u.top) FROM (SELECT term_id, count(*) AS n, "
            "max(weight) AS top FROM new GROUP BY term_id) u WHERE t.id = u.term_id",
            (list(records),),
        )


def create_graph(conn: psycopg.Connection) -> None:
    """The HNSW index over the loaded chunks, built in memory (BUILD_MEMORY, unless the server's
    own setting is larger: a big load)."""
    conn.execute(
        "SELECT set_config('maintenance_work_mem', (greatest(pg_size_bytes("
        "current_setting('maintenance_work_mem')), pg_size_bytes(%s)) / 1024)::text "
        "|| 'kB', true)",
        (BUILD_MEMORY,),
    )
    conn.execute(
        "CREATE INDEX assistant_chunks_hnsw ON assistant_chunks "
        f"USING hnsw (embedding vector_cosine_ops) WITH (m = {HNSW_M}, "
        f"ef_construction = {HNSW_EF_CONSTRUCTION})"
    )


def _create_tables(conn: psycopg.Connection, dim: int) -> None:
    """(Re)create the schema, empty; the HNSW index and the postings key are added after the
    first load."""
    conn.execute(
        "DROP TABLE IF EXISTS assistant_postings, assistant_chunks, assistant_articles, "
        "assistant_terms, assistant_meta"
    )
    conn.execute("CREATE TABLE assistant_meta (key text PRIMARY KEY, value jsonb NOT NULL)")
    conn.execute(
        """CREATE TABLE assistant_articles (
               id text PRIMARY KEY,
               seq bigint GENERATED ALWAYS AS IDENTITY,
               title text NOT NULL, date text, source text, url text, key text, origin text,
               hash text NOT NULL,
               record json NOT NULL)"""
    )
    conn.execute(
        f"""CREATE TABLE assistant_chunks (
               row_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
               id text NOT NULL UNIQUE,
               article_id text NOT NULL REFERENCES assistant_articles(id) ON DELETE CASCADE,
               text text NOT NULL, start int NOT NULL, "end" int NOT NULL,
               date text, source text,
               tokens int NOT NULL,
               embedding vector({int(dim)}) NOT NULL,
               term_ids int[] NOT NULL,
               weights real[] NOT NULL)"""
    )
    # No key yet: it is added after the first load (much faster than row by row).
    conn.execute(
        "CREATE TABLE assistant_postings (term_id int NOT NULL, row_id bigint NOT NULL, "
        "weight real NOT NULL)"
    )
    # Vectors stay in the row: TOASTed, every distance would cost extra page reads.
    conn.execute("ALTER TABLE assistant_chunks ALTER COLUMN embedding SET STORAGE PLAIN")
    conn.execute(
        "CREATE TABLE assistant_terms (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "term text NOT NULL UNIQUE, df int NOT NULL DEFAULT 0, max_weight real NOT NULL DEFAULT 0)"
    )
    for table, column in (
        ("assistant_articles", "seq"),
        ("assistant_articles", "date"),
        ("assistant_articles", "source"),
        ("assistant_articles", "hash"),
        ("assistant_articles", "url"),
        ("assistant_articles", "key"),
        ("assistant_chunks", "article_id"),
        ("assistant_chunks", "date"),
        ("assistant_chunks", "source"),
    ):
        conn.execute(f"CREATE INDEX ON {table} ({column})")
