"""Per-user question caps: in flight and per minute, each user counted apart."""

from __future__ import annotations

import pytest

from assistant import LimitError
from assistant.ratelimit import UserLimiter
from assistant.settings import LimitSettings


def one_question(limiter: UserLimiter, user: str) -> None:
    with limiter.slot(user):
        pass


def test_caps_count_per_user_and_free_their_slots() -> None:
    now = [0.0]
    limiter = UserLimiter(
        LimitSettings(questions_at_once=2, questions_per_minute=3), clock=lambda: now[0]
    )
    with limiter.slot("ann"), limiter.slot("ann"):
        with pytest.raises(LimitError, match=r"2 of your questions .* at most 2 at once"):
            one_question(limiter, "ann")
        one_question(limiter, "bob")  # another user is not held up
    one_question(limiter, "ann")  # a finished question frees its slot...
    now[0] = 20.0
    with pytest.raises(LimitError, match=r"at most 3 questions a minute .* again in 40 s"):
        one_question(limiter, "ann")  # ...but still counts for a minute
    now[0] = 60.5
    one_question(limiter, "ann")


def test_an_abandoned_answer_frees_its_slot() -> None:
    limiter = UserLimiter(LimitSettings(questions_at_once=1))
    with pytest.raises(GeneratorExit), limiter.slot("ann"):
        raise GeneratorExit  # what closing a streamed chat raises inside it
    one_question(limiter, "ann")
