"""Answers, not rankings: ours vs the stock LangChain chain on both RealTime QA dev sets, with
the evidence in the pool and with it removed, the same bundled GGUF for both.

For each set (2020 evidence passages; January-April 2023 full web pages, `--weeks` of them)
`--questions` questions are drawn with a fixed seed and asked twice by each pipeline:

- evidence in the pool: right / refused / wrong;
- evidence removed (passages: the question's evidence passage; pages: every page holding the
  gold answer as a word): right anyway / refused / wrong. Here a refusal is the correct reply, and a
  wrong answer with a citation is the worst outcome: it looks grounded.

The quizzes are multiple choice, so a reply is judged by the choice it names (bench/judge.py):
each choice is scored by the share of its content words the reply says (all of "Mehmet Oz"
scores 1, "Dr. Oz" 0.5; "Brazilian" says Brazil, "USC" the University of Southern California,
"the Patriots" the New England Patriots), and the reply is right when the gold choice scores
highest, alone, at 0.5 or more; a tie is settled by the reply's first sentence.
Refusals: ours by its abstention flag, stock by "I don't know"-style phrases.

Ours is asked with the question's date as "as of" where the set has one (pages); stock has no
such input. Ours never gets more characters of context than stock (stock 4 x 1,000; ours
`retrieval.context_chars`, 2,000 by default). Indexes and stock vectors come from
quality.py's cache; stock replies are cached too.

    .venv/bin/python bench/answers.py [--questions 20] [--sets passages,pages] [--weeks 4]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from _common import (
    realtimeqa_available,
    run_ours,
    run_stock,
    stock_chain_over,
    stock_llm,
    summary,
    table,
)
from judge import judge
from quality import (
    CACHE_DIR,
    PAGES_DIR,
    STOCK_K,
    DevSet,
    our_index,
    pages_set,
    passages_set,
    stock_store,
)
from realtimeqa import STOCK_REFUSAL

from assistant import Assistant
from assistant.llms import make_llm
from assistant.retrieval import Filters
from assistant.settings import Settings


def evidence_of(dev: DevSet, q: dict) -> set[str]:
    """The urls removed for the "evidence removed" run."""
    if "urls" in q:
        return set(q["urls"])
    gold = " ".join(q["choices"][0].split())
    said = re.compile(rf"(?<!\w){re.escape(gold)}(?!\w)", re.IGNORECASE)
    return {r["url"] for r in dev.records if said.search(" ".join(r["text"].split()))}


def ask_ours(assistant: Assistant, q: dict) -> dict[str, Any]:
    filters = Filters(as_of=q["date"]) if q.get("date") else None
    run = run_ours(assistant, q["question"], filters)
    return {**run, "cited": bool(run["citations"])}


def ask_stock(chain: Any, q: dict) -> dict[str, Any]:
    run = run_stock(chain, q["question"])
    return {**run, "refused": bool(STOCK_REFUSAL.search(run["text"])), "cited": False}


def run_set(
    dev: DevSet, n: int, seed: int, ours_model: Any, stock_model: Any, work: Path
) -> dict[str, Any]:
    picked = random.Random(seed).sample(dev.questions, min(n, len(dev.questions)))
    cached, _ = our_index(dev, {})
    llm = Settings().llm
    ours = Assistant(cached.settings.model_copy(update={"llm": llm}), chat_model=ours_model)
    ours.embedder = cached.embedder
    stock = stock_chain_over(stock_store(dev), stock_model, STOCK_K)
    rows: list[dict[str, Any]] = []
    print(f"\n{dev.name}: {len(picked)} questions, evidence in the pool", flush=True)
    cache = StockCache()
    for i, q in enumerate(picked):
        key = f"{dev.name}|{n}|{seed}|with|{q['question']}"
        pair = _both(i, q, ours, partial(cache.ask, key, stock, q))
        rows.append({"question": q["question"], "gold": q["choices"][0], "with": pair})
        _progress(i, len(picked), q, pair)

    gone = set().union(*(evidence_of(dev, q) for q in picked))
    print(f"\n{dev.name}: the same questions, {len(gone)} evidence articles removed", flush=True)
    copy = work / dev.name
    shutil.copytree(Path(cached.settings.index_dir), copy / "index", symlinks=False)
    removed = Assistant(
        cached.settings.model_copy(update={"llm": llm, "index_dir": copy / "index"}),
        chat_model=ours_model,
    )
    removed.embedder = cached.embedder
    removed.remove_articles(sorted(gone))
    stock_removed = stock_chain_over(stock_store(dev, gone), stock_model, STOCK_K)
    for i, (q, row) in enumerate(zip(picked, rows, strict=True)):
        key = f"{dev.name}|{n}|{seed}|without|{q['question']}"
        pair = _both(i, q, removed, partial(cache.ask, key, stock_removed, q))
        row["without"] = pair
        _progress(i, len(picked), q, pair)
    for q, row in zip(picked, rows, strict=True):
        for when in ("with", "without"):
            for reply in row[when].values():
                reply["outcome"] = judge(
                    reply["text"], reply["refused"], q["options"], q["choices"][0]
                )
    return {"questions": len(picked), "removed": len(gone), "rows": rows}


class StockCache:
    """Stock replies kept across runs (bench/results/cache/answers-stock.json): the stock
    pipeline does not change with our code, so a re-run asks only ours."""

    path = CACHE_DIR / "answers-stock.json"

    def __init__(self) -> None:
        self.replies = json.loads(self.path.read_text()) if self.path.exists() else {}

    def ask(self, key: str, chain: Any, q: dict) -> dict[str, Any]:
        if key not in self.replies:
            self.replies[key] = ask_stock(chain, q)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.replies))
        return dict(self.replies[key])


def _both(i: int, q: dict, ours: Assistant, stock: Callable[[], dict]) -> dict[str, dict]:
    """Both replies; who goes first alternates (for latency: greedy decoding is deterministic)."""
    if i % 2:
        first = stock()
        return {"ours": ask_ours(ours, q), "stock": first}
    return {"ours": ask_ours(ours, q), "stock": stock()}


def _progress(i: int, n: int, q: dict, pair: dict[str, dict]) -> None:
    said = "".join(f"\n    {who}: {r['text']!r}" for who, r in pair.items())
    print(f"  {i + 1}/{n} {q['question']!r} (gold {q['choices'][0]!r}){said}", flush=True)


def tally(rows: list[dict], who: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for when in ("with", "without"):
        c = Counter(r[when][who]["outcome"] for r in rows)
        cited_wrong = sum(
            r[when][who]["outcome"] == "wrong" and r[when][who]["cited"] for r in rows
        )
        out[when] = {"right": c["right"], "refused": c["refused"], "wrong": c["wrong"]}
        out[when]["cited_wrong"] = cited_wrong
    firsts = [r["with"][who]["first"] or r["with"][who]["total"] for r in rows]
    out["first_p50"] = statistics.median(firsts)
    out["total_p50"] = statistics.median(r["with"][who]["total"] for r in rows)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=20, help="per set")
    parser.add_argument("--sets", default="passages,pages")
    parser.add_argument("--weeks", type=int, default=4, help="weeks of 2023 pages")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not realtimeqa_available() or not PAGES_DIR.exists():
        print("RealTime QA development data not found under ../shared: skipped")
        return 0
    settings = Settings()
    if settings.llm.backend != "llamacpp":
        print("this bench runs the bundled GGUF for both pipelines (llm.backend = llamacpp)")
        return 1
    ours_model, stock_model = make_llm(settings.llm), stock_llm(settings)
    makers = {"passages": passages_set, "pages": lambda: pages_set(args.weeks)}
    results: dict[str, Any] = {}
    table_rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sets.split(","):
            out = run_set(
                makers[name](), args.questions, args.seed, ours_model, stock_model, Path(tmp)
            )
            results[name] = out
            for who in ("ours", "stock"):
                t = tally(out["rows"], who)
                out[who] = t
                w, wo = t["with"], t["without"]
                table_rows.append(
                    [
                        f"{name}: {who}",
                        out["questions"],
                        f"{w['right']} / {w['refused']} / {w['wrong']}",
                        f"{wo['right']} / {wo['refused']} / {wo['wrong']}",
                        w["cited_wrong"] + wo["cited_wrong"],
                        t["first_p50"],
                        t["total_p50"],
                    ]
                )
    print()
    print(
        table(
            [
                "set: pipeline",
                "questions",
                "evidence in: right / refused / wrong",
                "evidence removed: right / refused / wrong",
                "cited wrong",
                "first token p50 s",
                "total p50 s",
            ],
            table_rows,
        )
    )
    summary(
        "answers",
        "; ".join(f"{r[0]} {r[2]} | {r[3]}" for r in table_rows),
        results,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
