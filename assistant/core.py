"""`Assistant`: the one object the CLI, the UI and Python callers use.

It holds the settings, the embedding model and the live index, and reloads the index when
another process (or the UI's Articles tab) has written a new version.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Generator, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable

from assistant.chain import History, build_chain, history_turns, prime_prompts
from assistant.citations import finalize, same_story
from assistant.embeddings import Embedder
from assistant.errors import AssistantError, IndexNotFoundError, LimitError, LLMError
from assistant.extractive import extract_answer
from assistant.ingest import add_loaded, add_paths, remove_ids
from assistant.llms import LocalChatModel, make_llm
from assistant.retrieval import Filters, question_timeframe, retrieve, search_within
from assistant.settings import (
    DEFAULT_INDEX_DIR,
    SAMPLE_ARTICLES_DIR,
    LimitSettings,
    Settings,
    resolve_settings,
)
from assistant.stores import IndexView, open_store
from assistant.timeframe import parse_day
from assistant.types import Answer, Event, IndexedArticle, IngestReport, Passage

log = logging.getLogger(__name__)


class Assistant:
    """Answers questions over one index. Safe to share between threads (the UI does)."""

    def __init__(
        self,
        settings: Settings | dict[str, Any] | None = None,
        *,
        chat_model: BaseChatModel | None = None,
        **overrides: Any,
    ):
        """`chat_model`: any LangChain chat model, used instead of the `llm` settings' backend."""
        self.settings = resolve_settings(settings, **overrides)
        self._chat_model = chat_model
        self.embedder = Embedder.from_settings(self.settings.embedding)
        self.store = open_store(self.settings)
        self._data: IndexView | None = None
        self._lock = threading.Lock()
        self._chain: Runnable | None = None

    @property
    def index_dir(self) -> Path:
        return Path(self.settings.index_dir)

    # -- index ---------------------------------------------------------------------------

    def index(self) -> IndexView:
        """The live index, reloaded when a newer version has been written."""
        version = self.store.current_version()
        if version is None and self._is_default_index():
            self._build_default_index()
            version = self.store.current_version()
        with self._lock:
            if self._data is None or self._data.version != version:
                self._data = self.store.load(self.settings)
            return self._data

    def _is_default_index(self) -> bool:
        return (
            self.settings.store.backend == "faiss"
            and self.index_dir.resolve() == DEFAULT_INDEX_DIR.resolve()
        )

    def _build_default_index(self) -> None:
        """First use of an installed package: index the bundled sample articles, with progress.

        Added, not rebuilt, under the index lock: a second process starting at the same time
        finds them indexed and embeds nothing.
        """
        log.info("no index yet at %s: indexing the bundled sample articles (once)", self.index_dir)
        report = add_paths(
            [SAMPLE_ARTICLES_DIR], self.settings, progress=True, embedder=self.embedder
        )
        log.info("indexed %d sample articles in %.1fs", len(report.added), report.seconds)

    def build_index(
        self, paths: Iterable[str | os.PathLike[str]], progress: bool = False
    ) -> IngestReport:
        """Replace the index with the articles under `paths`."""
        return add_paths(
            paths, self.settings, rebuild=True, progress=progress, embedder=self.embedder
        )

    def add_articles(
        self, paths: Iterable[str | os.PathLike[str]], progress: bool = False
    ) -> IngestReport:
        """Add new and changed articles under `paths`; unchanged ones are not re-embedded."""
        return add_paths(paths, self.settings, progress=progress, embedder=self.embedder)

    def add_urls(self, urls: Iterable[str], progress: bool = False) -> IngestReport:
        """Add the articles at these web pages, and every item of these RSS/Atom feeds.

        Each URL that cannot be fetched or read is in the report's `rejected`, with the reason.
        """
        from assistant.web import load_urls

        return self.add_loaded(load_urls(urls, self.settings, progress=progress), progress)

    def sync_feeds(self, feeds: Iterable[str], progress: bool = False) -> IngestReport:
        """Add the feeds' new items: items whose link is indexed already are not fetched."""
        from assistant.web import load_urls

        try:
            known = {link for a in self.articles() for link in (a.key, a.url) if link}
        except IndexNotFoundError:
            known = set()
        loaded = load_urls(feeds, self.settings, skip=known, progress=progress)
        return self.add_loaded(loaded, progress)

    def add_loaded(self, loaded: Any, progress: bool = False) -> IngestReport:
        return add_loaded(loaded, self.settings, progress=progress, embedder=self.embedder)

    def remove_articles(self, ids: Iterable[str]) -> IngestReport:
        """Remove articles by id, url or file path."""
        return remove_ids(ids, self.settings)

    def articles(self) -> list[IndexedArticle]:
        """Every indexed article without its text, newest first."""
        rows = self.index().article_list()
        return sorted(rows, key=lambda r: (r.date or "", r.title), reverse=True)

    def stats(self) -> dict[str, Any]:
        return self.index().stats()

    # -- questions -----------------------------------------------------------------------

    def retrieve(
        self,
        question: str,
        k: int | None = None,
        filters: Filters | None = None,
        budget: int | None = None,
    ) -> list[Passage]:
        """The best passages for `question`, best first; at most `budget` characters of them
        when given (answers use `retrieval.context_chars`)."""
        return retrieve(
            self.index(), self.embedder, question, self.settings.retrieval, k, filters, budget
        )

    def _context(self, question: str, k: int | None, filters: Filters | None) -> list[Passage]:
        """The passages an answer is written from: within the context budget."""
        return self.retrieve(question, k, filters, self.settings.retrieval.context_chars)

    def _story(
        self, question: str, articles: frozenset[str], filters: Filters | None
    ) -> list[Passage]:
        return search_within(
            self.index(), self.embedder, question, self.settings.retrieval, articles, filters
        )

    def warm_up(self) -> None:
        """Load the models and, for the local model, read the instructions and worked
        examples of the answer and rewrite prompts into saved states ahead of the first
        question (about 3 s each on 2 cores).

        Best effort, for a long-lived process (the UI, `assistant chat`) to run in the
        background: a question that arrives meanwhile waits for the model's turn as usual,
        and a missing index or model is logged here and reported by the first question. Not
        in a daemon thread: stopped at exit in the middle of llama.cpp's work, the process
        crashes."""
        try:
            self.retrieve("warm up", k=1)
        except AssistantError as exc:  # no index yet: the UI's Articles tab can make one
            log.info("warm-up: %s", exc)
        try:
            model = self._model()
            if isinstance(model, LocalChatModel) and model.options.prompt_states:
                prime_prompts(model, Path(self.settings.prompts_dir))
        except AssistantError as exc:
            log.warning("warm-up: %s", exc)

    def _model(self) -> BaseChatModel | None:
        """The chat model answers come from: the one given, else the settings' (made once;
        None for the no-LLM backend)."""
        if self._chat_model is None:
            self._chat_model = make_llm(self.settings.llm)
        return self._chat_model

    @property
    def chain(self) -> Any:
        """The LangChain runnable; the LLM is loaded on first use."""
        if self._chain is None:
            self._chain = build_chain(
                self._model(),
                self._context,
                Path(self.settings.prompts_dir),
                self.settings.retrieval.min_similarity,
                lambda question, passages: extract_answer(self.embedder, question, passages),
                self.settings.retrieval.retry_similarity,
                self.settings.retrieval.retry_passages,
                self._story,
                self._same_story if self.settings.retrieval.last_try else None,
            )
        return self._chain

    def _same_story(self, question: str, passage: Passage, filters: Filters | None) -> bool:
        settings = self.settings.retrieval
        as_of = parse_day(filters.as_of) if filters and filters.as_of else None
        since = as_of - timedelta(days=settings.last_try_days) if as_of else None
        return same_story(question, passage, settings.last_try_share, since)

    def stream(
        self,
        question: str,
        history: History | None = None,
        k: int | None = None,
        filters: Filters | None = None,
    ) -> Generator[Event, None, None]:
        """Yield the sources, then answer tokens, then the final `Answer`.

        Raises `LimitError` before any retrieval or model call if the question or the
        history is over the `limits` settings.
        """
        question = question.strip()
        check_limits(question, history, self.settings.limits)
        passages: list[Passage] = []
        raw, standalone = "", None
        story: frozenset[str] = frozenset()
        payload = {"question": question, "history": history, "k": k, "filters": filters}
        try:
            for chunk in self.chain.stream(payload):
                standalone = chunk.get("standalone", standalone)
                if "found" in chunk:
                    story = chunk["found"].story
                if "passages" in chunk:
                    passages = chunk["passages"]
                    yield Event("sources", passages=tuple(passages))
                if "answer" in chunk:
                    raw += chunk["answer"]
                    yield Event("token", text=chunk["answer"])
        except Exception as exc:
            if not _is_connection_error(exc):
                raise
            llm = self.settings.llm
            raise LLMError(
                f"cannot reach the {llm.backend} server at {llm.base_url or 'its default URL'} "
                f"({exc}); start it, fix llm.base_url, or use another llm.backend"
            ) from exc
        since = question_timeframe(self.index(), question, filters).earliest_source()
        answer = finalize(question, raw, passages, standalone, story, since)
        yield Event("answer", answer=answer)

    def ask(
        self,
        question: str,
        history: History | None = None,
        k: int | None = None,
        filters: Filters | None = None,
    ) -> Answer:
        """Answer one question, with `[n]` markers resolved to citations."""
        for event in self.stream(question, history, k, filters):
            if event.answer is not None:
                return event.answer
        raise AssertionError("the answer stream ended without an answer")


