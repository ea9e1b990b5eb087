"""Tune retrieval on RealTime QA (development data in ../shared; skipped when absent).

Pools the 2020 evidence passages as articles (one per distinct passage) and asks the 2020
questions: Hits@1/4/10 and MRR@10 for our pipeline (index + hybrid retrieval) against the stock
LangChain pipeline (RecursiveCharacterTextSplitter(1000, 200) -> HuggingFaceEmbeddings ->
FAISS.from_documents -> similarity_search), then sweeps what the settings can change:

- embedding models (--models): the int8 ONNX MiniLM must rank like the original to be adopted;
- fusion weights, rrf_k and k (re-ranking the same index, query vectors cached);
- chunk size (ChunkingSettings.max_chars) on weekly digests: each week's passages joined into
  one long article, so a passage must be found inside a longer text;
- the abstention threshold (RetrievalSettings.min_similarity): the best cosine score for
  questions that have their answer in the index against questions paired with a wrong corpus
  (the sample corpus, and the pool without the question's own passage);
- answer accuracy with the local LLM on N questions (--answers N), ours and the stock
  create_retrieval_chain + ChatLlamaCpp over the same GGUF; then the same questions once more
  over the pool without their evidence passages, where the right reply is mostly a refusal.

    .venv/bin/python bench/realtimeqa.py [--models a,b] [--answers 20] [--quick]
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from _common import (
    Timer,
    digests,
    percentile,
    realtimeqa,
    realtimeqa_available,
    run_stock,
    stock_chain,
    stock_chunks,
    stock_embeddings,
    stock_llm,
    summary,
    table,
    write_articles,
)

from assistant import Assistant
from assistant.embeddings import Embedder
from assistant.evaluation import (
    EvidenceIndex,
    QAItem,
    contains_answer,
    evaluate,
    first_hit,
    load_qa,
    retrieval_metrics,
)
from assistant.settings import PROJECT_DIR, SAMPLE_ARTICLES_DIR, Settings
from assistant.stores.faiss import IndexData
from assistant.types import IndexedArticle

SAMPLE_QA = PROJECT_DIR / "data" / "sample" / "qa.jsonl"


class CachedEmbedder(Embedder):
    """Remembers query vectors, so re-ranking sweeps embed each question once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cache: dict[str, Any] = {}

    def encode(self, texts: list[str], progress: bool = False) -> Any:
        if len(texts) != 1:
            return super().encode(texts, progress)
        if texts[0] not in self.cache:
            self.cache[texts[0]] = super().encode(texts)
        return self.cache[texts[0]]


def build(records: list[dict], where: Path, **overrides: Any) -> tuple[Assistant, float]:
    """Our index of `records` in `where`; returns the assistant and the build seconds."""
    assistant = Assistant(index_dir=where / "index", llm={"backend": "passages"}, **overrides)
    assistant.embedder = CachedEmbedder.from_settings(assistant.settings.embedding)
    with Timer() as t:
        report = assistant.build_index([write_articles(records, where / "articles")])
    assert not report.rejected, report.rejected[:3]
    return assistant, t.seconds


def items_of(questions: list[dict], by: str = "evidence") -> list[QAItem]:
    return [
        QAItem(
            q["question"],
            tuple(q["answers"]),
            tuple(q["evidence"] if by == "evidence" else [q["evidence_text"]]),
        )
        for q in questions
    ]


def ours(assistant: Assistant, items: list[QAItem], k: int = 10, **retrieval: Any) -> dict:
    if retrieval:
        settings = assistant.settings.model_dump()
        settings["retrieval"].update(retrieval)
        tuned = Assistant(Settings(**settings))
        tuned.embedder = assistant.embedder
        assistant = tuned
    report = evaluate(assistant, items, k=k, answers=False)
    m = dict(report.retrieval)
    m["scores"] = [r.top_score for r in report.records]
    m["ranks"] = [r.rank for r in report.records]
    return m


