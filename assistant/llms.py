"""The local llama.cpp chat model, and `make_llm`, which builds whichever backend the settings
name (the backends themselves are listed in `backends.py`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import closing
from functools import lru_cache
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field

from assistant.errors import LLMError
from assistant.settings import LLMSettings
from assistant.turns import current_cancel, model_turns

log = logging.getLogger(__name__)

_ROLES = {"human": "user", "ai": "assistant", "system": "system"}


def _prompt_states(entries: int) -> Any:
    """llama.cpp's RAM cache of model states, bounded by entries rather than bytes.

    A follow-up alternates two prompts, the rewrite and the answer, each opening with ~450
    tokens of instructions and worked examples. llama.cpp keeps only the last prompt in its
    context, so without saved states each call reads its instructions again (~6 s on 2
    cores). The cache's byte capacity counts only llama.cpp's part of a state, so entries
    are capped by count.
    """
    from llama_cpp import LlamaRAMCache

    class PromptStates(LlamaRAMCache):
        def __setitem__(self, key: Any, value: Any) -> None:
            if value is None:  # not saved: see _save_openings_and_sources
                return
            super().__setitem__(key, value)
            while len(self.cache_state) > entries:
                self.cache_state.popitem(last=False)

    return PromptStates()


@lru_cache(maxsize=2)
def _llama(path: str, n_ctx: int, threads: int | None, states: int) -> Any:
    """One loaded model per process, shared by every chat (it takes ~2 GB of memory), with
    up to `states` saved prompt states."""
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise LLMError(
            "the local model needs llama-cpp-python: pip install llama-cpp-python "
            "(or run `make setup`), or set llm.backend to openai, ollama or passages"
        ) from exc
    if not os.path.isfile(path):
        raise LLMError(
            f"llm.model: the GGUF file {path} does not exist; give the path of a .gguf file, "
            "or leave llm.model unset for the bundled model"
        )
    log.info("loading local model %s", path)
    try:
        llama = Llama(
            model_path=path,
            n_ctx=n_ctx,
            n_threads=threads or os.cpu_count() or 2,
            n_batch=512,
            verbose=False,
        )
    except ValueError as exc:  # llama.cpp could not read it
        raise LLMError(
            f"llm.model: {path} is not a model llama.cpp can load ({exc}); give a .gguf file"
        ) from exc
    _drop_logits_buffer(llama)
    if states:
        llama.set_cache(_prompt_states(states))
        _save_openings_and_sources(llama)
    return llama


def _drop_logits_buffer(llama: Any) -> None:
    """Keep one row of llama-cpp-python's logits buffer instead of n_batch rows.

    Without `logits_all` nothing writes to it: llama.cpp samples from its own logits, and
    the buffer is read only for logprobs and stopping criteria, which are not used here. Yet
    saving a prompt state copied it (0.3 GB with this model's 151,936-token vocabulary) and
    restoring one copied it back: 0.5 s after a first question, 1.4 s on the first follow-up.
    """
    import numpy as np

    if not llama._logits_all:
        llama.scores = np.zeros((1, llama.n_vocab()), dtype=np.single)


SHARED_OPENING = 128  # tokens: a prompt sharing this many with a saved state has its template
SOURCES_WORTH_KEEPING = 384  # tokens read past every saved state: a prompt's sources


def _save_openings_and_sources(llama: Any) -> None:
    """Keep, per template, a state for its opening and one for the last prompt that read its
    sources; save nothing else.

    llama-cpp-python saves a state after every reply (~0.6 s: the KV cache and 0.3 GB of
    logits). Later prompts reuse a template's opening (instructions, worked examples), and a
    question asked again over the same sources reuses them too: a refused quiz question's
    last sentence is asked once more after the rewrite prompt has taken llama.cpp's context,
    and re-reading its sources (~880 tokens of 2020 passages) took about 5 s. A one-source
    retry or a rewrite reads less than `SOURCES_WORTH_KEEPING` past the states it shares and
    saves none."""
    save = llama.save_state

    def save_if_useful() -> Any:
        tokens = llama.input_ids[: llama.n_tokens].tolist()
        states = llama.cache.cache_state
        shared = {key: llama.longest_token_prefix(key, tokens) for key in states}
        template = [key for key, n in shared.items() if n >= SHARED_OPENING]
        if not template:
            return save()
        if len(tokens) - max(shared[key] for key in template) < SOURCES_WORTH_KEEPING:
            return None
        opening = min(template, key=len)  # the earlier sources go: one set per template
        for key in template:
            if key != opening:
                del states[key]
        return save()

    llama.save_state = save_if_useful


class LocalChatModel(BaseChatModel):
    """llama.cpp chat model over one shared model instance.

    Unlike `ChatLlamaCpp`, which loads its own copy per instance, every chat shares one model,
    and questions take turns (`turns.model_turns`) in llama.cpp's single context; the
    prompt prefix (instructions, examples) stays in llama.cpp's cache between questions.
    Its options are the `llm` settings themselves, so their defaults are written once.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_path: str
    options: LLMSettings = Field(default_factory=LLMSettings)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp-local"

    def _completion(self, messages: list[BaseMessage], stop: list[str] | None) -> Iterator[str]:
        payload = [{"role": _ROLES.get(m.type, "user"), "content": m.text} for m in messages]
        cancel = current_cancel.get()
        with model_turns.turn():
            # loaded in the turn: two threads loading at once crash llama.cpp (the UI's
            # warm-up and an early question)
            o = self.options
            llama = _llama(self.model_path, o.n_ctx, o.threads, o.prompt_states)
            parts = llama.create_chat_completion(
                messages=payload,
                temperature=o.temperature,
                max_tokens=o.max_tokens,
                stop=stop or [],
                stream=True,
            )
            # Closed here, not whenever it is collected: a stopped answer ends its decoding
            # and gives the model to the next question at once. The cancel flag is needed as
            # well, since closing a LangChain stream reads its model's stream to the end.
            with closing(parts):
                for part in parts:
                    if cancel is not None and cancel.is_set():
                        return
                    delta = part["choices"][0]["delta"].get("content")
                    if delta:
                        yield delta

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        empty = True
        for token in self._completion(messages, stop):
            empty = False
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=token))
            if run_manager:
                run_manager.on_llm_new_token(token, chunk=chunk)
            yield chunk
        if empty:  # stopped before its first character: LangChain wants one chunk
            yield ChatGenerationChunk(message=AIMessageChunk(content=""))

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(self._completion(messages, stop))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


def make_llm(settings: LLMSettings) -> BaseChatModel | None:
    """The chat model the settings name; None for the no-LLM "passages" backend."""
    from assistant.backends import BACKENDS

    return BACKENDS[settings.backend].build(settings)
