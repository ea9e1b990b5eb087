"""Marker clean-up and citation resolution, on hand-made passages."""

from __future__ import annotations

from datetime import date

from assistant import CANNOT_ANSWER
from assistant.citations import (
    finalize,
    is_refusal,
    lacks_quantity,
    lacks_whole_count,
    mentions,
    new_names,
    same_story,
)
from assistant.types import Chunk, Passage


def _passages() -> list[Passage]:
    texts = [
        ("Drones hit Kyiv", "Air defences shot down 30 of the 35 drones launched at Kyiv."),
        ("Oil cap", "The price cap on Russian crude oil is set at 60 dollars a barrel."),
        ("Minsk talks", "Putin and Lukashenko met in Minsk on December 19."),
    ]
    return [
        Passage(
            Chunk(f"a{i}:0", f"a{i}", text, 10, 10 + len(text)),
            title,
            "2022-12-19",
            "Wire",
            None,
            0.5,
        )
        for i, (title, text) in enumerate(texts)
    ]


def test_valid_markers_resolve_to_their_passages():
    answer = finalize("q", "Air defences shot down 30 drones [1]. The cap is $60 [2].", _passages())
    assert not answer.abstained
    assert [c.number for c in answer.citations] == [1, 2]
    assert answer.citations[0].article_id == "a0"
    assert answer.citations[0].start == 10
    assert answer.citations[1].text.startswith("The price cap")


def test_markers_to_no_source_are_removed_and_not_cited():
    answer = finalize("q", "They met in Minsk [3][7]. Something else [0].", _passages())
    assert "[7]" not in answer.text and "[0]" not in answer.text
    assert [c.number for c in answer.citations] == [3]


def test_grouped_markers_are_split():
    answer = finalize("q", "Both happened [1, 3].", _passages())
    assert "[1][3]" in answer.text
    assert [c.number for c in answer.citations] == [1, 3]


def test_only_cited_sources_are_listed():
    answer = finalize("q", "The cap is 60 dollars [2].", _passages())
    assert [c.number for c in answer.citations] == [2]
    assert len(answer.passages) == 3


def test_uncited_sentence_gets_the_source_holding_its_words():
    answer = finalize("q", "Putin and Lukashenko met in Minsk on December 19.", _passages())
    assert answer.text.endswith("[3].")
    assert [c.number for c in answer.citations] == [3]


def test_attribution_does_not_split_numbers_or_abbreviations():
    passages = _passages()
    passages[1] = Passage(
        Chunk("a1:0", "a1", "The U.S. package is worth $1.85 billion, officials said.", 0, 57),
        "Aid",
        None,
        None,
        None,
        0.5,
    )
    answer = finalize("q", "The U.S. package is worth $1.85 billion. Officials said so.", passages)
    assert answer.text.startswith("The U.S. package is worth $1.85 billion [2].")


def test_uncited_sentence_without_support_stays_uncited_beside_a_cited_one():
    answer = finalize(
        "q",
        "Putin and Lukashenko met in Minsk [3]. Bananas are yellow and grow in the tropics.",
        _passages(),
    )
    assert answer.text.endswith("Bananas are yellow and grow in the tropics.")
    assert [c.number for c in answer.citations] == [3]
    assert not answer.abstained


def test_an_answer_citing_nothing_is_a_refusal():
    """No source holds any of its sentences, though each name in it is in some source."""
    answer = finalize(
        "Who won the 2022 Peace Prize?", "Lukashenko won the 2022 Peace Prize.", _passages()
    )
    assert answer.abstained and answer.text == CANNOT_ANSWER and answer.citations == ()


def test_a_number_missing_from_the_cited_source_drops_the_sentence():
    answer = finalize(
        "q", "Air defences shot down 30 drones [1]. The cap is 70,000 dollars [2].", _passages()
    )
    assert answer.text == "Air defences shot down 30 drones [1]."
    assert [c.number for c in answer.citations] == [1]


def test_a_figure_cited_to_the_wrong_source_is_pointed_at_the_one_holding_it():
    answer = finalize("How many drones were shot down?", "30 [2].", _passages())
    assert answer.text == "30 [1]." and [c.article_id for c in answer.citations] == ["a0"]
    names = finalize("Who met in Minsk?", "Putin and Lukashenko met there [1].", _passages())
    assert names.abstained  # a name found elsewhere is no ground to move the marker


