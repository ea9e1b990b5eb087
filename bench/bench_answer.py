"""End-to-end answer latency with the local LLM: ours vs a stock LangChain RAG chain.

Both answer the same questions over the sample corpus with the same GGUF model
(`assistant.models.local_model_path()`), at most 5 passages of context (ours within
`retrieval.context_chars`), greedy decoding, same max_tokens and threads:

- ours: `Assistant.stream` (hybrid retrieval, cited-answer prompt with worked examples);
- stock: `create_retrieval_chain(retriever, create_stuff_documents_chain(ChatLlamaCpp, prompt))`
  from langchain_classic over a stock FAISS store (RecursiveCharacterTextSplitter(1000, 200),
  HuggingFaceEmbeddings) with the prompt of LangChain's RAG tutorial.

Time to first answer token and total, per question; the order alternates per question and a
warm-up question is answered first by each (model load is not counted).

    .venv/bin/python bench/bench_answer.py [--questions 5] [--backend llamacpp]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import run_ours, run_stock, sample_corpus, stock_chain, summary, table

from assistant import Assistant, Settings
from assistant.evaluation import contains_answer, load_qa
from assistant.settings import PROJECT_DIR, SAMPLE_ARTICLES_DIR

QUESTIONS = [0, 4, 6, 10, 15]  # of data/sample/qa.jsonl: numbers, names, dates, places
WARM_UP = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=5)
    parser.add_argument("--backend", default=None, help="our LLM backend (default: settings)")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {"llm": {"backend": args.backend}} if args.backend else {}
    settings = Settings(**overrides)
    if settings.llm.backend != "llamacpp":
        print("the stock chain runs the local GGUF: comparing needs llm.backend=llamacpp")
        return 0
    items = load_qa(PROJECT_DIR / "data" / "sample" / "qa.jsonl")
    questions = [items[i] for i in QUESTIONS[: args.questions]]
    tmp = Path(tempfile.mkdtemp(prefix="bench-answer-"))
    ours = Assistant(settings.model_copy(update={"index_dir": tmp / "index"}))
    ours.build_index([SAMPLE_ARTICLES_DIR])
    stock = stock_chain(settings, sample_corpus())
    print(f"warming up (model load) on: {items[WARM_UP].question}", flush=True)
    run_ours(ours, items[WARM_UP].question)
    run_stock(stock, items[WARM_UP].question)

    results: dict[str, list[dict]] = {"ours": [], "stock": []}
    for n, item in enumerate(questions):
        order = [("ours", run_ours, ours), ("stock", run_stock, stock)]
        for name, run, target in order if n % 2 == 0 else order[::-1]:
            r = run(target, item.question)
            r["correct"] = contains_answer(r["text"], item.answers)
            results[name].append(r)
            print(
                f"  {name:5} first {r['first'] or 0:5.2f}s total {r['total']:5.2f}s "
                f"{'right' if r['correct'] else 'wrong'}: {r['text'][:90]!r}",
                flush=True,
            )
    rows = []
    for name, rs in results.items():
        rows.append(
            [
                name,
                len(rs),
                statistics.median(r["first"] or r["total"] for r in rs),
                max(r["first"] or r["total"] for r in rs),
                statistics.median(r["total"] for r in rs),
                max(r["total"] for r in rs),
                statistics.fmean(len(r["text"]) for r in rs),
                sum(r["correct"] for r in rs),
                sum(r["citations"] > 0 for r in rs),
            ]
        )
    print()
    print(
        table(
            [
                "pipeline",
                "questions",
                "first p50 s",
                "first max s",
                "total p50 s",
                "total max s",
                "chars",
                "right",
                "cited",
            ],
            rows,
        )
    )
    o, s = rows
    summary(
        "bench_answer",
        f"{len(questions)} questions, local LLM: first token p50 ours {o[2]:.2f}s vs stock "
        f"{s[2]:.2f}s ({s[2] / o[2]:.2f}x), total p50 {o[4]:.2f}s vs {s[4]:.2f}s "
        f"({s[4] / o[4]:.2f}x); right {o[7]}/{len(questions)} vs {s[7]}/{len(questions)}",
        {"ours": results["ours"], "stock": results["stock"]},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