def check_limits(question: str, history: History | None, limits: LimitSettings) -> None:
    """Refuse an over-long question or history with a message naming the cap and the fix."""
    if len(question) > limits.question_chars:
        raise LimitError(
            f"the question is {len(question):,} characters; the limit is "
            f"{limits.question_chars:,} (limits.question_chars). Ask a shorter question."
        )
    turns = history_turns(history)
    if len(turns) > limits.history_turns:
        raise LimitError(
            f"the conversation has {len(turns)} earlier exchanges; the limit is "
            f"{limits.history_turns} (limits.history_turns). Clear the chat to start a new one."
        )
    chars = sum(len(t.question) + len(t.answer) for t in turns)
    if chars > limits.history_chars:
        raise LimitError(
            f"the conversation holds {chars:,} characters; the limit is "
            f"{limits.history_chars:,} (limits.history_chars). Clear the chat to start a new one."
        )


def _is_connection_error(exc: BaseException) -> bool:
    """Connection failures of the server backends (httpx, openai and ollama name them so)."""
    return isinstance(exc, ConnectionError) or "Connect" in type(exc).__name__


_default: Assistant | None = None
_default_lock = threading.Lock()


def answer(
    question: str,
    history: History | None = None,
    settings: Settings | dict[str, Any] | None = None,
    **overrides: Any,
) -> Answer:
    """Answer `question` from the default index (or the one the settings name)."""
    global _default
    if settings is not None or overrides:
        return Assistant(settings, **overrides).ask(question, history)
    with _default_lock:
        if _default is None:
            _default = Assistant()
    return _default.ask(question, history)
