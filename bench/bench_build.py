"""Index build throughput and peak memory: ours vs the stock LangChain pipeline.

Each pipeline runs in its own subprocess (peak RSS from getrusage covers torch, which
tracemalloc does not see), over the same articles:

- stock: RecursiveCharacterTextSplitter(1000, 200) -> HuggingFaceEmbeddings(MiniLM)
  -> FAISS.from_documents -> save_local;
- ours: `Assistant.build_index` (load files, sentence chunking, embed title + chunk, FAISS,
  checksummed write), once per embedding model (--models).

Articles/s over the articles given (the same for both) is the fair figure: the pipelines cut
different chunks, and ours skips duplicate copies ("indexed" counts what it kept); chunks/s is
also shown.
Model loading is timed apart. Rounds alternate the order and the best round counts, since
the machine is shared.

    .venv/bin/python bench/bench_build.py [--corpus realtimeqa|sample|pages|both] [--rounds 2]

`--corpus pages` builds the full 2023 web pages of `quality.py` (`--weeks` of them): menus,
cookie notices and all, the corpus where our cleaning and sentence chunking cost the most.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import (
    Timer,
    minilm_path,
    realtimeqa,
    realtimeqa_available,
    sample_corpus,
    summary,
    table,
    write_articles,
)

DEFAULT_MODELS = "all-MiniLM-L6-v2,all-MiniLM-L6-v2-int8"


def worker(pipeline: str, model: str, folder: Path) -> dict:
    """Build one index of the articles in `folder`; runs inside its own process."""
    out: dict = {"pipeline": pipeline, "model": model}
    tmp = Path(tempfile.mkdtemp(prefix="bench-build-"))
    if pipeline == "stock":
        with Timer() as load:
            from langchain_community.vectorstores import FAISS
            from langchain_core.documents import Document
            from langchain_huggingface import HuggingFaceEmbeddings
            from langchain_text_splitters import RecursiveCharacterTextSplitter

            embeddings = HuggingFaceEmbeddings(
                model_name=minilm_path(), encode_kwargs={"normalize_embeddings": True}
            )
            embeddings.embed_documents(["warm up"])
        with Timer() as build:
            docs = []
            for path in sorted(folder.glob("*.jsonl")):
                for line in path.read_text(encoding="utf-8").splitlines():
                    r = json.loads(line)
                    docs.append(Document(r["text"], metadata={"title": r.get("title")}))
            splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
            chunks = splitter.split_documents(docs)
            store = FAISS.from_documents(chunks, embeddings)
            store.save_local(str(tmp / "stock"))
        out.update(articles=len(docs), chunks=len(chunks))
    else:
        with Timer() as load:
            from assistant import Assistant

            assistant = Assistant(index_dir=tmp / "index", embedding={"model": model})
            assistant.embedder.encode(["warm up"])
        with Timer() as build:
            report = assistant.build_index([folder])
        if report.rejected:
            raise SystemExit(f"ours rejected articles: {report.rejected[:3]}")
        out.update(articles=len(report.added), chunks=report.chunks_embedded)
    out.update(
        load_seconds=load.seconds,
        build_seconds=build.seconds,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        torch_loaded="torch" in sys.modules,
    )
    return out


def run(pipeline: str, model: str, folder: Path) -> dict:
    cmd = [sys.executable, __file__, "--worker", pipeline, "--model", model, str(folder)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{pipeline} {model} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench(name: str, records: list[dict], models: list[str], rounds: int) -> dict:
    folder = write_articles(records, Path(tempfile.mkdtemp(prefix="bench-articles-")))
    size = sum(len(r["text"]) for r in records)
    print(f"\n{name}: {len(records)} articles, {size / len(records):.0f} chars on average")
    pipelines = [("stock", "all-MiniLM-L6-v2")] + [("ours", m) for m in models]
    best: dict[tuple[str, str], dict] = {}
    for n in range(rounds):
        order = pipelines if n % 2 == 0 else pipelines[::-1]
        for pipeline, model in order:
            r = run(pipeline, model, folder)
            print(
                f"  round {n + 1}: {pipeline:5} {model:24} {r['build_seconds']:6.1f}s build "
                f"{r['load_seconds']:5.1f}s load {r['peak_rss_mb']:6.0f} MB",
                flush=True,
            )
            key = (pipeline, model)
            if key not in best or r["build_seconds"] < best[key]["build_seconds"]:
                best[key] = r
            best[key].setdefault("rss_all", []).append(r["peak_rss_mb"])
    stock = best[pipelines[0]]
    rows = []
    for key in pipelines:
        r = best[key]
        # per article given, not per article kept: ours also drops duplicate copies
        r["articles_per_s"] = len(records) / r["build_seconds"]
        r["chunks_per_s"] = r["chunks"] / r["build_seconds"]
        r["ratio_articles_per_s"] = stock["build_seconds"] / r["build_seconds"]
        rows.append(
            [
                f"{key[0]} {key[1]}",
                r["articles"],
                r["chunks"],
                r["build_seconds"],
                r["articles_per_s"],
                r["chunks_per_s"],
                f"{r['ratio_articles_per_s']:.2f}x",
                r["load_seconds"],
                max(r["rss_all"]),
                "yes" if r["torch_loaded"] else "no",
            ]
        )
    print(
        table(
            [
                "pipeline",
                "indexed",
                "chunks",
                "build s",
                "articles/s",
                "chunks/s",
                "vs stock",
                "load s",
                "peak MB",
                "torch",
            ],
            rows,
        )
    )
    return {f"{k[0]}[{k[1]}]": v for k, v in best.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", choices=["stock", "ours"], help=argparse.SUPPRESS)
    parser.add_argument("--model", default="all-MiniLM-L6-v2", help=argparse.SUPPRESS)
    parser.add_argument("folder", nargs="?", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--corpus", choices=["realtimeqa", "sample", "pages", "both"], default=None)
    parser.add_argument("--years", default="2020", help="RealTime QA years to pool")
    parser.add_argument("--copies", type=int, default=20, help="copies of the sample corpus")
    parser.add_argument("--weeks", type=int, default=4, help="weeks of 2023 pages (--corpus pages)")
    parser.add_argument("--models", default=DEFAULT_MODELS, help="our embedding models")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.model, args.folder)))
        return 0
    years = tuple(args.years.split(","))
    corpus = args.corpus or ("realtimeqa" if realtimeqa_available(years) else "sample")
    if corpus in ("realtimeqa", "both") and not realtimeqa_available(years):
        print("RealTime QA data not found under ../shared/eval; using the sample corpus.")
        corpus = "sample"
    models = args.models.split(",")
    results = {}
    if corpus in ("realtimeqa", "both"):
        results["realtimeqa"] = bench(
            f"RealTime QA {args.years} evidence pool", realtimeqa(years)[0], models, args.rounds
        )
    if corpus == "pages":
        from quality import PAGES_DIR, pages_set  # imports the assistant: only when asked

        if not PAGES_DIR.exists():
            raise SystemExit(f"2023 pages not found under {PAGES_DIR}")
        pages = pages_set(args.weeks).records
        results["pages"] = bench(f"2023 web pages, {args.weeks} weeks", pages, models, args.rounds)
    if corpus in ("sample", "both"):
        results["sample"] = bench(
            f"sample corpus x{args.copies}", sample_corpus(args.copies), models, args.rounds
        )
    parts = []
    for name, rows in results.items():
        best = max(
            (r for k, r in rows.items() if k.startswith("ours")),
            key=lambda r: r["articles_per_s"],
        )
        parts.append(
            f"{name}: ours[{best['model']}] {best['ratio_articles_per_s']:.2f}x stock articles/s, "
            f"{best['peak_rss_mb']:.0f} MB vs {rows['stock[all-MiniLM-L6-v2]']['peak_rss_mb']:.0f}"
        )
    summary("bench_build", "; ".join(parts) + f"; {os.cpu_count()} cores", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
