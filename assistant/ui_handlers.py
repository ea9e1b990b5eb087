"""What the UI's events do: chat, index changes and listings, over one shared `Assistant`.

Each public method of `ChatHandlers` is one endpoint; `ui.build_app` only lays out the page and
wires events to them. Roles are checked here, not by hiding controls, because an API call
skips the page. This module imports gradio at the top (Gradio reads the methods' signatures:
`gr.Request` annotations, `gr.Progress` defaults), so `ui` imports it only to build the app.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from assistant.articles import LoadResult, load_file
from assistant.errors import AssistantError
from assistant.ratelimit import UserLimiter
from assistant.turns import current_cancel, model_turns
from assistant.ui import (
    answer_message,
    esc,
    history_pairs,
    paragraphs,
    parse_filters,
    reading_message,
    report_html,
    stats_html,
)

if TYPE_CHECKING:
    from assistant.core import Assistant
    from assistant.types import Event, Passage
    from assistant.users import Users

log = logging.getLogger("assistant.ui")

# How often a chat with nothing new shows its note again; each time Gradio also learns whether
# the user is still there, so a closed tab frees its place within this long.
NOTE_EVERY = 1.0


def user_error(exc: BaseException | str) -> Exception:
    """A gr.Error for the user, not a traceback in the log; escaped, as Gradio renders it as
    HTML and it may quote file names."""
    return gr.Error(esc(str(exc)), print_exception=False)


def user_key(request: gr.Request | None) -> str:
    """Whom the question caps count against: the account, else the browser session."""
    return str(getattr(request, "username", None) or getattr(request, "session_hash", None) or "-")


class Pump:
    """An answer stream run in its own thread, so the chat can keep showing a note while the
    answer waits for the model (a blocked generator shows nothing and cannot see a closed tab).

    Closing it cancels the question through `turns.current_cancel`: a question waiting for
    the model leaves the queue, one being written stops at its next token.
    """

    _END = object()

    def __init__(self, start: Callable[[], Iterator[Event]]) -> None:
        self.cancel = threading.Event()
        self._items: queue.Queue[Any] = queue.Queue()
        threading.Thread(target=self._run, args=(start,), daemon=True, name="answer").start()

    def _run(self, start: Callable[[], Iterator[Event]]) -> None:
        current_cancel.set(self.cancel)  # this thread's context; LangChain's workers copy it
        events = None
        try:
            events = start()
            for event in events:
                if self.cancel.is_set():
                    return
                self._items.put(event)
        except BaseException as exc:  # raised again in the chat's thread
            self._items.put(exc)
        finally:
            if isinstance(events, Generator):
                events.close()
            self._items.put(self._END)

    def events(self, every: float) -> Iterator[Event | None]:
        """The stream's events, and None after each `every` seconds without one."""
        while True:
            try:
                item = self._items.get(timeout=every)
            except queue.Empty:
                yield None
                continue
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def ahead(self) -> int | None:
        """Questions before this one on the local model; None when it is not waiting."""
        return model_turns.ahead(self.cancel)

    def close(self) -> None:
        """Cancel the question without waiting for the thread (Gradio calls this on its event
        loop when a tab closes)."""
        self.cancel.set()


