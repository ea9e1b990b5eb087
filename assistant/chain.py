"""The LangChain retrieval chain: condense the question, retrieve, then answer or abstain.

Built from runnables so `.stream()` yields the retrieved passages before the first token:
each `RunnablePassthrough.assign` step emits its key as soon as it has it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough

from assistant.citations import CANNOT_ANSWER
from assistant.prompts import answer_prompt, condense_prompt, format_sources, numbers_list
from assistant.types import Passage

_FOLLOW_UP = re.compile(
    r"\b(it|its|they|them|their|he|him|his|she|her|that|this|those|these|there|then)\b", re.I
)

History = Sequence[Any]
Retrieve = Callable[[str, int | None, Any], list[Passage]]
Extract = Callable[[str, list[Passage]], str]


def history_pairs(history: History | None) -> list[tuple[str, str]]:
    """Accept (user, assistant) pairs or role/content dicts (Gradio's messages format)."""
    pairs: list[tuple[str, str]] = []
    pending: str | None = None
    for turn in history or ():
        if isinstance(turn, dict):
            content = turn.get("content")
            if isinstance(content, list):  # Gradio may wrap text in content parts
                content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            content = str(content or "")
            if turn.get("role") == "user":
                pending = content
            elif turn.get("role") == "assistant" and pending is not None:
                pairs.append((pending, content))
                pending = None
        else:
            user, reply = turn
            pairs.append((str(user), str(reply or "")))
    return pairs


def _format_history(pairs: list[tuple[str, str]], turns: int = 3) -> str:
    lines = []
    for user, reply in pairs[-turns:]:
        lines += [f"User: {user}", f"Assistant: {reply[:600]}"]
    return "\n".join(lines)


def build_chain(
    llm: BaseChatModel | None,
    retrieve: Retrieve,
    prompts_dir: Path,
    min_similarity: float,
    extract: Extract,
) -> Runnable:
    """Input: {question, history, k, filters}. Output keys: standalone, passages, answer (raw)."""
    answer_template = answer_prompt(prompts_dir)
    condense_template = condense_prompt(prompts_dir)

    def standalone(x: dict[str, Any]) -> str:
        pairs = history_pairs(x.get("history"))
        if not pairs:
            return x["question"]
        if llm is None:  # no model to rewrite with: a follow-up borrows the last question's words
            question = x["question"]
            follow_up = _FOLLOW_UP.search(question) or len(question.split()) < 5
            return f"{pairs[-1][0]} {question}" if follow_up else question
        rewrite = condense_template | llm | StrOutputParser()
        text = rewrite.invoke({"history": _format_history(pairs), "question": x["question"]})
        return text.strip().splitlines()[0].strip() if text.strip() else x["question"]

    def find(x: dict[str, Any]) -> list[Passage]:
        return retrieve(x["standalone"], x.get("k"), x.get("filters"))

    def generate(x: dict[str, Any]) -> Runnable | str:
        passages: list[Passage] = x["passages"]
        if not passages or max(p.score for p in passages) < min_similarity:
            return CANNOT_ANSWER
        if llm is None:
            return extract(x["standalone"], passages)
        inputs = RunnableLambda(
            lambda y: {
                "sources": format_sources(y["passages"]),
                "numbers": numbers_list(len(y["passages"])),
                "question": y["standalone"],
            }
        )
        return inputs | answer_template | llm | StrOutputParser()

    return (
        RunnablePassthrough.assign(standalone=RunnableLambda(standalone))
        | RunnablePassthrough.assign(passages=RunnableLambda(find))
        | RunnablePassthrough.assign(answer=RunnableLambda(generate))
    ).with_config(run_name="news_answer")
