"""Does the answer reach the prompt? Whole chunks against sentence-level excerpts, per size of
prompt, ours beside stock LangChain at the same characters; no LLM involved.

The bundled model reads ~75 prompt tokens a second on 2 cores, so a first token within 5 s
leaves room for about 1,400 characters of sources. This bench asks, for both RealTime QA dev
sets, how often the gold answer is in the text handed to the model (case and whitespace
ignored) when the prompt is that small: whole chunks cut to the budget (`k` passages, best
first, as many as fit), or `k` passages each narrowed to its best run of sentences
(`excerpt` below). Stock's top 4 chunks, cut to the same number of characters per question,
is the equal-context baseline.

Settings are chosen by cross-validation over contiguous weeks (both sets, equal weight): each
fold takes the best setting of the other folds among those within `--budget` characters on
average, and is reported with it.

    .venv/bin/python bench/context.py [--budget 1500] [--folds 4] [--weeks 4]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import replace
from typing import Any

from _common import realtimeqa_available, summary, table
from quality import (
    PAGES_DIR,
    DevSet,
    _Fixed,
    folds_of,
    our_index,
    pages_set,
    passages_set,
    stock_run,
)

from assistant.chunking import sentence_spans
from assistant.retrieval import Filters, gather, rank
from assistant.timeframe import parse_day, timeframe
from assistant.types import Chunk, Passage

# name -> (k, excerpt chars or 0 for whole chunks, budget in characters)
SETTINGS: dict[str, tuple[int, int, int]] = {
    "chunks k5 4000 (today)": (5, 0, 4000),
    "chunks k3 1500": (3, 0, 1500),
    "chunks k5 1500": (5, 0, 1500),
    **{
        f"excerpts k{k} {chars}": (k, chars, 4000)
        for k in (4, 5, 6, 8)
        for chars in (200, 250, 300, 400)
    },
}


def excerpt(embedder: Any, question: str, passages: list[Passage], max_chars: int) -> list[Passage]:
    """Each passage narrowed to its best run of sentences of at most `max_chars` characters
    (a single sentence longer than that is kept whole); shorter passages are left alone."""
    spans = [
        sentence_spans(p.chunk.text) if len(p.chunk.text) > max_chars else [] for p in passages
    ]
    sentences = [p.chunk.text[a:b] for p, s in zip(passages, spans, strict=True) for a, b in s]
    if not sentences:
        return passages
    vectors = embedder.encode([question, *sentences])
    scores = (vectors[1:] @ vectors[0]).tolist()
    narrowed, offset = [], 0
    for passage, own in zip(passages, spans, strict=True):
        if len(own) > 1:
            a, b = _window(own, scores[offset : offset + len(own)], max_chars)
            passage = replace(passage, chunk=_slice(passage.chunk, a, b))
        narrowed.append(passage)
        offset += len(own)
    return narrowed


def _window(spans: list[tuple[int, int]], scores: list[float], max_chars: int) -> tuple[int, int]:
    """Grow from the best sentence towards the better-scoring neighbour while it fits."""
    best = max(range(len(spans)), key=lambda i: scores[i])
    first = last = best
    while True:
        options = [
            i
            for i in (first - 1, last + 1)
            if 0 <= i < len(spans)
            and max(spans[last][1], spans[i][1]) - min(spans[first][0], spans[i][0]) <= max_chars
        ]
        if not options:
            return spans[first][0], spans[last][1]
        pick = max(options, key=lambda i: scores[i])
        first, last = min(first, pick), max(last, pick)


def _slice(chunk: Chunk, a: int, b: int) -> Chunk:
    """The chunk's text[a:b], with its offsets in the article (the chunk id is kept, so the
    excerpt still counts as that chunk when turns and rankings are merged)."""
    return replace(chunk, text=chunk.text[a:b], start=chunk.start + a, end=chunk.start + b)


class _Cached:
    """The embedder with a memory: the same sentences recur across settings."""

    def __init__(self, embedder: Any) -> None:
        self.embedder, self.seen = embedder, {}

    def encode(self, texts: list[str], progress: bool = False) -> Any:
        import numpy as np

        todo = [t for t in dict.fromkeys(texts) if t not in self.seen]
        if todo:
            self.seen.update(zip(todo, self.embedder.encode(todo), strict=True))
        return np.stack([self.seen[t] for t in texts])


def _norm(text: str) -> str:
    return "".join(text.split()).lower()


def _gold(q: dict) -> str:
    return _norm(q["choices"][0])


def contexts(dev: DevSet) -> dict[str, list[str]]:
    """Per setting, per question: the source text handed to the model."""
    assistant, _ = our_index(dev, {})
    data, base = assistant.index(), assistant.settings.retrieval
    cached = _Cached(assistant.embedder)
    out: dict[str, list[str]] = {name: [] for name in SETTINGS}
    vectors = assistant.embedder.encode([q["question"] for q in dev.questions])
    for q, query in zip(dev.questions, vectors, strict=True):
        day = parse_day(q["date"])
        found = gather(data, _Fixed(query), q["question"], base.fetch_k, Filters(as_of=q["date"]))
        when = timeframe(q["question"], day) if day else None
        for name, (k, chars, budget) in SETTINGS.items():
            passages: list[Passage] = rank(data, found, base, k, when, budget, assistant.embedder)
            if chars:
                passages = excerpt(cached, q["question"], passages, chars)
            out[name].append(" ".join(p.chunk.text for p in passages))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=1500, help="most context chars on average")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--weeks", type=int, default=4, help="pages: first N weeks")
    args = parser.parse_args(argv)
    sets = []
    if realtimeqa_available(("2020",)):
        sets.append(passages_set())
    if PAGES_DIR.is_dir():
        sets.append(pages_set(args.weeks))
    if not sets:
        print("RealTime QA data not found under ../shared/eval; skipping.")
        return 0

    found: dict[str, dict[str, list[bool]]] = {}  # set -> setting -> answer in context
    chars: dict[str, dict[str, list[int]]] = {}
    for dev in sets:
        ours = contexts(dev)
        stock = [" ".join(text for _, text in run[:4]) for run in stock_run(dev)]
        found[dev.name], chars[dev.name] = {}, {}
        for name, texts in ours.items():
            pairs = zip(dev.questions, texts, strict=True)
            found[dev.name][name] = [_gold(q) in _norm(t) for q, t in pairs]
            chars[dev.name][name] = [len(t) for t in texts]
            found[dev.name][f"stock at {name}"] = [
                _gold(q) in _norm(s[: len(t)])
                for q, t, s in zip(dev.questions, texts, stock, strict=True)
            ]

    rows = []
    for dev in sets:
        for name in SETTINGS:
            rows.append(
                [
                    name,
                    dev.name,
                    statistics.mean(found[dev.name][name]),
                    statistics.mean(found[dev.name][f"stock at {name}"]),
                    statistics.mean(chars[dev.name][name]),
                ]
            )
    head = ["setting", "set", "answer in ctx", "stock, same chars", "ctx chars"]
    print("\nEvery setting on every question (information only: not how settings are chosen)")
    print(table(head, rows))

    folds = {dev.name: folds_of(dev, args.folds) for dev in sets}
    held: dict[str, list[tuple[bool, bool, int]]] = {dev.name: [] for dev in sets}
    print(f"\nChosen per fold (mean ctx chars <= {args.budget} on the training folds):")
    for f in range(args.folds):

        def train(name: str, f: int = f) -> tuple[bool, float]:
            rates, sizes = [], []
            for dev in sets:
                rows_ = [i for g, b in enumerate(folds[dev.name]) if g != f for i in b]
                rates.append(statistics.mean(found[dev.name][name][i] for i in rows_))
                sizes.append(statistics.mean(chars[dev.name][name][i] for i in rows_))
            return max(sizes) <= args.budget, statistics.mean(rates)

        best = max(SETTINGS, key=train)
        print(f"  fold {f}: {best} (train answer-in-ctx {train(best)[1]:.3f})")
        for dev in sets:
            for i in folds[dev.name][f] if f < len(folds[dev.name]) else []:
                held[dev.name].append(
                    (
                        found[dev.name][best][i],
                        found[dev.name][f"stock at {best}"][i],
                        chars[dev.name][best][i],
                    )
                )
    rows = [
        [
            dev.name,
            len(held[dev.name]),
            statistics.mean(h[0] for h in held[dev.name]),
            statistics.mean(h[1] for h in held[dev.name]),
            statistics.mean(h[2] for h in held[dev.name]),
        ]
        for dev in sets
    ]
    print("\nHeld-out folds, as chosen")
    head = ["set", "questions", "ours: answer in ctx", "stock, same chars", "ctx chars"]
    print(table(head, rows))
    summary("context", table(["set", "questions", "ours", "stock", "chars"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
