"""Turns on the shared local model: one answer at a time, first come first served.

llama.cpp has one context, so questions take turns. The queue is explicit, rather than a bare
lock, for two reasons: the UI can tell a user how many questions are ahead of theirs, and a
question whose user has gone (closed tab, Stop) leaves the queue at once instead of waiting
for the model only to be thrown away. Which question is "ours" travels in a context variable,
as LangChain runs the model in worker threads that copy the caller's context.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from assistant.errors import LLMError

POLL = 0.2  # seconds between checks of a waiting question's cancel flag

# Set by whoever may abandon a question (the UI); None: the question is never cancelled.
current_cancel: ContextVar[threading.Event | None] = ContextVar("current_cancel", default=None)


class Turns:
    """A FIFO queue in front of one model. Thread-safe."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._waiting: deque[threading.Event] = deque()
        self._busy = False

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for the model, then hold it. Raises `LLMError` if the question is cancelled
        (see `current_cancel`) while it waits."""
        ticket = current_cancel.get() or threading.Event()
        with self._cond:
            self._waiting.append(ticket)
            try:
                while self._busy or self._waiting[0] is not ticket:
                    if ticket.is_set():
                        raise LLMError("the question was cancelled while waiting for the model")
                    self._cond.wait(POLL)
            finally:
                self._waiting.remove(ticket)
                self._cond.notify_all()  # the next in line may be first now
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def ahead(self, ticket: threading.Event) -> int | None:
        """How many questions will use the model before `ticket`'s; None if it is not waiting."""
        with self._cond:
            if ticket not in self._waiting:
                return None
            return list(self._waiting).index(ticket) + int(self._busy)


# One per process: every local model shares the machine's cores, so one answers at a time.
model_turns = Turns()