def test_a_sentence_copied_from_another_source_is_pointed_at_it():
    copied = finalize(
        "Who met on December 19?",
        "Putin and Lukashenko met in Minsk on December 19 [2].",
        _passages(),
    )
    assert copied.text == "Putin and Lukashenko met in Minsk on December 19 [3]."
    made_up = finalize(
        "Who met on December 19?", "Putin and Lukashenko signed a treaty [2].", _passages()
    )
    assert made_up.abstained  # the same names, but not the source's sentence


def test_an_answer_resting_only_on_unsupported_numbers_is_a_refusal():
    answer = finalize("q", "The population was around 70,000 people [3].", _passages())
    assert answer.abstained and answer.citations == ()


def test_numbers_from_the_question_and_source_dates_are_supported():
    answer = finalize(
        "How many of the 35 drones?", "30 of the 35 drones, on 2022-12-19 [1].", _passages()
    )
    assert not answer.abstained and answer.citations


def test_refusal_is_recognised_and_carries_no_sources():
    answer = finalize("q", CANNOT_ANSWER + " [1]", _passages())
    assert answer.abstained
    assert answer.text == CANNOT_ANSWER
    assert answer.citations == ()
    assert is_refusal(CANNOT_ANSWER.upper())
    assert not is_refusal("The cap is 60 dollars [2].")


def test_empty_reply_counts_as_refusal():
    assert finalize("q", "   ", _passages()).abstained


def _one(text: str) -> list[Passage]:
    return [Passage(Chunk("a0:0", "a0", text, 0, len(text)), "Sport", None, None, None, 0.5)]


def test_markers_never_land_inside_abbreviations():
    source = (
        "Georgia defeated the No. 1 Alabama Crimson Tide 33-18 on Saturday. "
        "The funeral was held at St. George's Chapel in Windsor."
    )
    reply = (
        "Georgia defeated the No. 1 Alabama Crimson Tide 33-18. "
        "The funeral was held at St. George's Chapel in Windsor."
    )
    answer = finalize("q", reply, _one(source))
    assert "No. 1 Alabama Crimson Tide 33-18 [1]." in answer.text
    assert "St. George's Chapel in Windsor [1]." in answer.text
    assert "No [1]" not in answer.text and "St [1]" not in answer.text


def test_a_name_no_cited_source_holds_drops_the_sentence():
    source = "Brittney Griner, the basketball player, remains detained in Russia, her lawyers said."
    passages = _one(source)
    made_up = finalize(
        "Which celebrity is detained in Russia?",
        "Kim Kardashian is detained in Russia [1].",
        passages,
    )
    assert made_up.abstained and made_up.citations == ()
    grounded = finalize(
        "Which athlete is detained in Russia?",
        "The basketball player Brittney Griner is detained in Russia, her lawyers said [1].",
        passages,
    )
    assert not grounded.abstained and [c.number for c in grounded.citations] == [1]


def test_names_from_the_question_and_related_word_forms_count_as_supported():
    passages = _one("Ukraine's air force said it shot down 30 drones over the capital.")
    answer = finalize(
        "What did the Ukrainian air force say, according to Kyiv officials?",
        "The Ukrainian air force said it shot down 30 drones over Kyiv [1].",
        passages,
    )
    assert not answer.abstained and answer.text.endswith("[1].")


