"""`Assistant` (core.py): questions with filters and a context budget, the article list and
statistics, adding and removing articles, readers that see writes, and the error paths.

Real MiniLM and real FAISS over the sample corpus; answers come from the `passages` backend
(no LLM) except where a test is about what happens around the chat model.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from replies import cites

from assistant import (
    Assistant,
    Filters,
    IndexedArticle,
    IndexNotFoundError,
    LLMError,
    answer,
)
from assistant.articles import load_paths

FERRY = (
    "Naissaar ferry returns after winter storms\n"
    "The passenger ferry between Tallinn and the island of Naissaar resumed its daily crossings "
    "on Thursday after storms had kept it in port for eleven days, the island's council said. "
    "The first boat carried 46 passengers and a delivery of heating oil for the lighthouse."
)
FERRY_QUESTION = "When did the Naissaar ferry resume its crossings?"


def _passages(index: Path, **settings) -> Assistant:
    return Assistant(index_dir=index, llm={"backend": "passages"}, **settings)


def test_articles_are_typed_newest_first_and_listed_without_text(passages_assistant, sample_dir):
    rows = passages_assistant.articles()
    assert all(isinstance(r, IndexedArticle) for r in rows)
    assert {r.id for r in rows} == {a.id for a in load_paths([sample_dir]).articles}
    assert rows == sorted(rows, key=lambda r: (r.date or "", r.title), reverse=True)
    assert all(r.text == "" and r.hash and r.key for r in rows)
    assert sum(r.chunks for r in rows) == passages_assistant.stats()["chunks"]
    # the index itself keeps the text, so cited spans can be shown in context
    full = passages_assistant.index().articles[rows[0].id]
    assert full.text and full.hash == rows[0].hash


def test_stats_match_the_sample_corpus(passages_assistant, sample_dir):
    loaded = load_paths([sample_dir]).articles
    dates = sorted(a.date for a in loaded if a.date)
    stats = passages_assistant.stats()
    assert stats["articles"] == len(loaded) == 12
    assert stats["sources"] == sorted({a.source for a in loaded if a.source})
    assert stats["date_range"] == (dates[0], dates[-1])
    assert stats["embedding_model"] == passages_assistant.settings.embedding.model
    assert stats["dim"] == passages_assistant.embedder.dim == 384


def test_settings_dict_and_keyword_overrides_are_merged(index_copy):
    bot = Assistant({"retrieval": {"k": 3}}, index_dir=index_copy, llm={"backend": "passages"})
    assert bot.settings.retrieval.k == 3 and bot.index_dir == index_copy
    assert len(bot.retrieve("Patriot air defence battery")) == 3
    assert len(bot.retrieve("Patriot air defence battery", k=6)) == 6


def test_added_article_is_answered_from_and_removed_again(passages_assistant, tmp_path):
    path = tmp_path / "naissaar-ferry.txt"
    path.write_text(FERRY)
    before = passages_assistant.ask(FERRY_QUESTION)
    assert not cites(before, "Naissaar")

    report = passages_assistant.add_articles([path])
    assert report.added == [str(path)] and report.chunks_embedded >= 1
    reply = passages_assistant.ask(FERRY_QUESTION)
    assert not reply.abstained
    assert reply.citations[0].title == "Naissaar ferry returns after winter storms"
    assert "Thursday" in reply.text
    assert passages_assistant.stats()["articles"] == 13
    # the same file again embeds nothing
    again = passages_assistant.add_articles([path])
    assert again.unchanged == [str(path)] and again.chunks_embedded == 0

    ferry = next(r for r in passages_assistant.articles() if "Naissaar" in r.title)
    assert passages_assistant.remove_articles([ferry.id]).removed == [ferry.id]
    assert passages_assistant.stats()["articles"] == 12
    passages = passages_assistant.retrieve(FERRY_QUESTION, k=10)
    assert all(p.chunk.article_id != ferry.id for p in passages)


def test_a_reader_sees_another_assistants_write_without_a_restart(index_copy, tmp_path):
    reader = _passages(index_copy)
    version = reader.index().version
    assert reader.index() is reader.index()  # unchanged index: not reloaded
    path = tmp_path / "naissaar-ferry.txt"
    path.write_text(FERRY)
    _passages(index_copy).add_articles([path])
    assert reader.index().version != version
    assert reader.retrieve(FERRY_QUESTION, k=1)[0].title.startswith("Naissaar ferry")


def test_filters_restrict_the_passages_an_answer_reads(passages_assistant):
    question = "What happened to Ukraine's power grid?"
    kyiv = passages_assistant.ask(question, filters=Filters(sources=("Kyiv Wire",)))
    assert kyiv.passages and {p.source for p in kyiv.passages} == {"Kyiv Wire"}
    assert {c.source for c in kyiv.citations} <= {"Kyiv Wire"}

    window = Filters(date_from="2022-12-10", date_to="2022-12-16")
    dated = passages_assistant.ask(question, k=8, filters=window)
    assert dated.passages
    assert all(p.date and "2022-12-10" <= p.date <= "2022-12-16" for p in dated.passages)

    early = passages_assistant.ask(question, filters=Filters(as_of="2022-12-12"))
    assert early.passages and all(p.date and p.date <= "2022-12-12" for p in early.passages)


def test_a_filter_nothing_matches_abstains(passages_assistant):
    reply = passages_assistant.ask(
        "What happened to Ukraine's power grid?", filters=Filters(sources=("No Such Wire",))
    )
    assert reply.abstained and not reply.citations and not reply.passages


def test_the_context_budget_caps_what_an_answer_reads(index_copy):
    question = "What happened to Ukraine's power grid?"
    bot = _passages(index_copy, retrieval={"context_chars": 1000})
    assert len(bot.retrieve(question, k=5)) == 5  # a search alone has no budget
    passages = bot.ask(question, k=5).passages
    assert 1 <= len(passages) < 5
    assert sum(len(p.chunk.text) for p in passages) <= 1000


def test_ask_is_the_last_event_of_stream(passages_assistant):
    question = "Where did Grossi meet the head of Rosatom?"
    events = list(passages_assistant.stream(question))
    assert events[0].kind == "sources" and events[-1].kind == "answer"
    streamed = events[-1].answer
    asked = passages_assistant.ask(question)
    assert asked == streamed and "Istanbul" in asked.text


def test_module_answer_uses_the_settings_given(index_copy):
    reply = answer(
        "Where did Grossi meet the head of Rosatom?",
        index_dir=index_copy,
        llm={"backend": "passages"},
    )
    assert "Istanbul" in reply.text and reply.citations


def test_a_missing_index_is_reported_with_the_command_that_builds_it(tmp_path):
    bot = _passages(tmp_path / "nowhere")
    with pytest.raises(IndexNotFoundError, match=r"no index at .*nowhere.*index build"):
        bot.ask("Where did Grossi meet the head of Rosatom?")
    with pytest.raises(IndexNotFoundError):
        bot.articles()


def test_an_unreachable_llm_server_is_an_llm_error_naming_it(index_copy):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    bot = Assistant(
        index_dir=index_copy, llm={"backend": "openai", "model": "any", "base_url": url}
    )
    with pytest.raises(LLMError, match=rf"cannot reach the openai server at {url}"):
        bot.ask("Where did Grossi meet the head of Rosatom?")


class BrokenChatModel(FakeListChatModel):
    """A chat model that fails the way a bug would, not the way a network does."""

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        raise ValueError("model bug")
        yield  # a generator, like the real ones

    def _call(self, messages, stop=None, run_manager=None, **kwargs):
        raise ValueError("model bug")


def test_other_model_errors_are_not_disguised_as_connection_errors(index_copy):
    bot = Assistant(index_dir=index_copy, chat_model=BrokenChatModel(responses=["unused"]))
    with pytest.raises(ValueError, match="model bug"):
        bot.ask("Where did Grossi meet the head of Rosatom?")