def stock(records: list[dict], questions: list[dict], k: int = 10, by: str = "url") -> dict:
    """The stock pipeline's ranks; a hit is a chunk of the evidence article (by url), or for
    digests a chunk holding at least half of the evidence passage (the rule ours gets)."""
    from langchain_community.vectorstores import FAISS

    chunks = stock_chunks(records)
    with Timer() as t:
        store = FAISS.from_documents(chunks, stock_embeddings())
    data = IndexData(
        {},
        {
            r["url"]: IndexedArticle(
                r["url"], r.get("title") or "", r["url"], "", 0, text=r["text"]
            )
            for r in records
        },
        [],
        None,
    )
    evidence_index = EvidenceIndex(data)
    ranks = []
    for q in questions:
        docs = store.similarity_search(q["question"], k=k)
        if by == "url":
            flags = [d.metadata["url"] in q["evidence"] for d in docs]
        else:
            ev = evidence_index.resolve(QAItem(q["question"], evidence=(q["evidence_text"],)))
            flags = [
                evidence_index.holds(
                    ev,
                    d.metadata["url"],
                    d.page_content,
                    d.metadata["start_index"],
                    d.metadata["start_index"] + len(d.page_content),
                )
                for d in docs
            ]
        ranks.append(first_hit(flags))
    m = retrieval_metrics(ranks)
    m["chunks"] = len(chunks)
    m["build_seconds"] = t.seconds
    m["ranks"] = ranks
    return m


def row(name: str, m: dict, extra: Any = "") -> list[Any]:
    return [name, m["hits@1"], m["hits@4"], m["hits@10"], m["mrr@10"], extra]


HEAD = ["pipeline", "Hits@1", "Hits@4", "Hits@10", "MRR@10", "note"]


def threshold_table(
    positives: dict[str, list[float]], negatives: dict[str, list[float]], max_frr: float = 0.02
):
    """For each threshold: answerable questions rejected, unanswerable ones rejected.

    Returns the rows, the threshold of best balanced accuracy (answerable vs wrong-corpus),
    and the highest threshold that rejects at most `max_frr` of answerable questions: the
    gate before the LLM should be conservative, since the LLM can still abstain.
    """
    rows, best, safe = [], None, None
    pos = [s for v in positives.values() for s in v]
    for t in [x / 100 for x in range(20, 62, 2)]:
        frr = sum(s < t for s in pos) / len(pos)
        rej = {name: sum(s < t for s in v) / len(v) for name, v in negatives.items()}
        rows.append([t, frr, *rej.values()])
        wrong = [v for name, v in rej.items() if name != "rtqa held out"]
        balanced = (1 - frr + sum(wrong) / len(wrong)) / 2
        if best is None or balanced > best[1]:
            best = (t, balanced, frr, rej)
        if frr <= max_frr:
            safe = (t, balanced, frr, rej)
    return rows, best, safe


# how the stock prompt's "say that you don't know" comes out
STOCK_REFUSAL = re.compile(
    r"\b(don't|do not|does not|doesn't) (know|contain|mention|provide|say|specify)|"
    r"\bnot (mentioned|provided|specified|stated)\b|\bno (information|mention)\b",
    re.IGNORECASE,
)


def _kind(text: str, answers: tuple[str, ...], refused: bool) -> str:
    if contains_answer(text, answers):
        return "right"
    return "refused" if refused else "other"


def stock_kind(text: str, answers: tuple[str, ...]) -> str:
    return _kind(text, answers, bool(STOCK_REFUSAL.search(text)))