def test_an_answer_from_a_passage_that_names_nothing_the_question_does_is_dropped():
    passages = _one("Disney's chief executive Bob Chapek said the company would cut costs.")
    wrong = finalize(
        "CEO Jim Hackett is retiring from what well-known American company?",
        "Jim Hackett is retiring from Disney [1].",
        passages,
    )
    assert wrong.abstained
    right = finalize(
        "CEO Bob Chapek spoke for which company?", "Bob Chapek spoke for Disney [1].", passages
    )
    assert not right.abstained
    # acronyms are often spelled out: no ground to drop an answer
    spelled = _one("The International Atomic Energy Agency said its inspectors stayed.")
    iaea = finalize("What did the IAEA say?", "Its inspectors stayed [1].", spelled)
    assert not iaea.abstained
    dated = finalize("Who stayed on Monday, September 14?", "Inspectors stayed [1].", spelled)
    assert not dated.abstained
    # a long name counts when most of it is there, not one common word of it
    peace = _one("Kissinger called for a negotiated peace along the pre-invasion line.")
    nobel = finalize("Who won the Nobel Peace Prize in 2022?", "Henry Kissinger [1].", peace)
    assert nobel.abstained
    prize = _one("The Nobel Peace Prize went to Ales Bialiatski and two rights groups.")
    won = finalize("Who won the Nobel Peace Prize in 2022?", "Ales Bialiatski [1].", prize)
    assert not won.abstained
    short = _one("The peace prize committee in Oslo named Ales Bialiatski.")
    assert not finalize("Who won the Nobel Peace Prize?", "Ales Bialiatski [1].", short).abstained
    # ... or its last word, which the others qualify: a passage naming Biden is on topic
    picked = _one("Biden picked retired Army Gen. Lloyd Austin, the former commander.")
    question = "Who did President-elect Joe Biden pick to be his secretary of defense?"
    assert not finalize(question, "Biden picked Lloyd Austin [1].", picked).abstained
    other = _one("Joe Manchin said Lloyd Austin was picked.")
    assert finalize(question, "Lloyd Austin [1].", other).abstained
    # a two-word name likewise: all of it or its last word ("Prize"), not "peace" alone
    summit = _one("Dmytro Kuleba said Ukraine wants a peace summit at the United Nations.")
    oslo = "The Nobel committee met in Oslo this week. Who won the 2022 Peace Prize?"
    assert finalize(oslo, "The winner was Dmytro Kuleba [1].", summit).abstained
    un = "Who wants a summit at the United Nations?"
    assert not finalize(un, "Kuleba said Ukraine wants one [1].", summit).abstained


def test_a_sentence_that_reads_the_question_back_is_dropped():
    question = "The talks in Minsk were held behind closed doors. Who met there?"
    both = finalize(
        question,
        "The talks in Minsk were held behind closed doors [3]. Putin and Lukashenko met [3].",
        _passages(),
    )
    assert both.text == "Putin and Lukashenko met [3]."
    alone = finalize(question, "The talks in Minsk were held behind closed doors [3].", _passages())
    assert alone.abstained
    assert not finalize("Who met Lukashenko, Putin or Xi?", "Putin [3].", _passages()).abstained


def test_a_rewritten_follow_up_is_what_the_checks_read():
    passages = _one("Zelensky handed House Speaker Nancy Pelosi a flag signed by soldiers.")
    reply = "He handed it to Nancy Pelosi [1]."
    asked = "Who did Zelensky hand the flag to in Washington?"
    # as asked, the follow-up names only Washington, which the passage does not
    assert finalize("Who did he hand it to in Washington?", reply, passages).abstained
    answer = finalize("Who did he hand it to in Washington?", reply, passages, asked=asked)
    assert not answer.abstained and answer.question == "Who did he hand it to in Washington?"


def test_a_reply_to_how_many_must_give_a_figure():
    asked = "How many drones were shot down?"
    assert lacks_quantity("The strike came a week after a warning [1].", asked)
    assert not lacks_quantity("Air defences shot down 30 of them [1].", asked)
    assert not lacks_quantity("Dozens were shot down [1].", asked)
    assert not lacks_quantity("Air defences destroyed most of the drones [1].", asked)
    assert not lacks_quantity("About fifteen [2].", asked)
    assert not lacks_quantity("The strike came a week after a warning [1].", "When was it?")
    assert lacks_quantity("Much of it [1].", "And how much did the package cost?")
    # dates and spans of time are no count of what was asked about
    assert lacks_quantity("It came after a pause of several weeks [5].", asked)
    assert lacks_quantity("Inspectors have been there since September 1, 2022 [1].", asked)
    assert not lacks_quantity("Three weeks [1].", "How many weeks did the repairs take?")
    assert not lacks_quantity("It rose by 2.5 percent in 2022 [1].", "By how much did it rise?")
    assert not lacks_quantity("30", asked)
    assert lacks_quantity("30", asked, complete=False)  # "30 weeks" may follow
    assert not lacks_quantity("30 of", asked, complete=False)


def _dated(text: str, date: str | None) -> list[Passage]:
    return [Passage(Chunk("d:0", "d", text, 0, len(text)), "Plant", date, "Wire", None, 0.5)]


