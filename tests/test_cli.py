"""The `assistant` command, through click's runner, on a private copy of the sample index."""

from __future__ import annotations

import json

from click.testing import CliRunner

from assistant.cli import main


def _ask(index, *args: str):
    """`assistant --index INDEX ask --backend passages ARGS...`"""
    return CliRunner().invoke(main, ["--index", str(index), "ask", "--backend", "passages", *args])


def test_ask_prints_the_answer_and_numbered_sources(index_copy):
    result = _ask(index_copy, "How many people were killed by shelling in central Kherson?")
    assert result.exit_code == 0, result.output
    answer, sources = result.output.split("Sources (articles dated ")
    assert "Kherson" in answer
    assert sources.split(":")[0].endswith("2022-12-25)")  # the Kherson article's date
    assert "[1] Shelling of Central Kherson Kills 10 on Christmas Eve" in result.output
    assert "chars " in result.output


def test_ask_json_has_citations_with_spans(index_copy):
    result = _ask(index_copy, "--json", "What is the price cap on Russian seaborne crude oil?")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["abstained"] is False
    citation = payload["citations"][0]
    assert {
        "number",
        "article_id",
        "title",
        "date",
        "source",
        "url",
        "text",
        "start",
        "end",
        "score",
    } <= set(citation)
    assert citation["end"] - citation["start"] == len(citation["text"])


def test_ask_with_filters_that_match_nothing_abstains(index_copy):
    result = _ask(index_copy, "--source", "Nobody", "What happened in Kyiv?")
    assert result.exit_code == 0, result.output
    assert "do not contain the answer" in result.output


def test_as_of_leaves_out_later_articles_and_is_checked(index_copy):
    question = "What did Kissinger propose?"
    result = _ask(index_copy, "--json", "--as-of", "2022-12-20", question)
    assert json.loads(result.output)["dates"] == ["2022-12-19"]
    before = _ask(index_copy, "--as-of", "2022-12-18", question)  # the essay came out on 12-19
    assert "Kissinger" not in before.output
    wrong = _ask(index_copy, "--as-of", "yesterday", question)
    assert wrong.exit_code == 2
    assert "as_of: 'yesterday' is not a date; use YYYY-MM-DD" in wrong.output


def test_missing_index_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(
        main, ["--index", str(tmp_path / "none"), "ask", "--backend", "passages", "Anything?"]
    )
    assert result.exit_code == 1
    assert "no index at" in result.output and "assistant index build" in result.output
    assert "Traceback" not in result.output


def test_chat_keeps_the_conversation_and_obeys_its_commands(index_copy):
    """The REPL over stdin: an answer, a follow-up, /sources, an unknown command, /reset."""
    lines = [
        "How many people were killed by shelling in central Kherson?",
        "How many were wounded there?",
        "/sources",
        "/help",
        "/reset",
        "/sources",
        "/quit",
        "Never asked: the REPL has quit",
    ]
    result = CliRunner().invoke(
        main,
        ["--index", str(index_copy), "chat", "--backend", "passages"],
        input="\n".join(lines) + "\n",
    )
    assert result.exit_code == 0, result.output
    out = result.output
    replies = out.split("> ")
    assert "Commands: /sources" in replies[0]
    assert "10" in replies[1] and "[1] Shelling of Central Kherson" in replies[1]
    # the follow-up is read with the first question: it finds the same article's lede
    assert "55" in replies[2] and "Shelling of Central Kherson" in replies[2]
    assert "Sources (articles dated 2022-12-25):" in replies[3] and "chars " in replies[3]
    assert "Unknown command /help" in replies[4]
    assert "New conversation" in replies[5]
    assert "cites no sources" in replies[6]
    assert "Never asked" not in out


def test_chat_applies_the_filters_and_ends_at_end_of_input(index_copy):
    result = CliRunner().invoke(
        main,
        ["--index", str(index_copy), "chat", "--backend", "passages", "--source", "Nobody"],
        input="What happened in Kyiv?\n",
    )
    assert result.exit_code == 0, result.output
    assert "do not contain the answer" in result.output
