"""Dense retrieval latency and memory at 10k / 100k / 1M chunks: flat vs HNSW vs stock.

Synthetic unit vectors (dim 384) drawn around cluster centres, like embeddings of news on a
few thousand topics; queries are perturbed copies of stored vectors, as a question sits near
its passage. Uniform random vectors would be an unfairly hard case for HNSW (no structure).

- flat: `faiss.IndexFlatIP`, what `store.empty_index` builds below HNSW_THRESHOLD;
- hnsw: what it builds at or above HNSW_THRESHOLD (IndexHNSWFlat, M=32, efSearch
  HNSW_EF_SEARCH), with recall@10 measured against flat (it should stay >= 0.95);
- stock: LangChain's `FAISS` vectorstore (flat L2 index + docstore), `similarity_search_by_vector`
  (query embedding left out on every side, so only search is timed).

Search is timed at k = RetrievalSettings.fetch_k (what our retrieval asks FAISS for) and the
stock store at k=4 (its default) and 10; one query at a time, as the assistant does.

    .venv/bin/python bench/bench_retrieval.py [--sizes 10000,100000,1000000] [--queries 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from _common import Timer, percentile, summary, table

from assistant.settings import RetrievalSettings
from assistant.stores.faiss import HNSW_THRESHOLD, empty_index

DIM = 384


def vectors(n: int, seed: int = 0, clusters: int | None = None, noise: float = 0.06) -> np.ndarray:
    rng = np.random.default_rng(seed)
    clusters = clusters or max(10, n // 200)
    centres = rng.standard_normal((clusters, DIM), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):  # in blocks, to keep the temporaries small
        stop = min(n, start + 100_000)
        block = centres[rng.integers(0, clusters, stop - start)]
        block += noise * rng.standard_normal((stop - start, DIM), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:stop] = block
    return out


def queries(data: np.ndarray, count: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q = data[rng.integers(0, len(data), count)].copy()
    q += 0.04 * rng.standard_normal(q.shape, dtype=np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def interleaved(searches: dict, qs: np.ndarray) -> tuple[dict, dict]:
    """Per-query times and results of each search, taking turns query by query."""
    for search in searches.values():
        search(qs[0])  # warm up
    times: dict[str, list[float]] = {name: [] for name in searches}
    found: dict[str, list] = {name: [] for name in searches}
    for q in qs:
        for name, search in searches.items():
            start = time.perf_counter()
            found[name].append(search(q))
            times[name].append(time.perf_counter() - start)
    return times, found


def index_bytes(index) -> int:
    import faiss

    return int(faiss.serialize_index(index).size)


def stock_store(data: np.ndarray):
    """LangChain's FAISS vectorstore over the same vectors (texts are short placeholders)."""
    from langchain_community.vectorstores import FAISS
    from langchain_core.embeddings import Embeddings

    class Precomputed(Embeddings):  # never called for documents: vectors are given
        def embed_documents(self, texts):
            raise NotImplementedError

        def embed_query(self, text):
            raise NotImplementedError

    pairs = ((f"chunk {i}", v) for i, v in enumerate(data.tolist()))
    return FAISS.from_embeddings(pairs, Precomputed())


