"""Conflicting reports: a different figure from another outlet is stated and cited.

The unit tests build passages by hand; the last test asks the real bundled model over the
original articles in data/conflicts/ (two outlets per event, one event reported alike).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.conflicts import differing_report
from assistant.settings import PROJECT_DIR
from assistant.types import Chunk, Passage

CONFLICTS = PROJECT_DIR / "data" / "conflicts"


def _passage(i: int, text: str, title: str = "Ferry capsizes", source: str = "Wire") -> Passage:
    return Passage(
        Chunk(f"a{i}:0", f"a{i}", text, 0, len(text)), title, "2026-03-14", source, None, 0.6
    )


FERRY = [
    _passage(
        1,
        "The toll of the Marisol sinking has risen to 19, hospitals said on Saturday.",
        source="Harbour Herald",
    ),
    _passage(
        2,
        "The ferry Marisol capsized in a storm, killing 14 people, the coast guard said.",
        source="Coastal Courier",
    ),
]
QUESTION = "How many people died when the ferry Marisol capsized?"


def test_another_outlets_different_figure_is_quoted_and_cited():
    note = differing_report(QUESTION, "The toll has risen to 19 [1].", FERRY)
    quoted = "\u201ckilling 14 people\u201d"
    assert note == f"Reports differ: Coastal Courier (2026-03-14) gives {quoted} [2]."


def test_a_figure_cited_to_the_wrong_source_is_traced_to_the_one_that_gives_it():
    """On an AVX2 build the model wrote the Post's 12,841 citing the Times, which gives
    12,480: the note must quote the Times, not the Post's sentence with the rival's 12,019."""
    votes = [
        _passage(1, "Ana Ruiz won the mayoral election with 12,480 votes in Dunmere.", "Vote"),
        _passage(2, "The count gave Ana Ruiz 12,841 votes and Tomas Hale 12,019.", "Vote"),
    ]
    question = "How many votes did Ana Ruiz receive in the Dunmere mayoral election?"
    note = differing_report(question, "Ana Ruiz received 12,841 votes [1].", votes)
    assert "12,480" in note and note.endswith("[1].") and "12,019" not in note, note


def test_the_noun_may_come_before_the_figure():
    ferry = [
        _passage(2, FERRY[1].chunk.text),
        _passage(
            1,
            FERRY[0].chunk.text.replace(
                "The toll of the Marisol sinking",
                "The number of people who died when the Marisol sank",
            ),
        ),
    ]
    note = differing_report(QUESTION, "The ferry capsized, killing 14 people [1].", ferry)
    assert "risen to 19" in note and note.endswith("[2].")


DRONES = "How many of the 35 drones launched at Kyiv were destroyed?"


def test_the_counted_noun_is_found_after_of_the_and_a_date_is_not_a_count():
    shot = _passage(1, "Air defences shot down 30 of the 35 drones launched at Kyiv.", "Kyiv")
    dated = _passage(2, "Drones launched at Kyiv on December 16 were destroyed.", "Kyiv")
    assert differing_report(DRONES, "30 were destroyed [1].", [shot, dated]) == ""
    other = _passage(3, "The army said 28 drones launched at Kyiv were destroyed.", "Kyiv", "Army")
    note = differing_report(DRONES, "30 were destroyed [1].", [shot, dated, other])
    assert note.startswith("Reports differ: Army") and "28 drones" in note and note.endswith("[3].")


@pytest.mark.parametrize(
    "question, answer, passages",
    [
        # the same figure everywhere
        (
            QUESTION,
            "14 people died [2].",
            [FERRY[1], _passage(3, "The Marisol capsized, killing 14 people.")],
        ),
        # not a quantity question
        ("Why did the ferry Marisol capsize?", "A storm [2].", FERRY),
        # the other passage does not name the Marisol: another event
        (QUESTION, "19 died [1].", [FERRY[0], _passage(2, "A bus crash killed 14 people.")]),
        # a count of something else ("212 passengers"), and a figure four times off
        (
            QUESTION,
            "19 died [1].",
            [
                FERRY[0],
                _passage(
                    2, "The Marisol carried 212 passengers and capsized; 90 people were hurt."
                ),
            ],
        ),
        # a year is not a count
        (
            QUESTION,
            "19 died [1].",
            [FERRY[0], _passage(2, "The Marisol capsized in 2026, killing people.")],
        ),
        # a change is not a level: "set forward by 30 seconds" against "100 seconds to
        # midnight" (2023 pages: the note quoted it as a differing report)
        (
            "How many seconds to midnight did the Doomsday Clock move to?",
            "The Doomsday Clock moved to 100 seconds to midnight [1].",
            [
                _passage(1, "The Doomsday Clock was moved to 100 seconds to midnight.", "Clock"),
                _passage(
                    2,
                    "The Doomsday Clock did not move in 2019 after its minute hand was set "
                    "forward in 2018 by 30 seconds.",
                    "Clock",
                ),
            ],
        ),
        # the answer's own article is not another report
        (
            QUESTION,
            "19 died [1].",
            [
                FERRY[0],
                Passage(
                    Chunk("a1:1", "a1", FERRY[1].chunk.text, 100, 180), "x", None, None, None, 0.5
                ),
            ],
        ),
    ],
)
def test_no_conflict_is_claimed_without_one(question, answer, passages):
    assert differing_report(question, answer, passages) == ""


def test_passages_backend_adds_the_note_to_its_extract(tmp_path: Path):
    assistant = Assistant(index_dir=tmp_path / "index", llm={"backend": "passages"})
    assistant.build_index([CONFLICTS / "articles"])
    reply = assistant.ask("How many votes did Ana Ruiz receive in the Dunmere mayoral election?")
    assert "Reports differ" in reply.text, reply.text
    assert "12,480" in reply.text and "12,841" in reply.text
    assert {c.source for c in reply.citations} == {"Valley Times", "Dunmere Post"}


def _sentence_of(text: str, figure: str) -> str:
    return next(s for s in re.split(r"(?<=[.!?])\s+", text) if figure in s)


@pytest.mark.llm
def test_bundled_model_reports_each_outlets_figure_with_its_own_citation(tmp_path: Path):
    assistant = Assistant(index_dir=tmp_path / "index")
    assistant.build_index([CONFLICTS / "articles"])
    by_file = {Path(a.origin).name: a.id for a in assistant.articles()}
    for line in (CONFLICTS / "qa.jsonl").read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        reply = assistant.ask(case["question"])
        assert not reply.abstained, (case["question"], reply.text)
        figures = case["figures"]
        if len(set(figures.values())) == 1:
            assert "differ" not in reply.text, reply.text
            assert next(iter(figures.values())) in reply.text, reply.text
            continue
        assert "differ" in reply.text, reply.text
        for name, figure in figures.items():
            sentence = _sentence_of(reply.text, figure)
            numbers = {int(n) for n in re.findall(r"\[(\d+)\]", sentence)}
            cited = {c.article_id for c in reply.citations if c.number in numbers}
            assert by_file[name] in cited, (figure, sentence, reply.text)