def without_evidence(
    llm: Assistant, records: list[dict], asked: list[QAItem], where: Path, stock_model: Any
) -> tuple[dict, list[list[Any]]]:
    """Ask `asked` again over the pool minus their evidence passages.

    Another passage may still hold the answer (then a right answer counts); otherwise the
    reply should be a refusal, and any other answer is made up or off the mark.
    """
    gone = {ref for item in asked for ref in item.evidence}
    rest = [r for r in records if r["url"] not in gone]
    pool, _ = build(rest, where)
    ours_llm = Assistant(pool.settings.model_copy(update={"llm": llm.settings.llm}))
    ours_llm.embedder = llm.embedder
    counts = {"ours": Counter(), "stock": Counter()}
    replies: dict[str, list[str]] = {"ours": [], "stock": []}
    for item in asked:
        reply = ours_llm.ask(item.question)
        replies["ours"].append(reply.text)
        counts["ours"][_kind(reply.text, item.answers, reply.abstained)] += 1
    if stock_model is not None:
        chain = stock_chain(llm.settings, rest, stock_model)
        for item in asked:
            text = run_stock(chain, item.question)["text"]
            replies["stock"].append(text)
            counts["stock"][stock_kind(text, item.answers)] += 1
    rows = [[name, c["right"], c["refused"], c["other"]] for name, c in counts.items() if c]
    return {"passages_removed": len(gone), "counts": counts, "replies": replies}, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--years", default="2020", help="comma-separated: 2020,2021,2022")
    parser.add_argument(
        "--models",
        default=f"{Settings().embedding.model},all-MiniLM-L6-v2-int8",
        help="embedding models to compare (ours)",
    )
    parser.add_argument("--chunk-sizes", default="300,500,600,700,900,1200")
    parser.add_argument("--answers", type=int, default=0, help="answer N questions with the LLM")
    parser.add_argument("--quick", action="store_true", help="first model only, no sweeps")
    args = parser.parse_args(argv)
    years = tuple(args.years.split(","))
    if not realtimeqa_available(years):
        print("RealTime QA data not found under ../shared/eval; skipping.")
        return 0
    records, questions = realtimeqa(years)
    print(f"RealTime QA {args.years}: {len(records)} evidence passages, {len(questions)} questions")
    models = args.models.split(",")[: 1 if args.quick else None]
    items = items_of(questions)
    results: dict[str, Any] = {"passages": len(records), "questions": len(questions)}
    tmp = Path(tempfile.mkdtemp(prefix="bench-rtqa-"))

    # 1. ours (each model) vs stock on the passage pool
    rows = []
    assistants = {}
    for model in models:
        assistant, seconds = build(records, tmp / model, embedding={"model": model})
        assistants[model] = assistant
        m = ours(assistant, items)
        results[f"ours[{model}]"] = m
        rows.append(row(f"ours {model}", m, f"built in {seconds:.0f}s"))
        print(table(HEAD, rows[-1:]), flush=True)
    m = stock(records, questions)
    results["stock"] = m
    rows.append(row("stock LangChain", m, f"built in {m['build_seconds']:.0f}s"))
    print("\nRetrieval on the pooled evidence passages (one chunk per passage)")
    print(table(HEAD, rows))
    base = assistants[models[0]]
    ours_main = results[f"ours[{models[0]}]"]
    if len(models) > 1:
        a, b = (results[f"ours[{m}]"]["ranks"] for m in models[:2])
        same = sum(x == y for x, y in zip(a, b, strict=True)) / len(a)
        print(f"{models[1]} puts the evidence at the same rank as {models[0]} for {same:.1%}")
        results["same_rank_share"] = same

    # 2. fusion weights, rrf_k, fetch_k (same index, cached query vectors)
    if not args.quick:
        variants = {
            "fused 1:1 (default)": {},
            "dense only": {"bm25_weight": 0.0},
            "BM25 only": {"dense_weight": 0.0},
            "bm25 0.5 : dense 1": {"bm25_weight": 0.5},
            "bm25 1 : dense 0.5": {"dense_weight": 0.5},
            "bm25 0.7 : dense 1": {"bm25_weight": 0.7},
            "rrf_k 20": {"rrf_k": 20},
            "rrf_k 100": {"rrf_k": 100},
            "fetch_k 20": {"fetch_k": 20},
            "bm25 0.5, fetch_k 20": {"bm25_weight": 0.5, "fetch_k": 20},
            "rrf_k 20, fetch_k 20": {"rrf_k": 20, "fetch_k": 20},
            "bm25 0.5, rrf_k 20, fetch_k 20": {"bm25_weight": 0.5, "rrf_k": 20, "fetch_k": 20},
        }
        rows = []
        for name, change in variants.items():
            m = ours(base, items, **change)
            results[f"fusion[{name}]"] = m
            rows.append(row(name, m))
        print(f"\nFusion (ours, {models[0]})")
        print(table(HEAD, rows), flush=True)

    # 3. chunk size on weekly digests
    sizes = [int(s) for s in args.chunk_sizes.split(",") if s] if not args.quick else []
    if sizes:
        weeks = digests(records)
        by_week = {r["url"].rsplit("/", 1)[1]: r["url"] for r in weeks}
        digest_q = [dict(q, evidence=[by_week[q["week"]]]) for q in questions]
        text_items = items_of(digest_q, by="text")
        rows = []
        for size in sizes:
            assistant, seconds = build(
                weeks,
                tmp / f"digest-{size}",
                embedding={"model": models[0]},
                chunking={"max_chars": size},
            )
            data = assistant.index()
            mean = sum(len(c.text) for c in data.chunks) / len(data.chunks)
            m = ours(assistant, text_items)
            # the fusion change the passage pool favours must not hurt long articles
            m5 = ours(assistant, text_items, rrf_k=20, fetch_k=20)
            results[f"chunks[{size}]"] = {**m, "rrf_k_20_fetch_k_20": m5, "mean_chars": mean}
            rows.append(
                row(
                    f"ours max_chars={size}",
                    m,
                    f"{len(data.chunks)} chunks of {mean:.0f} chars; "
                    f"rrf_k=20, fetch_k=20: Hits@10 {m5['hits@10']:.3f} MRR {m5['mrr@10']:.3f}",
                )
            )
            print(table(HEAD, rows[-1:]), flush=True)
        m = stock(weeks, digest_q, by="text")
        results["chunks[stock]"] = m
        rows.append(row("stock 1000/200", m, f"{m['chunks']} chunks"))
        print(f"\nChunk size: {len(weeks)} weekly digests, a hit holds half the evidence passage")
        print(table(HEAD, rows), flush=True)

    # 4. abstention threshold: best cosine score, answerable vs wrong-corpus questions
    sample_items = load_qa(SAMPLE_QA)
    sample = Assistant(
        index_dir=tmp / "sample" / "index",
        llm={"backend": "passages"},
        embedding={"model": models[0]},
    )
    sample.embedder = base.embedder
    sample.build_index([SAMPLE_ARTICLES_DIR])
    sample_report = evaluate(sample, sample_items, k=10, answers=False)
    on_sample = {True: [], False: []}
    for item, r in zip(sample_items, sample_report.records, strict=True):
        on_sample[item.answerable].append(r.top_score or 0.0)
    rtqa_on_sample = [r.top_score or 0.0 for r in evaluate(sample, items, 10, False).records]
    sample_on_rtqa = [
        r.top_score or 0.0
        for r in evaluate(base, [i for i in sample_items if i.answerable], 10, False).records
    ]
    # leave-one-out: the best score in the pool once the question's own passage is removed
    import numpy as np

    data = base.index()
    vectors = data.all_vectors()
    url_of = np.array([data.articles[c.article_id].url for c in data.chunks])
    held_out = []
    for q in questions:
        scores = vectors @ base.embedder.encode([q["question"]])[0]
        scores[url_of == q["evidence"][0]] = -1
        held_out.append(float(scores.max()))
    positives = {"rtqa->own pool": ours_main["scores"], "sample answerable": on_sample[True]}
    negatives = {
        "rtqa->sample": rtqa_on_sample,
        "sample->rtqa": sample_on_rtqa,
        "sample unanswerable": on_sample[False],
        "rtqa held out": held_out,
    }
    print("\nBest cosine score of the retrieved passages (p5 / p50 / p95)")
    dist = [
        [name, len(v), percentile(v, 0.05), percentile(v, 0.5), percentile(v, 0.95)]
        for name, v in {**positives, **negatives}.items()
    ]
    print(table(["questions -> corpus", "n", "p5", "p50", "p95"], dist))
    rows, best, safe = threshold_table(positives, negatives)
    print("\nShare rejected at each min_similarity (answerable: false rejections)")
    print(table(["threshold", "answerable", *negatives], rows))
    results["threshold"] = {"distributions": dist, "table": rows, "best": best, "safe": safe}
    for label, pick in (("best balanced accuracy", best), ("highest with <= 2% FRR", safe)):
        print(
            f"{label}: min_similarity={pick[0]:.2f} (false rejection {pick[2]:.1%}; rejected: "
            + ", ".join(f"{name} {share:.1%}" for name, share in pick[3].items())
            + ")"
        )

    # 5. answers with the local LLM
    if args.answers:
        picked = random.Random(0).sample(range(len(items)), min(args.answers, len(items)))
        llm = Assistant(base.settings.model_copy(update={"llm": Settings().llm}))
        llm.embedder = base.embedder
        report = evaluate(llm, [items[i] for i in picked], k=10, answers=True)
        a = report.answers
        results["answers"] = a
        rows = [
            [
                f"ours ({llm.settings.llm.backend})",
                a["accuracy"],
                a["accuracy_answered"],
                a["citation_precision"],
                a["false_rejection_rate"],
                a["first_token_p50"],
                a["total_p50"],
            ]
        ]
        stock_model = None
        if llm.settings.llm.backend == "llamacpp":  # the stock chain runs the same GGUF
            stock_model = stock_llm(llm.settings)
            chain = stock_chain(llm.settings, records, stock_model)
            runs = [run_stock(chain, items[i].question) for i in picked]
            kinds = Counter(
                stock_kind(r["text"], items[i].answers) for r, i in zip(runs, picked, strict=True)
            )
            accuracy = kinds["right"] / len(runs)
            results["answers_stock"] = {"accuracy": accuracy, "runs": runs}
            rows.append(
                [
                    "stock LangChain",
                    accuracy,
                    kinds["right"] / max(len(runs) - kinds["refused"], 1),
                    None,  # it cites nothing
                    kinds["refused"] / len(runs),  # "I don't know" replies
                    statistics.median(r["first"] or r["total"] for r in runs),
                    statistics.median(r["total"] for r in runs),
                ]
            )
        print(f"\nAnswers on {len(picked)} questions (local LLM)")
        head = ["pipeline", "accuracy", "when answered", "citation precision", "false rejection"]
        print(table([*head, "first p50", "total p50"], rows))

        asked = [items[i] for i in picked]
        missing, rows = without_evidence(llm, records, asked, tmp / "missing", stock_model)
        results["answers_without_evidence"] = missing
        print(f"\nThe same {len(asked)} questions with their evidence passages removed")
        print(table(["pipeline", "right anyway", "refused", "other answer"], rows))

    stock_m = results["stock"]
    summary(
        "realtimeqa",
        f"{len(questions)} questions: ours Hits@1 {ours_main['hits@1']:.3f} MRR@10 "
        f"{ours_main['mrr@10']:.3f} vs stock {stock_m['hits@1']:.3f} / {stock_m['mrr@10']:.3f}; "
        f"min_similarity {safe[0]:.2f} (<= 2% false rejections)",
        {
            k: {kk: vv for kk, vv in v.items() if kk not in ("ranks", "scores")}
            if isinstance(v, dict)
            else v
            for k, v in results.items()
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
