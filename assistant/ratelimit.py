"""Per-user caps on questions, so one script cannot fill the shared model's queue.

The local model answers one question at a time; without caps, a script sending fifty
questions would put every colleague behind them for many minutes.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from assistant.errors import LimitError
from assistant.settings import LimitSettings

WINDOW = 60.0  # seconds of the per-minute count


class UserLimiter:
    """Questions in flight and questions per minute, counted per user. Thread-safe."""

    def __init__(self, limits: LimitSettings, clock: Callable[[], float] = time.monotonic):
        self.at_once = limits.questions_at_once
        self.per_minute = limits.questions_per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._active: dict[str, int] = defaultdict(int)
        self._recent: dict[str, deque[float]] = defaultdict(deque)

    @contextmanager
    def slot(self, user: str) -> Iterator[None]:
        """Hold one of `user`'s slots while a question is answered; refuse with `LimitError`
        when the user is over a cap. A stopped or abandoned answer frees its slot."""
        with self._lock:
            now = self._clock()
            recent = self._recent[user]
            while recent and recent[0] <= now - WINDOW:
                recent.popleft()
            if self._active[user] >= self.at_once:
                raise LimitError(
                    f"{self._active[user]} of your questions are still being answered; at most "
                    f"{self.at_once} at once (limits.questions_at_once). Wait for an answer."
                )
            if len(recent) >= self.per_minute:
                wait = recent[0] + WINDOW - now
                raise LimitError(
                    f"at most {self.per_minute} questions a minute per user "
                    f"(limits.questions_per_minute); ask again in {max(wait, 1):.0f} s."
                )
            recent.append(now)
            self._active[user] += 1
        try:
            yield
        finally:
            with self._lock:
                self._active[user] -= 1
