"""Dates in questions: the day a question is asked "as of", and the window its words name.

News questions are dated ("who resigned this week?"), so retrieval needs to know when "now" is.
By default that is today, or the newest article's date when the index is older (an archive
from 2022 is asked about as of its own last day). "This week", "yesterday", "last month",
"so far this year" and similar phrases become a window of dates that retrieval prefers; the
window is a preference, not a filter, because publication dates on the web are often a day or
two off. An answer, though, may not rest on a source dated well before the days the question
names: a page from a year ago says nothing of "this week" (`Timeframe.earliest_source`).
Deliberately left out: named dates inside the question ("on March 3") and other languages;
those go through the explicit date filters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

SLACK_DAYS = 2  # days a source may predate the named window: web dates are often off


@dataclass(frozen=True)
class Timeframe:
    """When a question is asked, and the window of dates (inclusive) it points at, if any."""

    as_of: date
    start: date | None = None
    end: date | None = None
    named: bool = False  # days named ("this week"), not only the newest asked for ("latest")
    guessed: bool = False  # as of an older index's newest article, not a known day

    def contains(self, day: date) -> bool:
        return self.start is not None and self.start <= day <= (self.end or self.as_of)

    def earliest_source(self) -> date | None:
        """The earliest day a source may be dated to answer for the days the question names:
        a report from a year ago says nothing of "this week", even when its words match. A
        couple of days of slack, as publication dates on the web are often a day or two off.
        None for "latest": the newest report there is may be older than a week. None, too,
        when the as-of day is a guess (an archive, asked without one): a quiz question's "this
        week" is its own week, which the archive's last one need not be."""
        if not self.named or self.start is None or self.guessed:
            return None
        return self.start - timedelta(days=SLACK_DAYS)


def _week(as_of: date) -> tuple[date, date]:
    return as_of - timedelta(days=7), as_of


def _last_week(as_of: date) -> tuple[date, date]:
    return as_of - timedelta(days=14), as_of - timedelta(days=6)


def _month(as_of: date) -> tuple[date, date]:
    return as_of - timedelta(days=31), as_of


def _last_month(as_of: date) -> tuple[date, date]:
    first = as_of.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1), first - timedelta(days=1)


# Phrase -> window relative to the as-of day. Order matters: "last week" before "week".
_PHRASES: list[tuple[re.Pattern[str], Callable[[date], tuple[date, date]]]] = [
    (re.compile(r"\byesterday\b", re.I), lambda d: (d - timedelta(days=1), d)),
    (re.compile(r"\b(today|tonight|this morning)\b", re.I), lambda d: (d - timedelta(days=1), d)),
    (re.compile(r"\blast week\b", re.I), _last_week),
    (re.compile(r"\b(this|past) week(end)?\b", re.I), _week),
    (re.compile(r"\blast month\b", re.I), _last_month),
    (re.compile(r"\b(this|past) month\b", re.I), _month),
    (
        re.compile(r"\b(this|past) year\b|\bso far this year\b", re.I),
        lambda d: (d.replace(month=1, day=1), d),
    ),
]


def parse_day(value: str | date | None) -> date | None:
    """A YYYY-MM-DD string (or a date) as a date; None stays None."""
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ValueError(f"date {value!r} is not YYYY-MM-DD") from None


# Asks for the newest: a preference for the last week, not a demand on the sources' dates.
_NEWEST = re.compile(
    r"\b(latest|recently|most recent|newest|these days|so far)\b(?! this year)", re.I
)


def timeframe(question: str, as_of: date) -> Timeframe:
    """The window the question's words name, relative to `as_of` (none if it names none)."""
    for pattern, window in _PHRASES:
        if pattern.search(question):
            start, end = window(as_of)
            return Timeframe(as_of, start, end, named=True)
    if _NEWEST.search(question):
        start, end = _week(as_of)
        return Timeframe(as_of, start, end)
    return Timeframe(as_of)


def default_as_of(newest: str | None, today: date | None = None) -> date:
    """Today, or the newest article's date when the index is older than today."""
    today = today or date.today()
    newest_day = parse_day(newest) if newest else None
    return min(today, newest_day) if newest_day else today