class ChatHandlers:
    """The UI's endpoints over one shared `Assistant`, with the users' roles and question caps.

    With `users`, only editors may add or remove articles; without, everyone may (local use).
    """

    def __init__(self, assistant: Assistant, users: Users | None = None) -> None:
        self.assistant = assistant
        self.settings = assistant.settings
        self.users = users
        self.limiter = UserLimiter(self.settings.limits)

    # -- listings -------------------------------------------------------------------------

    def index_sources(self) -> list[str]:
        try:
            return list(self.assistant.stats()["sources"])
        except AssistantError:
            return []

    def article_rows(self) -> dict[str, Any]:
        try:
            rows = self.assistant.articles()
        except AssistantError:
            rows = []
        data = [[r.date or "", r.source or "", r.chunks, r.title, r.id] for r in rows]
        return {"headers": ["date", "source", "passages", "title", "id"], "data": data}

    def article_choices(self) -> list[tuple[str, str]]:
        try:
            rows = self.assistant.articles()
        except AssistantError:
            return []
        return [(f"{r.title} ({r.date or 'no date'}, {r.id})", r.id) for r in rows]

    def placeholder(self) -> str:
        """The empty chat's invitation, or why there is nothing to ask about yet."""
        try:
            count = len(self.assistant.index().articles)
        except AssistantError:
            return "No index yet: add articles in the Articles tab, then ask here."
        return f"Ask about the {count} indexed news articles. Answers cite their sources."

    def refresh(self) -> tuple[Any, ...]:
        """Stats, article list, removal choices and source filter, from the live index."""
        return (
            stats_html(self.assistant),
            self.article_rows(),
            gr.update(choices=self.article_choices(), value=None),
            gr.update(choices=self.index_sources()),
        )

    # -- roles ----------------------------------------------------------------------------

    def role(self, request: gr.Request | None) -> str:
        """The caller's role: everyone edits when there is no users list (local use)."""
        if self.users is None:
            return "editor"
        return self.users.role(getattr(request, "username", None)) or "none"

    def require_editor(self, request: gr.Request | None, action: str) -> None:
        """Refuse (and log) an index change by anyone but an editor."""
        role = self.role(request)
        if role == "editor":
            return
        name = getattr(request, "username", None)
        log.warning("refused %s: user %r has role %s, not editor", action, name, role)
        raise user_error(f"Your account ({name}, {role}) may not change the index; ask an editor.")

    def articles_tab(self, request: gr.Request) -> Any:
        return gr.update(visible=self.role(request) == "editor")

    # -- chat -----------------------------------------------------------------------------

    def chat(
        self,
        message: str,
        history: list[dict[str, Any]],
        k: float,
        date_from: str,
        date_to: str,
        sources: list[str],
        as_of: str = "",
        request: gr.Request | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Answer with cited sources: the passages being read first, then the streamed text.

        While the answer waits for the local model, the "Reading" note says how many questions
        are ahead. Each user (account, or browser session without a login) has at most
        `limits.questions_at_once` questions in progress and `limits.questions_per_minute`.
        """
        question = (message or "").strip()
        if not question:
            gr.Warning("Type a question first.")
            yield [{"role": "assistant", "content": "Please type a question."}]
            return
        try:
            filters = parse_filters(date_from, date_to, sources, as_of)
        except ValueError as exc:
            raise user_error(exc) from None
        started = time.perf_counter()
        passages: tuple[Passage, ...] = ()
        text = ""
        try:
            slot = self.limiter.slot(user_key(request))
            pairs = history_pairs(history)
            # A stopped chat or a closed tab ends here (Gradio closes this generator): the
            # user's slot is freed and the question leaves the model's queue or stops.
            with (
                slot,
                closing(
                    Pump(lambda: self.assistant.stream(question, pairs, int(k), filters))
                ) as pump,
            ):
                for event in pump.events(NOTE_EVERY):
                    if event is None:
                        if passages and not text:
                            yield [reading_message(passages, done=False, ahead=pump.ahead())]
                    elif event.kind == "sources":
                        passages = event.passages
                        yield [reading_message(passages, done=False, ahead=pump.ahead())]
                    elif event.kind == "token":
                        text += event.text
                        reading = reading_message(passages, done=False)
                        yield [reading, {"role": "assistant", "content": paragraphs(text)}]
                    elif event.answer is not None:
                        answer = event.answer
                        final = answer_message(
                            answer, self.assistant.index().articles, filters is not None
                        )
                        if answer.abstained:
                            yield [final]
                        else:
                            seconds = time.perf_counter() - started
                            yield [reading_message(passages, done=True, seconds=seconds), final]
        except AssistantError as exc:
            raise user_error(exc) from None

    # -- index changes (editors only) ---------------------------------------------------------

    def add_files(
        self,
        files: list[str] | None,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008 (Gradio's idiom)
    ) -> tuple[Any, ...]:
        """Index uploaded files, keyed by their original names so a re-upload is "unchanged"."""
        self.require_editor(request, "add_files")
        if not files:
            raise user_error("Choose one or more article files first.")
        limit = self.settings.limits.upload_files
        if len(files) > limit:
            raise user_error(
                f"{len(files)} files chosen; at most {limit} per upload "
                "(limits.upload_files). Add them in smaller batches."
            )
        result = LoadResult()
        for path in progress.tqdm(files, desc="Reading files"):
            name = os.path.basename(path)  # Gradio keeps the original name in a random folder
            load_file(Path(path), name, result, self.settings.max_article_bytes, name=name)
        try:
            progress(0, desc="Embedding passages")
            report = self.assistant.add_loaded(result, progress=True)
        except AssistantError as exc:
            raise user_error(exc) from None
        return (report_html(report), None, *self.refresh())

    def add_urls(
        self,
        text: str | None,
        request: gr.Request,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008 (Gradio's idiom)
    ) -> tuple[Any, ...]:
        """Fetch web pages and feeds (one URL a line) and index them; failures say why."""
        self.require_editor(request, "add_urls")
        urls = [u.strip() for u in (text or "").splitlines() if u.strip()]
        if not urls:
            raise user_error("Paste one or more web page or feed URLs first.")
        try:
            report = self.assistant.add_urls(urls, progress=True)
        except AssistantError as exc:
            raise user_error(exc) from None
        return (report_html(report), "", *self.refresh())

    def remove_article(self, article_id: str | None, request: gr.Request) -> tuple[Any, ...]:
        """Remove one article from the index; the chat stops citing it at once."""
        self.require_editor(request, "remove_article")
        if not article_id:
            raise user_error("Choose an article to remove first.")
        try:
            report = self.assistant.remove_articles([article_id])
        except AssistantError as exc:
            raise user_error(exc) from None
        return (report_html(report), *self.refresh())
