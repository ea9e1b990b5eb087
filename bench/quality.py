"""Retrieval quality that cannot overfit quietly: both RealTime QA dev sets, settings chosen by
cross-validation over weeks, ours beside stock LangChain at equal context size.

Two development sets (read from ../shared; skipped when absent, never copied):
- passages: the 2020 evidence passages pooled as articles (one short passage each); a hit is a
  passage of the question's evidence article;
- pages: January-April 2023, every full web page RealTime QA's search step saved (menus,
  cookie notices and related links included), pooled and deduplicated by url; a question
  counts when its gold answer occurs in one of its own pages, and a hit is a passage holding
  the answer (whitespace removed, as written).

Every candidate setting (index variants x ranking variants) is scored on every question once.
Weeks are cut into K contiguous folds per set; for each fold the setting with the best mean
score on the other folds of both sets is chosen and reported on the held-out fold, so every
question is scored once by a setting that never saw its week. "ctx" metrics count a hit only
within the first `--budget` characters of passage text handed to the model (stock: 4 chunks
of at most 1,000 characters): that is the equal-context comparison.

    .venv/bin/python bench/quality.py [--sets passages,pages] [--folds 4] [--weeks 6]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from _common import (
    RESULTS_DIR,
    SHARED_DIR,
    Timer,
    realtimeqa,
    realtimeqa_available,
    stock_chunks,
    stock_embeddings,
    summary,
    table,
    write_articles,
)

from assistant import Assistant
from assistant.retrieval import Filters, gather, rank
from assistant.settings import PROJECT_DIR, Settings
from assistant.timeframe import parse_day, timeframe

PAGES_DIR = SHARED_DIR / "eval" / "data" / "realtimeqa" / "gcs" / "2023"
CACHE_DIR = RESULTS_DIR / "cache"
STOCK_K = 4
DEPTH = 20  # passages ranked per question: enough for MRR@10 and any budget up to ~6,000


@dataclass
class DevSet:
    name: str
    records: list[dict]
    questions: list[dict]  # question, week, date, and `urls` (passages) or `answer` (pages)

    def hit(self, q: dict, url: str | None, text: str) -> bool:
        if "urls" in q:
            return url in q["urls"]
        return q["answer"] in "".join(text.split())


def passages_set() -> DevSet:
    records, questions = realtimeqa(("2020",))
    rows = [
        {
            "question": q["question"],
            "week": q["week"],
            # the passages' dates are the question dates (RealTime QA gives none of its own),
            # so this set is asked without an as-of day: a recency preference would be a leak
            "date": None,
            "urls": set(q["evidence"]),
            "choices": q["answers"],
            "options": q["choices"],
        }
        for q in questions
    ]
    return DevSet("passages", records, rows)


def pages_set(weeks: int | None = None) -> DevSet:
    records: dict[str, dict] = {}
    rows = []
    for qa in sorted(PAGES_DIR.glob("*_qa.jsonl"))[:weeks]:
        week = qa.name.split("_")[0]
        with gzip.open(PAGES_DIR / f"{week}_gcs.jsonl.gz", "rt", encoding="utf-8") as fh:
            pages = {r["question_id"]: r["search_result"] for r in map(json.loads, fh)}
        for line in qa.read_text(encoding="utf-8").splitlines():
            q = json.loads(line)
            own = pages.get(q["question_id"], [])
            for page in own:
                if (page.get("text") or "").strip() and page["url"] not in records:
                    records[page["url"]] = {
                        "title": page.get("title") or "",
                        "text": page["text"],
                        "date": (page.get("publish_date") or "").replace("/", "-")[:10] or None,
                        "source": page["url"].split("/")[2],
                        "url": page["url"],
                    }
            gold = q["choices"][int(q["answer"][0])]
            answer = "".join(gold.split())
            if not any(answer in "".join((p.get("text") or "").split()) for p in own):
                continue  # the answer is on none of its pages: nothing to retrieve
            rows.append(
                {
                    "question": q["question_sentence"],
                    "week": week,
                    "date": q["question_date"].replace("/", "-"),
                    "answer": answer,
                    "choices": [gold],
                    "options": q["choices"],
                }
            )
    return DevSet("pages", list(records.values()), rows)


# -- our pipeline --------------------------------------------------------------------------


# The code that turns articles into an index: read once, when this script starts, as imported.
_INDEX_CODE = "".join(
    (PROJECT_DIR / "assistant" / name).read_text()
    for name in ("articles.py", "chunking.py", "cleaning.py", "ingest.py", "embeddings.py")
)


def _fingerprint(*parts: Any, code: str = _INDEX_CODE) -> str:
    """Cache key: the inputs, and (for our indexes) the code that builds them."""
    raw = json.dumps(parts, sort_keys=True, default=str) + code
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def our_index(dev: DevSet, variant: dict[str, Any]) -> tuple[Assistant, float]:
    """Our index of `dev` with the index settings of `variant`, reused from the cache."""
    where = CACHE_DIR / f"{dev.name}-{_fingerprint(dev.records, variant)}"
    assistant = Assistant(
        index_dir=where / "index",
        llm={"backend": "passages"},
        max_article_bytes=10**9,  # all pages travel in one JSON Lines file
        **variant,
    )
    if (where / "index" / "CURRENT").exists():
        return assistant, 0.0
    with Timer() as t:
        report = assistant.build_index([write_articles(dev.records, where / "articles")])
    assert not report.rejected, report.rejected[:3]
    print(
        f"  built {dev.name} {variant or 'default'}: {report.chunks_embedded} chunks, "
        f"{t.seconds:.0f}s",
        flush=True,
    )
    return assistant, t.seconds


def our_runs(
    dev: DevSet, assistant: Assistant, ranking: dict[str, dict[str, Any]]
) -> dict[str, list[list[tuple[str | None, str]]]]:
    """For each ranking variant: per question, the passages ours ranks (url, text), as deep
    as DEPTH (the budget is applied when scoring). A variant with `"as_of": False` is asked
    without the question's date."""
    data = assistant.index()
    base = assistant.settings.retrieval
    settings, dated = {}, {}
    for name, change in ranking.items():
        change = dict(change)
        dated[name] = change.pop("as_of", True)
        settings[name] = base.model_copy(update=change)
    fetch = max(s.fetch_k for s in settings.values())
    out: dict[str, list[list[tuple[str | None, str]]]] = {name: [] for name in ranking}
    vectors = assistant.embedder.encode([q["question"] for q in dev.questions])
    for q, query in zip(dev.questions, vectors, strict=True):
        day = parse_day(q["date"])
        undated = gather(data, _Fixed(query), q["question"], fetch, Filters())
        found = {False: undated, True: undated}
        if day:
            found[True] = gather(
                data, _Fixed(query), q["question"], fetch, Filters(as_of=q["date"])
            )
        for name, s in settings.items():
            use = found[dated[name]]
            trimmed = type(use)(use.query, use.dense[: s.fetch_k], use.sparse[: s.fetch_k])
            when = timeframe(q["question"], day) if day and dated[name] else None
            passages = rank(data, trimmed, s, DEPTH, when, embedder=assistant.embedder)
            out[name].append([(p.url, p.chunk.text) for p in passages])
    return out


