"""Prompt templates live as files in `prompts/`; this module loads them and checks them.

A template that lacks a variable the code fills in (or names one it does not) is refused at
load time, so a bad edit fails loudly instead of sending the model a broken prompt.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from langchain_core.prompts import ChatPromptTemplate

from assistant.citations import CANNOT_ANSWER
from assistant.errors import PromptError
from assistant.types import Passage

# template file -> variables it must use
TEMPLATES = {
    "answer_system.txt": {"cannot_answer"},
    "answer_user.txt": {"sources", "numbers", "question"},
    "condense_system.txt": set(),
    "condense_user.txt": {"history", "question"},
}


def load_template(folder: Path, name: str) -> str:
    path = folder / name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PromptError(f"prompt template {path} cannot be read: {exc}") from exc
    try:
        found = {f for _, f, _, _ in string.Formatter().parse(text) if f}
    except ValueError as exc:
        raise PromptError(f"prompt template {path} has a broken placeholder: {exc}") from exc
    wanted = TEMPLATES[name]
    if found != wanted:
        raise PromptError(
            f"prompt template {path} must use exactly the variables {sorted(wanted)}; "
            f"it uses {sorted(found)}. Write literal braces as {{{{ and }}}}."
        )
    return text


# Chat-template control tokens (ChatML, Llama 2/3, Mistral, Gemma). llama.cpp reads them in
# message text as real tokens, so an article holding them could open a system turn.
_CONTROL_TOKENS = re.compile(
    r"<\|[^|<>\s]{1,40}\|>|</?s>|\[/?INST\]|<</?SYS>>|<(?:start|end)_of_turn>", re.I
)
_MARKER = re.compile(r"\[(\d{1,3})\]")


def as_data(text: str) -> str:
    """Untrusted article text as it goes into a prompt: on one line, so nothing in it starts a
    line that reads as a source header, "Question:" or a dialogue turn; its own `[n]` written
    `(n)`, so it cannot pass for one of our source numbers; chat-template tokens removed."""
    text = _CONTROL_TOKENS.sub(" ", text)
    return " ".join(_MARKER.sub(r"(\1)", text).split())


def format_sources(sources: Sequence[Passage | Mapping[str, Any]]) -> str:
    """Number the passages for the prompt: `[n] title (date)`, then the passage on one line.

    Article text (title included) is data: see `as_data`.
    """
    blocks = []
    for number, item in enumerate(sources, start=1):
        text = item.chunk.text if isinstance(item, Passage) else item["text"]
        blocks.append(f"[{number}] {heading(item)}\n{as_data(text)}")
    return "\n\n".join(blocks)


def heading(source: Passage | Mapping[str, Any]) -> str:
    """A source's heading in the prompt: `title (date)`."""
    if isinstance(source, Passage):
        title, date = source.title, source.date
    else:
        title, date = source["title"], source.get("date")
    return as_data(title) + (f" ({as_data(date)})" if date else "")


def numbers_list(count: int) -> str:
    return ", ".join(f"[{n}]" for n in range(1, count + 1)) if count else "none"


def answer_prompt(folder: Path, second_try: bool = False) -> ChatPromptTemplate:
    """System rules, worked examples (one cited answer, one refusal), then the question.

    `second_try`: also the examples marked so (an answer the source states in passing, "the
    58-year-old director" for an age), for the last try after a refusal. Shown every time,
    they cost the small model as many answers as they won."""
    system = load_template(folder, "answer_system.txt")
    user = load_template(folder, "answer_user.txt")
    messages: list[tuple[str, str]] = [("system", system)]
    for example in _examples(folder, "answer_examples.json", ("sources", "question", "answer")):
        if example.get("second_try") and not second_try:
            continue
        rendered = user.format(
            sources=format_sources(example["sources"]),
            numbers=numbers_list(len(example["sources"])),
            question=example["question"],
        )
        reply = example["answer"].replace("{cannot_answer}", CANNOT_ANSWER)
        messages += [("human", _escape(rendered)), ("ai", _escape(reply))]
    messages.append(("human", user))
    return ChatPromptTemplate.from_messages(messages).partial(cannot_answer=CANNOT_ANSWER)


def condense_prompt(folder: Path) -> ChatPromptTemplate:
    """Rules, two worked rewrites (one resolves a pronoun, one is left alone), the follow-up."""
    user = load_template(folder, "condense_user.txt")
    messages: list[tuple[str, str]] = [("system", load_template(folder, "condense_system.txt"))]
    for example in _examples(
        folder, "condense_examples.json", ("history", "question", "rewritten")
    ):
        rendered = user.format(history=example["history"], question=example["question"])
        messages += [("human", _escape(rendered)), ("ai", _escape(example["rewritten"]))]
    messages.append(("human", user))
    return ChatPromptTemplate.from_messages(messages)


def _examples(folder: Path, name: str, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    path = folder / name
    try:
        examples = json.loads(path.read_text(encoding="utf-8"))
        missing = [(i, k) for i, ex in enumerate(examples) for k in keys if k not in ex]
    except (OSError, ValueError, TypeError) as exc:
        raise PromptError(
            f"{path} must be a JSON list of objects with {', '.join(keys)}: {exc}"
        ) from exc
    if missing:
        raise PromptError(f"{path}: example {missing[0][0]} lacks the field {missing[0][1]!r}")
    return examples


def _escape(text: str) -> str:
    """Example text is literal: keep its braces out of template formatting."""
    return text.replace("{", "{{").replace("}", "}}")