def test_a_year_the_question_names_must_be_one_the_cited_source_speaks_of():
    asked = "How much electricity did the plant produce in 2021?"
    capacity = _dated("The plant had a pre-war capacity of about 5,700 megawatts.", "2022-12-23")
    assert finalize(asked, "It produced about 5,700 megawatts [1].", capacity).abstained
    named = _dated("In 2021 the plant produced 5,700 megawatts.", "2022-12-23")
    assert not finalize(asked, "It produced 5,700 megawatts [1].", named).abstained
    last = _dated("Last year the plant produced 5,700 megawatts.", "2022-01-10")
    assert not finalize(asked, "It produced 5,700 megawatts [1].", last).abstained
    # the source's own year, and the coming one when it speaks of it
    own = _dated("On Saturday the plant produced 900 megawatts.", "2021-05-02")
    assert not finalize(asked, "900 megawatts [1].", own).abstained
    grant = "Pell grants rise by $500 to $7,395 for the coming school year."
    fiscal = "By how much will the Pell Grant be raised in the 2023 fiscal year?"
    assert not finalize(fiscal, "By $500 [1].", _dated(grant, "2022-12-20")).abstained
    assert finalize(fiscal, "By $500 [1].", _dated(grant, "2021-12-20")).abstained
    assert not finalize(fiscal, "By $500 [1].", _dated(grant, None)).abstained  # undated
    # only the question's own words: a year in the earlier question it follows is no demand
    follow = "How much did it produce? (follow-up to: What happened at the plant in 2021?)"
    assert not finalize(
        follow, "900 megawatts [1].", _dated("It made 900 megawatts.", "2022-01-05")
    ).abstained


def test_a_follow_up_naming_nothing_new_is_answered_from_its_story():
    passages = _passages()
    asked = "What was the city's population before the war?"
    reply = "Putin and Lukashenko met in Minsk on December 19 [3]."
    assert finalize(asked, reply, passages, story=frozenset({"a0"})).abstained
    assert not finalize(asked, reply, passages, story=frozenset({"a2"})).abstained
    assert not finalize(asked, reply, passages).abstained  # no story: a first question
    # one cited source of the story is enough: a note on another outlet's figure may follow
    both = "Air defences shot down 30 drones [1]. Putin and Lukashenko met in Minsk [3]."
    assert not finalize(asked, both, passages, story=frozenset({"a0"})).abstained
    earlier = ["When was Kherson liberated?", "How long had the occupation lasted?"]
    assert not new_names(asked, earlier)
    assert not new_names("How many were killed in Kherson?", earlier)
    assert new_names("And in Bakhmut?", earlier) == {"bakhmut"}
    assert mentions("the ukrainian army", "ukraine") and not mentions("a bakery", "bakhmut")


def test_a_question_naming_its_days_is_not_answered_from_older_sources():
    asked = "Which state was drenched by a storm this week?"
    old = _dated("Louisiana was drenched by Hurricane Nicholas.", "2021-09-15")
    reply = "Louisiana [1]."
    assert finalize(asked, reply, old, since=date(2023, 1, 3)).abstained
    assert not finalize(asked, reply, old, since=date(2021, 9, 13)).abstained
    assert not finalize(asked, reply, old).abstained
    assert not finalize(
        asked, reply, _dated(old[0].chunk.text, None), since=date(2023, 1, 3)
    ).abstained


def test_a_story_follow_up_is_checked_on_its_own_words_not_the_earlier_questions():
    """A follow-up is searched with the earlier questions appended; the paragraph that
    answers it need not repeat their names when the answer stays on the story."""
    passages = _passages()
    asked = "Who met there? (follow-up to: What did the G7 and Zelensky agree in Paris?)"
    reply = "Putin and Lukashenko met [3]."
    assert finalize("Who met there?", reply, passages, asked, story=frozenset({"a2"})).text == (
        reply
    )
    # without a story the earlier questions' names still have to be in the cited source
    assert finalize("Who met there?", reply, passages, asked).abstained


def test_a_bare_name_moves_to_the_source_that_names_it():
    """The small model answered "Narendra Modi [2]." with Modi in source [1]: an answer that
    is only a name claims nothing its new source must hold beyond the name."""
    passages = _passages()
    moved = finalize("Who did Putin meet in Minsk?", "Lukashenko [1].", passages)
    assert moved.text == "Lukashenko [3]." and moved.citations[0].article_id == "a2"
    # a name no source holds stays unsupported, and a claim about a name is not moved
    assert finalize("Who did Putin meet in Minsk?", "Kissinger [1].", passages).abstained
    claim = "Lukashenko hosted the talks in his palace [1]."
    assert finalize("Who did Putin meet in Minsk?", claim, passages).abstained


