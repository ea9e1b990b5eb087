"""The local model's queue: first come first served, a place shown, a cancelled wait leaves."""

from __future__ import annotations

import threading
import time

import pytest

from assistant.errors import LLMError
from assistant.turns import Turns, current_cancel


def test_questions_take_turns_in_order_and_a_cancelled_one_leaves_the_queue() -> None:
    turns = Turns()
    order: list[str] = []
    tickets = {name: threading.Event() for name in "abc"}
    release = threading.Event()

    def ask(name: str) -> None:
        current_cancel.set(tickets[name])
        try:
            with turns.turn():
                order.append(name)
                if name == "a":
                    release.wait(10)
        except LLMError:
            order.append(f"{name} cancelled")

    threads = []
    for name in "abc":
        threads.append(threading.Thread(target=ask, args=(name,)))
        threads[-1].start()
        time.sleep(0.3)  # a takes the model, then b and c queue in that order
    assert [turns.ahead(tickets[n]) for n in "abc"] == [None, 1, 2]
    tickets["b"].set()
    threads[1].join(5)
    assert order == ["a", "b cancelled"] and turns.ahead(tickets["c"]) == 1
    release.set()
    for t in threads:
        t.join(5)
    assert order == ["a", "b cancelled", "c"]


def test_a_question_without_a_cancel_flag_still_takes_its_turn() -> None:
    turns = Turns()
    with turns.turn():
        pass
    with pytest.raises(ZeroDivisionError), turns.turn():
        1 / 0  # noqa: B018 (an error inside a turn still frees the model)
    with turns.turn():
        pass