def bench_size(
    n: int, count: int, k: int, stock: bool, thread_counts: list[int], noise: float = 0.06
) -> tuple[list[list], dict]:
    print(f"\n{n:,} chunks: generating vectors", flush=True)
    data = vectors(n, noise=noise)
    qs = queries(data, count)
    rows, out = [], {}

    import faiss

    faiss.omp_set_num_threads(os.cpu_count() or 1)  # builds use every core
    flat = empty_index(DIM, 0)
    with Timer() as t:
        flat.add(data)
    out["flat"] = {"build_s": t.seconds, "bytes_per_chunk": index_bytes(flat) / n}
    print(f"  flat built in {t.seconds:.1f}s", flush=True)
    hnsw = empty_index(DIM, HNSW_THRESHOLD)
    with Timer() as t:
        hnsw.add(data)
    out["hnsw"] = {"build_s": t.seconds, "bytes_per_chunk": index_bytes(hnsw) / n}
    print(f"  hnsw built in {t.seconds:.1f}s", flush=True)
    store = None
    if stock:
        with Timer() as t:
            store = stock_store(data)
        out["stock"] = {"build_s": t.seconds}
        print(f"  stock store built in {t.seconds:.1f}s", flush=True)
    searches = {
        "flat": lambda q: flat.search(q[None, :], k)[1][0],
        "flat k=10": lambda q: flat.search(q[None, :], 10)[1][0],
        "hnsw": lambda q: hnsw.search(q[None, :], k)[1][0],
    }
    if store is not None:
        searches["stock k=4"] = lambda q: store.similarity_search_by_vector(q.tolist(), k=4)
        searches["stock k=10"] = lambda q: store.similarity_search_by_vector(q.tolist(), k=10)
    for threads in thread_counts:
        faiss.omp_set_num_threads(threads)
        # round robin over the indexes, query by query, so a busy moment hits them all alike
        times, found = interleaved(searches, qs)
        recall = float(
            np.mean(
                [
                    len(set(a[:10]) & set(b[:10])) / 10
                    for a, b in zip(found["flat"], found["hnsw"], strict=True)
                ]
            )
        )
        out["hnsw"]["recall@10"] = recall
        for name in searches:
            base = name.split()[0]
            rows.append(
                [
                    name,
                    threads,
                    n,
                    out.get(base, out.get(name, {})).get("build_s"),
                    times[name],
                    recall if name == "hnsw" else (1.0 if base == "flat" else None),
                    out[base]["bytes_per_chunk"] if base in ("flat", "hnsw") else None,
                ]
            )
    hnsw.reset()  # free the memory before the next size

    table_rows = []
    for name, threads, size, build, times, rec, per in rows:
        p50, p95 = percentile(times, 0.5) * 1000, percentile(times, 0.95) * 1000
        out.setdefault(name, {})[f"p50_ms[{threads}]"] = p50
        out[name][f"p95_ms[{threads}]"] = p95
        table_rows.append([name, threads, f"{size:,}", build, p50, p95, rec, per])
    for r in table_rows:
        r.append(f"{r[4] / out['flat'][f'p50_ms[{r[1]}]']:.2f}x")
    return table_rows, out


HEADERS = [
    "index",
    "threads",
    "chunks",
    "build s",
    "p50 ms",
    "p95 ms",
    "recall@10",
    "B/chunk",
    "p50 vs flat",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="e.g. 10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--threads", default="1,2", help="FAISS OpenMP threads to try")
    parser.add_argument(
        "--noise",
        type=float,
        default=0.06,
        help="spread around the cluster centres per dimension: 0.06 keeps a cosine of ~0.65 "
        "to the centre; 0.15 is nearly uniform, a worst case for HNSW",
    )
    parser.add_argument("--stock-max", type=int, default=100_000, help="largest stock store")
    args = parser.parse_args(argv)
    import faiss

    k = RetrievalSettings().fetch_k
    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads, k={k}")
    rows, results = [], {}
    for n in (int(s) for s in args.sizes.split(",")):
        size_rows, results[n] = bench_size(
            n,
            args.queries,
            k,
            n <= args.stock_max,
            [int(t) for t in args.threads.split(",")],
            args.noise,
        )
        rows += size_rows
        print(
            table(
                HEADERS,
                size_rows,
            ),
            flush=True,
        )
    print("\nAll sizes")
    print(
        table(
            HEADERS,
            rows,
        )
    )
    parts = []
    for n, r in results.items():
        t = args.threads.split(",")[0]
        part = (
            f"{n:,}: flat {r['flat'][f'p50_ms[{t}]']:.2f} ms, "
            f"hnsw {r['hnsw'][f'p50_ms[{t}]']:.2f} ms "
            f"(recall {r['hnsw']['recall@10']:.3f})"
        )
        if "stock k=4" in r:
            part += f", stock {r['stock k=4'][f'p50_ms[{t}]']:.2f} ms"
        parts.append(part)
    summary(
        "bench_retrieval",
        f"p50 with {args.threads.split(',')[0]} FAISS thread(s): " + "; ".join(parts),
        {str(n): r for n, r in results.items()},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