class _Fixed:
    """An embedder that returns an already computed query vector."""

    def __init__(self, vector: Any) -> None:
        self.vector = vector

    def encode(self, texts: list[str], progress: bool = False) -> Any:
        return self.vector.reshape(1, -1)


# -- stock ---------------------------------------------------------------------------------


def stock_run(dev: DevSet) -> list[list[tuple[str | None, str]]]:
    """The stock pipeline's ranking per question, DEPTH deep."""
    store = stock_store(dev)
    queries = store.embeddings.embed_documents([q["question"] for q in dev.questions])
    out = []
    for vector in queries:
        docs = store.similarity_search_by_vector(vector, k=DEPTH)
        out.append([(d.metadata["url"], d.page_content) for d in docs])
    return out


def stock_store(dev: DevSet, without: Collection[str] = ()) -> Any:
    """The stock LangChain FAISS store of `dev` (vectors cached by text), leaving out the
    articles whose url is in `without`."""
    import numpy as np
    from langchain_community.vectorstores import FAISS

    chunks = stock_chunks(dev.records)
    texts = [c.page_content for c in chunks]
    cache = CACHE_DIR / f"stock-{dev.name}-{_fingerprint(texts, code='')}.npy"
    embeddings = stock_embeddings()
    if cache.exists():
        vectors = np.load(cache)
    else:
        # The same MiniLM through our batch runner (vectors within 0.9999 cosine of the stock
        # HuggingFaceEmbeddings ones, about twice as fast): this bench compares rankings, and
        # bench_build.py times the stock embedding itself.
        from assistant.embeddings import Embedder

        with Timer() as t:
            embedder = Embedder.from_settings(Settings().embedding)
            vectors = np.asarray(embedder.encode(texts, progress=True), dtype="float32")
        print(f"  stock {dev.name}: {len(texts)} chunks embedded in {t.seconds:.0f}s", flush=True)
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        np.save(cache, vectors)
    keep = [i for i, c in enumerate(chunks) if c.metadata["url"] not in without]
    return FAISS.from_embeddings(
        [(texts[i], vectors[i].tolist()) for i in keep],
        embeddings,
        metadatas=[chunks[i].metadata for i in keep],
    )


