"""What tests check of a reply, written once."""

from __future__ import annotations

from typing import Any


def cites(reply: Any, title_word: str) -> bool:
    """Whether the reply cites an article whose title holds `title_word`."""
    return any(title_word in c.title for c in reply.citations)
