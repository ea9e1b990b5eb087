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


def _looks_dependent(question: str) -> bool:
    """A question with a pronoun, or too short to stand alone, leans on the conversation."""
    return bool(_FOLLOW_UP.search(question)) or len(question.split()) < 5


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
        question = x["question"]
        pairs = history_pairs(x.get("history"))
        if not pairs:
            return question
        if llm is not None:
            rewrite = condense_template | llm | StrOutputParser()
            text = rewrite.invoke({"history": _format_history(pairs), "question": question})
            lines = text.strip().splitlines()
            rewritten = lines[0].strip() if lines else ""
            if rewritten and not _looks_dependent(rewritten):
                return rewritten
        # No model, or it left the reference unresolved: carry the previous question along,
        # which gives retrieval its words and lets the answering model resolve the reference.
        if _looks_dependent(question):
            return f"{question} (follow-up to: {pairs[-1][0]})"
        return question

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