# -- metrics and cross-validation ----------------------------------------------------------


@dataclass
class Scores:
    """Per question: rank of the first hit (None: none in the list) and hit within budget."""

    ranks: list[int | None] = field(default_factory=list)
    in_budget: list[bool] = field(default_factory=list)
    chars: list[int] = field(default_factory=list)
    in_same: list[bool] = field(default_factory=list)


def score(
    dev: DevSet,
    runs: list[list[tuple[str | None, str]]],
    budget: int,
    ctx_cap: int | None = None,
    same: list[int] | None = None,
) -> Scores:
    """Ranks over the whole list; the context is the passages that fit the budget, at most
    `ctx_cap` of them (stock hands over its top 4 whatever their length). `same`: per
    question, the characters stock handed over; a hit within as many counts as `in_same`."""
    s = Scores()
    for i, (q, passages) in enumerate(zip(dev.questions, runs, strict=True)):
        hits = [dev.hit(q, url, text) for url, text in passages]
        lengths = [len(text) for _, text in passages]
        s.ranks.append(next((n for n, h in enumerate(hits, start=1) if h), None))
        ok, used = _within(hits, lengths, budget, ctx_cap)
        s.in_budget.append(ok)
        s.chars.append(used)
        s.in_same.append(_within(hits, lengths, same[i])[0] if same else ok)
    return s


def _within(
    hits: list[bool], lengths: list[int], budget: int, cap: int | None = None
) -> tuple[bool, int]:
    """Whether a hit is among the passages that fit `budget` characters (the first always
    does), and the characters used."""
    used, ok = 0, False
    for position, (hit, length) in enumerate(zip(hits, lengths, strict=True), start=1):
        if cap is not None and position > cap:
            break
        if used + length <= budget or position == 1:
            used += length
            ok = ok or hit
    return ok, used


def metrics(s: Scores, rows: list[int] | None = None) -> dict[str, float]:
    idx = range(len(s.ranks)) if rows is None else rows
    ranks = [s.ranks[i] for i in idx]
    n = max(len(ranks), 1)
    return {
        "n": len(ranks),
        "hits@4": sum(1 for r in ranks if r and r <= 4) / n,
        "hits@10": sum(1 for r in ranks if r and r <= 10) / n,
        "mrr@10": sum(1 / r for r in ranks if r and r <= 10) / n,
        "hits@ctx": sum(s.in_budget[i] for i in idx) / n,
        "hits@same": sum(s.in_same[i] for i in idx) / n,
        "ctx_chars": sum(s.chars[i] for i in idx) / n,
    }


def objective(m: dict[str, float]) -> float:
    """What a setting is chosen by: hits within the budget and within stock's characters,
    and how early the first hit comes."""
    return (m["hits@ctx"] + m["hits@same"] + m["mrr@10"]) / 3


