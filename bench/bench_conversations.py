"""Multi-turn conversations with the local LLM: ours vs LangChain's stock history-aware chain.

Both answer every conversation of `data/sample/conversations.jsonl` turn by turn over the
sample corpus with the same GGUF model, greedy decoding, the same max_tokens and 5 passages:

- ours: `Assistant.stream` with the earlier answers as history (rewrite with the previous
  question and answer, retrieval fused over the rewrite and the follow-up as asked, the previous
  turn's cited passages carried over, cited answers);
- stock: `create_history_aware_retriever` (the contextualize prompt of LangChain's
  conversational RAG tutorial) + `create_retrieval_chain(create_stuff_documents_chain)` from
  langchain_classic with `ChatLlamaCpp`, over a stock FAISS store (RecursiveCharacterTextSplitter
  (1000, 200), HuggingFaceEmbeddings), its own answers as `chat_history`.

Each turn is right / refused / wrong by the rules of `assistant eval` (an unanswerable turn is
right when refused; the stock chain's "I don't know" replies count as refusals).

    .venv/bin/python bench/bench_conversations.py [--limit N] [--only ours|stock]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import STOCK_SYSTEM, sample_corpus, stock_llm, stock_store, summary, table
from realtimeqa import STOCK_REFUSAL

from assistant import Assistant, Settings
from assistant.evaluation import (
    Conversation,
    TurnRecord,
    contains_answer,
    conversation_metrics,
    evaluate_conversations,
    load_conversations,
    normalise,
    outcome,
)
from assistant.settings import PROJECT_DIR, SAMPLE_ARTICLES_DIR

CONVERSATIONS = PROJECT_DIR / "data" / "sample" / "conversations.jsonl"

# LangChain's conversational RAG tutorial, word for word
CONTEXTUALIZE = (
    "Given a chat history and the latest user question which might reference context in the "
    "chat history, formulate a standalone question which can be understood without the chat "
    "history. Do NOT answer the question, just reformulate it if needed and otherwise return "
    "it as is."
)


def stock_history_chain(settings: Settings, llm: Any) -> Any:
    from langchain_classic.chains import create_history_aware_retriever, create_retrieval_chain
    from langchain_classic.chains.combine_documents import create_stuff_documents_chain
    from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

    def prompt(system: str) -> ChatPromptTemplate:
        return ChatPromptTemplate.from_messages(
            [("system", system), MessagesPlaceholder("chat_history"), ("human", "{input}")]
        )

    retriever = stock_store(sample_corpus()).as_retriever(search_kwargs={"k": settings.retrieval.k})
    history_aware = create_history_aware_retriever(llm, retriever, prompt(CONTEXTUALIZE))
    return create_retrieval_chain(
        history_aware, create_stuff_documents_chain(llm, prompt(STOCK_SYSTEM))
    )


def run_stock(chain: Any, conversations: list[Conversation]) -> list[TurnRecord]:
    from langchain_core.messages import AIMessage, HumanMessage

    records = []
    for conversation in conversations:
        history: list[Any] = []
        for number, item in enumerate(conversation.turns, start=1):
            started = time.perf_counter()
            first, text, docs = None, "", []
            for chunk in chain.stream({"input": item.question, "chat_history": history}):
                if chunk.get("context"):
                    docs = chunk["context"]
                if chunk.get("answer"):
                    first = first or time.perf_counter() - started
                    text += chunk["answer"]
            record = TurnRecord(conversation.id, number, item.question, item.answerable, text)
            record.total_seconds = time.perf_counter() - started
            record.first_token_seconds = first
            answered = item.answerable and contains_answer(text, item.answers)
            record.outcome = outcome(item, text, bool(STOCK_REFUSAL.search(text)) and not answered)
            record.correct = record.outcome == ("right" if item.answerable else "refused")
            if item.answerable and item.evidence:
                record.evidence_in_context = any(
                    normalise(e) in normalise(d.page_content) for d in docs for e in item.evidence
                )
            records.append(record)
            print(
                f"  stock {conversation.id} {number}: {record.outcome:7} {text[:90]!r}", flush=True
            )
            history += [HumanMessage(item.question), AIMessage(text)]
    return records


def row(name: str, m: dict[str, Any]) -> list[Any]:
    def pct(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.0f}%"

    return [
        name,
        pct(m["accuracy"]),
        pct(m["first_turn_accuracy"]),
        pct(m["follow_up_accuracy"]),
        f"{m['answerable_right']} / {m['answerable_refused']} / {m['answerable_wrong']}",
        f"{pct(m['rejection_rate'])} of {m['unanswerable']}",
        pct(m["citation_precision"]),
        pct(m["evidence_in_context"]),
        m["total_p50"],
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="only the first N conversations")
    parser.add_argument("--only", choices=["ours", "stock"])
    args = parser.parse_args(argv)
    settings = Settings()
    if settings.llm.backend != "llamacpp":
        print("the stock chain runs the local GGUF: comparing needs llm.backend=llamacpp")
        return 0
    conversations = load_conversations(CONVERSATIONS)[: args.limit]
    turns = sum(len(c.turns) for c in conversations)
    print(f"{len(conversations)} conversations, {turns} turns", flush=True)
    metrics: dict[str, dict[str, Any]] = {}
    records: dict[str, list[TurnRecord]] = {}
    if args.only != "stock":
        tmp = Path(tempfile.mkdtemp(prefix="bench-conversations-"))
        ours = Assistant(settings.model_copy(update={"index_dir": tmp / "index"}))
        ours.build_index([SAMPLE_ARTICLES_DIR])
        records["ours"] = []
        for conversation in conversations:  # one at a time, to print each as it is scored
            for r in evaluate_conversations(ours, [conversation]).records:
                print(f"  ours  {r.conversation} {r.turn}: {r.outcome:7} {r.answer[:90]!r}")
                records["ours"].append(r)
        metrics["ours"] = conversation_metrics(records["ours"])
    if args.only != "ours":
        chain = stock_history_chain(settings, stock_llm(settings))
        records["stock"] = run_stock(chain, conversations)
        metrics["stock"] = conversation_metrics(records["stock"])
    headers = [
        "pipeline",
        "turns right",
        "first turns",
        "follow-ups",
        "answerable right/refused/wrong",
        "unanswerable refused",
        "citation precision",
        "evidence read",
        "total p50 s",
    ]
    print()
    print(table(headers, [row(name, m) for name, m in metrics.items()]))
    text = ", ".join(
        f"{name} {100 * m['accuracy']:.0f}% of {m['turns']} turns right "
        f"(follow-ups {100 * m['follow_up_accuracy']:.0f}%, unanswerable refused "
        f"{100 * (m['rejection_rate'] or 0):.0f}%)"
        for name, m in metrics.items()
    )
    summary(
        "bench_conversations",
        text,
        {
            "metrics": metrics,
            "turns": {name: [vars(r) for r in rs] for name, rs in records.items()},
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
