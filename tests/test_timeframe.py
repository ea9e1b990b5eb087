"""Question dates: the as-of day and the windows that phrases such as "this week" name."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from assistant.retrieval import Filters
from assistant.timeframe import default_as_of, parse_day, timeframe
from assistant.types import IndexedArticle

AS_OF = date(2023, 3, 15)


@pytest.mark.parametrize(
    ("question", "start", "end"),
    [
        ("Who resigned yesterday?", date(2023, 3, 14), AS_OF),
        ("Which bank collapsed this week?", date(2023, 3, 8), AS_OF),
        ("What did the Fed decide last week?", date(2023, 3, 1), date(2023, 3, 9)),
        ("What is the latest on the strike?", date(2023, 3, 8), AS_OF),
        ("What happened last month in Peru?", date(2023, 2, 1), date(2023, 2, 28)),
        ("How many quakes so far this year?", date(2023, 1, 1), AS_OF),
    ],
)
def test_phrases_become_windows(question: str, start: date, end: date):
    frame = timeframe(question, AS_OF)
    assert (frame.start, frame.end) == (start, end)
    assert frame.contains(start) and frame.contains(end)
    assert not frame.contains(start.replace(year=2022))


def test_named_days_bound_the_sources_an_answer_may_rest_on():
    assert timeframe("Which bank collapsed this week?", AS_OF).earliest_source() == date(2023, 3, 6)
    assert timeframe("Who resigned yesterday?", AS_OF).earliest_source() == date(2023, 3, 12)
    # the newest report there is may be older than the week "latest" prefers
    assert timeframe("What is the latest on the strike?", AS_OF).earliest_source() is None
    assert timeframe("Who won the 2022 Nobel Peace Prize?", AS_OF).earliest_source() is None
    guessed = replace(timeframe("Which bank collapsed this week?", AS_OF), guessed=True)
    assert guessed.earliest_source() is None  # an archive's last week, not the question's


def test_a_question_without_a_phrase_has_no_window():
    frame = timeframe("Who won the 2022 Nobel Peace Prize?", AS_OF)
    assert frame.start is None and not frame.contains(AS_OF)


def test_default_as_of_is_the_newest_article_when_the_index_is_older():
    assert default_as_of("2022-12-24", today=AS_OF) == date(2022, 12, 24)
    assert default_as_of("2024-01-01", today=AS_OF) == AS_OF
    assert default_as_of(None, today=AS_OF) == AS_OF


def test_filters_check_their_dates_and_name_the_field():
    assert Filters(as_of="2023-03-15T10:00").as_of == "2023-03-15"
    with pytest.raises(ValueError, match="as_of: 'next tuesday' is not a date; use YYYY-MM-DD"):
        Filters(as_of="next tuesday")
    assert parse_day(None) is None


def _dated(day: str | None, source: str | None = None) -> IndexedArticle:
    return IndexedArticle("a1", "Title", "a1.txt", "h", 1, date=day, source=source)


def test_as_of_hides_later_articles():
    f = Filters(as_of="2022-12-20")
    assert f.accepts(_dated("2022-12-20")) and not f.accepts(_dated("2022-12-21"))
    assert Filters(date_to="2022-12-18", as_of="2022-12-20").until == "2022-12-18"