def folds_of(dev: DevSet, k: int) -> list[list[int]]:
    """Question indices in K contiguous blocks of weeks."""
    weeks = sorted({q["week"] for q in dev.questions})
    size = -(-len(weeks) // k)
    blocks = [set(weeks[i : i + size]) for i in range(0, len(weeks), size)]
    return [[i for i, q in enumerate(dev.questions) if q["week"] in b] for b in blocks]


def cross_validate(
    sets: list[DevSet], candidates: dict[str, dict[str, Scores]], k: int
) -> tuple[dict[str, Scores], list[dict], dict[str, dict[int, str]]]:
    """Choose per fold on the other folds (both sets, equally weighted); return the held-out
    scores of each set as chosen, what each fold chose, and per set which candidate scored
    each question."""
    folds = {dev.name: folds_of(dev, k) for dev in sets}
    chosen_rows: dict[str, dict[int, str]] = {dev.name: {} for dev in sets}
    log = []
    for f in range(k):

        def train_score(name: str, f: int = f) -> float:
            total = 0.0
            for dev in sets:
                rows = [i for g, block in enumerate(folds[dev.name]) if g != f for i in block]
                total += objective(metrics(candidates[name][dev.name], rows))
            return total / len(sets)

        best = max(candidates, key=train_score)
        log.append({"fold": f, "chosen": best, "train": train_score(best)})
        for dev in sets:
            if f < len(folds[dev.name]):
                for i in folds[dev.name][f]:
                    chosen_rows[dev.name][i] = best
    held = {}
    for dev in sets:
        s = Scores()
        for i in range(len(dev.questions)):
            source = candidates[chosen_rows[dev.name][i]][dev.name]
            s.ranks.append(source.ranks[i])
            s.in_budget.append(source.in_budget[i])
            s.chars.append(source.chars[i])
            s.in_same.append(source.in_same[i])
        held[dev.name] = s
    return held, log, chosen_rows


# -- the grid ------------------------------------------------------------------------------

INDEX_VARIANTS: dict[str, dict[str, Any]] = {
    "600": {},
    "1000": {"chunking": {"max_chars": 1000}},
    "600 raw": {"clean_text": False},
}

RANKING_VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "bm25 0.5": {"bm25_weight": 0.5},
    "rrf 60": {"rrf_k": 60},
    "per_article 1": {"per_article": 1},
    "per_article 3": {"per_article": 3},
    "no dedup": {"max_overlap": 1.0},
    "fetch 40": {"fetch_k": 40},
    "no lede slot": {"lede_slot": False},
    "no as-of": {"as_of": False},
    "no recency": {"recency_weight": 0.0, "window_weight": 0.0},
    "recency 1": {"recency_weight": 1.0},
    "no sentences": {"sentence_weight": 0.0},
    "sentences 0.5": {"sentence_weight": 0.5},
    "sentences 1": {"sentence_weight": 1.0},
    "sentences of 40": {"sentence_candidates": 40},
}


KEYS = ("hits@4", "hits@10", "mrr@10", "hits@ctx", "hits@same", "ctx_chars")
HEAD = [
    "pipeline",
    "set",
    "questions",
    "Hits@4",
    "Hits@10",
    "MRR@10",
    "Hits@ctx",
    "Hits@same",
    "ctx chars",
]


