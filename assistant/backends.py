"""The LLM backends, in one table that the settings, the CLI, the UI and `make_llm` all read.

Adding a backend is one entry here: what it is, how the UI names it, and how its chat model is
built. Each builder imports its own library, so this module stays cheap to import (the settings
do) and a backend's library is needed only when that backend is used.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from assistant.errors import LLMError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from assistant.settings import LLMSettings


@dataclass(frozen=True)
class Backend:
    help: str
    build: Callable[[LLMSettings], BaseChatModel | None]  # None: answer without an LLM
    label: Callable[[LLMSettings], str]  # shown (read-only) in the UI's Search settings


def _local(llm: LLMSettings) -> BaseChatModel:
    from assistant.llms import LocalChatModel
    from assistant.models import local_model_path

    return LocalChatModel(model_path=llm.model or str(local_model_path()), options=llm)


def _local_label(llm: LLMSettings) -> str:
    from assistant.models import LOCAL_MODEL_NAME

    return f"llamacpp (local): {Path(llm.model).name if llm.model else LOCAL_MODEL_NAME}"


def _model_name(llm: LLMSettings) -> str:
    if not llm.model:
        raise LLMError(f"llm.backend={llm.backend} needs llm.model (the model name on the server)")
    return llm.model


def _openai(llm: LLMSettings) -> BaseChatModel:
    model = _model_name(llm)
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise LLMError("the openai backend needs: pip install langchain-openai") from exc
    return ChatOpenAI(
        model=model,
        base_url=llm.base_url,
        api_key=SecretStr(llm.api_key or os.environ.get("OPENAI_API_KEY") or "not-needed"),
        temperature=llm.temperature,
        max_completion_tokens=llm.max_tokens,  # the field max_tokens, by its alias
        streaming=True,
    )


def _ollama(llm: LLMSettings) -> BaseChatModel:
    model = _model_name(llm)
    try:
        from langchain_ollama import ChatOllama
    except ImportError as exc:
        raise LLMError("the ollama backend needs: pip install langchain-ollama") from exc
    return ChatOllama(
        model=model,
        base_url=llm.base_url or "http://127.0.0.1:11434",
        temperature=llm.temperature,
        num_predict=llm.max_tokens,
    )


def _server_label(llm: LLMSettings) -> str:
    where = f" at {llm.base_url}" if llm.base_url else ""
    return f"{llm.backend}: {llm.model or '(no model set)'}{where}"


BACKENDS: dict[str, Backend] = {
    "llamacpp": Backend(
        "the bundled local model (llm.model: another GGUF file)", _local, _local_label
    ),
    "openai": Backend(
        "an OpenAI-compatible server (llm.model, llm.base_url, llm.api_key)", _openai, _server_label
    ),
    "ollama": Backend("an Ollama server (llm.model, llm.base_url)", _ollama, _server_label),
    "passages": Backend(
        "no LLM: the answer quotes the best-matching sentences, each cited",
        lambda llm: None,
        lambda llm: "passages (no LLM: answers quote the best-matching sentences)",
    ),
}