def test_a_yes_in_the_questions_own_words_must_stand_in_the_source():
    passages = _passages()
    # the source says the cap is set, not that it was lifted
    assert finalize("Was the oil cap lifted?", "The oil cap was lifted [2].", passages).abstained
    assert finalize("Was the cap set?", "The cap was set [2].", passages).text == (
        "The cap was set [2]."
    )
    # an answer with words of its own goes to the other checks, as any answer does
    answer = "Yes, the price cap is 60 dollars a barrel [2]."
    assert not finalize("Was the oil cap lifted?", answer, passages).abstained


def test_an_unsupported_opening_takes_the_context_after_it_along():
    """The opening sentence is the answer: when no source holds it, the sentence copied
    from a source after it is no answer on its own."""
    passages = _passages()
    reply = "It was signed by Lukashenko [1]. The price cap on Russian crude oil is set [2]."
    assert finalize("Who signed the bill?", reply, passages).abstained
    # a later sentence that fails is dropped, and the opening stands
    reply = "The price cap is 60 dollars a barrel [2]. It was set by Kissinger [2]."
    assert finalize("What is the oil cap?", reply, passages).text == (
        "The price cap is 60 dollars a barrel [2]."
    )


def test_a_copied_source_list_is_cut_off_with_the_line_that_introduced_it():
    # the bundled model once went on from its answer to copy the prompt's source headers,
    # one of them naming what the question asked ("[4] ... train in Oklahoma")
    raw = (
        "Air defences shot down 30 of the 35 drones [1]. Other developments:\n\n"
        "[3] Minsk talks (2022-12-19)\n\n[2] Oil cap (2022-12-19)"
    )
    answer = finalize("How many drones were shot down?", raw, _passages())
    assert answer.text == "Air defences shot down 30 of the 35 drones [1]."
    assert [c.number for c in answer.citations] == [1]


def test_a_name_opening_the_sentence_must_stand_in_its_source():
    # "Lukashenko" opens the sentence, so it is capitalised anyway; the sources capitalise it
    # mid-sentence, which makes it a name to check, and [1] does not name him
    made_up = finalize(
        "Who shot down the drones?", "Lukashenko shot down the drones [1].", _passages()
    )
    assert made_up.abstained
    kept = finalize(
        "Who shot down the drones?", "Air defences shot down 30 drones [1].", _passages()
    )
    assert not kept.abstained and kept.text == "Air defences shot down 30 drones [1]."


def test_part_of_a_count_is_no_count_of_the_whole():
    wounded = "How many people were wounded there?"
    part = "Workers said 18 of the injured were in serious condition. It lasted eight months."
    assert lacks_whole_count(part, wounded)
    assert not lacks_whole_count("Shelling killed 10 people and wounded 55.", wounded)
    assert lacks_whole_count("Shops and cars were set on fire.", wounded)
    # the part is what is asked: its clause shares the question's words
    assert not lacks_whole_count(part, "How many were in serious condition?")
    assert not lacks_whole_count(part, "How many months did the occupation last?")
    # only "how many" asks for a count
    assert not lacks_whole_count(part, "Who was injured?")


def test_same_story_needs_the_questions_names_most_of_its_words_and_its_week():
    """The gate of the last try: a passage of the question's own story, not of its topic."""
    drones, _, minsk = _passages()
    asked = "How many of the drones launched at Kyiv were shot down?"
    assert same_story(asked, drones, 0.5, None)
    assert same_story(asked, drones, 0.5, date(2022, 12, 12))  # within the week asked
    assert not same_story(asked, drones, 0.5, date(2022, 12, 20))  # older than that week
    assert not same_story(asked, drones, 0.9, None)  # "how" and "many" are not in it
    # another city's drones: the topic, not the story
    assert not same_story("How many drones were shot down over Odesa?", drones, 0.3, None)
    assert not same_story("Where did Putin meet Lukashenko?", drones, 0.0, None)
    assert same_story("Where did Putin meet Lukashenko?", minsk, 0.4, None)  # 2 words of 5