def _row(name: str, dev: str, m: dict[str, float]) -> list[Any]:
    return [name, dev, m["n"], *(m[key] for key in KEYS)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default="passages,pages")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--weeks", type=int, default=None, help="pages: first N weeks only")
    parser.add_argument("--budget", type=int, default=4000, help="characters given to the model")
    parser.add_argument("--index-variants", default=",".join(INDEX_VARIANTS))
    args = parser.parse_args(argv)
    wanted = args.sets.split(",")
    loaders: dict[str, Callable[[], DevSet]] = {
        "passages": passages_set,
        "pages": lambda: pages_set(args.weeks),
    }
    available = {"passages": realtimeqa_available(("2020",)), "pages": PAGES_DIR.is_dir()}
    sets = [loaders[n]() for n in wanted if available[n]]
    if not sets:
        print("RealTime QA data not found under ../shared/eval; skipping.")
        return 0
    for dev in sets:
        print(
            f"{dev.name}: {len(dev.records)} articles, {len(dev.questions)} questions, "
            f"{len({q['week'] for q in dev.questions})} weeks",
            flush=True,
        )

    candidates: dict[str, dict[str, Scores]] = {}
    runs_of: dict[str, dict[str, list]] = {}
    stock: dict[str, Scores] = {}
    stock_runs: dict[str, list] = {}
    for dev in sets:
        stock_runs[dev.name] = stock_run(dev)
        stock[dev.name] = score(dev, stock_runs[dev.name], args.budget, STOCK_K)
        for iname in args.index_variants.split(","):
            assistant, _ = our_index(dev, INDEX_VARIANTS[iname])
            runs = our_runs(dev, assistant, RANKING_VARIANTS)
            for rname, run in runs.items():
                name = f"chunks {iname}, {rname}"
                runs_of.setdefault(name, {})[dev.name] = run
                candidates.setdefault(name, {})[dev.name] = score(
                    dev, run, args.budget, same=stock[dev.name].chars
                )

    rows = [
        _row(name, dev.name, metrics(per_set[dev.name]))
        for name, per_set in candidates.items()
        for dev in sets
    ]
    rows += [_row("stock", dev.name, metrics(stock[dev.name])) for dev in sets]
    print(
        f"\nEvery candidate on every question (budget {args.budget} chars; for information "
        "only: choosing from this table would be tuning on the test questions)"
    )
    print(table(HEAD, rows), flush=True)

    held, log, chosen = cross_validate(sets, candidates, args.folds)
    print(f"\nChosen per fold ({args.folds} folds of contiguous weeks, both sets):")
    for entry in log:
        print(f"  fold {entry['fold']}: {entry['chosen']} (train objective {entry['train']:.3f})")
    rows = []
    for dev in sets:
        rows.append(_row("ours, chosen by CV", dev.name, metrics(held[dev.name])))
        rows.append(_row("stock LangChain", dev.name, metrics(stock[dev.name])))
        for f, block in enumerate(folds_of(dev, args.folds)):
            o, st = metrics(held[dev.name], block), metrics(stock[dev.name], block)
            pairs = [f"{o[key]:.3f} / {st[key]:.3f}" for key in KEYS[:-1]]
            rows.append([f"  fold {f}: ours / stock", dev.name, o["n"], *pairs, ""])
    print("\nHeld-out figures (each question scored by a setting chosen without its weeks)")
    print(table(HEAD, rows))
    rows = []
    for dev in sets:
        held_runs = [runs_of[chosen[dev.name][i]][dev.name][i] for i in range(len(dev.questions))]
        for budget in (1000, 2000, 3000, 4000):
            o = metrics(score(dev, held_runs, budget))
            st = metrics(score(dev, stock_runs[dev.name], budget, budget // 1000))
            rows.append(
                [dev.name, budget, budget // 1000, st["hits@ctx"], o["hits@ctx"], o["ctx_chars"]]
            )
    print("\nHits within a context budget: stock's top chunks (<= 1,000 chars each) against ours")
    print(table(["set", "budget chars", "stock chunks", "stock", "ours (CV)", "ours chars"], rows))
    summary(
        "quality",
        "; ".join(
            f"{dev.name}: ours Hits@ctx {metrics(held[dev.name])['hits@ctx']:.3f} MRR@10 "
            f"{metrics(held[dev.name])['mrr@10']:.3f} vs stock "
            f"{metrics(stock[dev.name])['hits@ctx']:.3f} / {metrics(stock[dev.name])['mrr@10']:.3f}"
            for dev in sets
        ),
        {
            "folds": log,
            "budget": args.budget,
            "candidates": {n: {d: metrics(s) for d, s in v.items()} for n, v in candidates.items()},
            "held_out": {d: metrics(s) for d, s in held.items()},
            "stock": {d: metrics(s) for d, s in stock.items()},
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
