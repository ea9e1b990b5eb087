"""End to end with the bundled local LLM (Qwen2.5 1.5B via llama.cpp) over the sample corpus."""

from __future__ import annotations

from typing import Any

import pytest
from replies import cites

from assistant import CANNOT_ANSWER, Assistant, answer

pytestmark = pytest.mark.llm


@pytest.fixture(scope="module")
def local(sample_index) -> Assistant:
    return Assistant(index_dir=sample_index)


def test_factual_question_is_answered_with_a_citation_to_the_right_article(local):
    reply = local.ask("In which city did IAEA chief Rafael Grossi meet Rosatom's head?")
    assert not reply.abstained
    assert "Istanbul" in reply.text
    assert reply.citations, reply.text
    assert cites(reply, "Zaporizhzhia")
    for c in reply.citations:
        assert f"[{c.number}]" in reply.text
        article = local.index().articles[c.article_id]
        assert article.text[c.start : c.end] == c.text


def test_unanswerable_question_is_refused(local):
    reply = local.ask("Who won the 2022 Nobel Peace Prize?")
    assert reply.abstained, reply.text
    assert reply.text == CANNOT_ANSWER
    assert reply.citations == ()


def test_an_answer_no_source_holds_is_refused(local):
    """The model answered this one with a foreign minister a source names on another matter,
    citing nothing: an answer that stands on no source is the refusal."""
    reply = local.ask("The Nobel committee met in Oslo this week. Who won the 2022 Peace Prize?")
    assert reply.abstained, reply.text
    assert reply.text == CANNOT_ANSWER


def test_answer_function_uses_the_bundled_default_index():
    reply = answer("How many missiles did Russia fire at Ukraine on December 16?")
    assert "76" in reply.text, reply.text
    assert reply.citations


def test_saved_prompt_states_are_capped_by_count():
    """The count, not llama.cpp's byte capacity, bounds how many states are kept."""
    from types import SimpleNamespace

    from assistant.llms import _prompt_states

    states = _prompt_states(2)
    for key in [(1, 2), (1, 3), (4, 5)]:
        states[key] = SimpleNamespace(llama_state_size=1)
    assert list(states.cache_state) == [(1, 3), (4, 5)]
    assert states[(4, 5, 6)] is states.cache_state[(4, 5)]  # longest prefix


def test_a_state_is_saved_per_prompt_opening_and_for_the_last_sources():
    """llama-cpp-python saves a state after every reply (~0.6 s). Later prompts reuse a
    template's opening, and a question asked again its sources: one state is kept for each,
    the newest sources replacing the older, and a prompt that reads little past them (a
    one-source retry, a rewrite) saves none."""
    from types import SimpleNamespace

    import numpy as np
    from llama_cpp import Llama

    from assistant.llms import (
        SHARED_OPENING,
        SOURCES_WORTH_KEEPING,
        _prompt_states,
        _save_openings_and_sources,
    )

    saved: list[tuple[int, ...]] = []

    class Model:
        longest_token_prefix = staticmethod(Llama.longest_token_prefix)

        def __init__(self) -> None:
            self.input_ids = np.zeros(4096, dtype=np.intc)
            self.n_tokens = 0
            self.cache = _prompt_states(5)

        def save_state(self) -> SimpleNamespace:
            saved.append(tuple(self.input_ids[: self.n_tokens].tolist()))
            return SimpleNamespace(llama_state_size=1)

        def reply(self, tokens: list[int]) -> None:
            """What a completion leaves: the tokens in context, then the save."""
            self.input_ids[: len(tokens)] = tokens
            self.n_tokens = len(tokens)
            self.cache[tuple(tokens)] = self.save_state()

    model = Model()
    _save_openings_and_sources(model)
    answer, rewrite = list(range(SHARED_OPENING)), list(range(1000, 1000 + SHARED_OPENING))
    sources = list(range(2000, 2000 + SOURCES_WORTH_KEEPING))
    other = list(range(3000, 3000 + SOURCES_WORTH_KEEPING))
    model.reply([*answer, 7, 8])
    model.reply([*answer, 9])  # the same opening, little more: not saved
    model.reply([*answer, *sources, 9])  # its sources: saved
    model.reply([*answer, *sources[:-10], 4, 5])  # retried over part of them: not saved
    model.reply([*rewrite, 7])
    model.reply([*answer, *other, 9])  # the next question's sources replace the last ones
    model.reply([*answer[:-1], 5])  # one token short of the opening: saved
    assert saved == [
        (*answer, 7, 8),
        (*answer, *sources, 9),
        (*rewrite, 7),
        (*answer, *other, 9),
        (*answer[:-1], 5),
    ]
    assert list(model.cache.cache_state) == [
        (*answer, 7, 8),
        (*rewrite, 7),
        (*answer, *other, 9),
        (*answer[:-1], 5),
    ]


def _saved_prompts(llama: Any) -> list[str]:
    """The text of each prompt the model holds a saved state for."""
    return [
        llama.detokenize(list(key)).decode("utf-8", "ignore") for key in llama.cache.cache_state
    ]


def _loaded(assistant: Assistant) -> Any:
    """The llama.cpp model the assistant's answers come from (one per process)."""
    from assistant.llms import _llama, make_llm

    model = make_llm(assistant.settings.llm)
    o = model.options
    return _llama(model.model_path, o.n_ctx, o.threads, o.prompt_states)


def test_the_readmes_kherson_conversation_after_warm_up_restores_both_prompts_states(
    readme_bot,
):
    """The README's two-turn conversation, asked as it asks it (the bundled index, k = 4): the
    first answer states at least 10 killed, the follow-up 55 wounded, both cited to the Kherson
    article. After warm_up, the model holds a saved state for each template (the rewrite and
    the answer prompts alternate in a conversation); the two turns restore them, the only state
    they add holds a question's sources, and a reply restored from it is the reply computed
    afresh. One conversation checks all of it: a turn takes about 20 s on 2 cores."""
    bot = readme_bot
    llama = _loaded(bot)
    llama.cache.cache_state.clear()
    bot.warm_up()
    primed = _saved_prompts(llama)
    assert len(primed) == 2
    assert any("You answer questions about news articles" in text for text in primed)
    assert any("You rewrite a user's follow-up question" in text for text in primed)
    first = bot.ask("What happened in central Kherson on December 24, 2022?")
    assert "10" in first.text and cites(first, "Kherson"), first.text
    follow = bot.ask("How many people were wounded there?", history=[(first.question, first.text)])
    assert "55" in follow.text and cites(follow, "Kherson"), follow.text
    kept = _saved_prompts(llama)
    assert len(kept) <= bot.settings.llm.prompt_states
    assert all(opening in kept for opening in primed)
    added = [text for text in kept if text not in primed]
    assert len(added) == 1 and "Kherson" in added[0] and "Question:" in added[0], added
    # a state keeps one row of the logits buffer, not a 0.3 GB copy nothing reads
    assert all(state.scores.nbytes < 10**6 for state in llama.cache.cache_state.values())
    again = bot.ask("How many people were wounded there?", history=[(first.question, first.text)])
    assert again.text == follow.text


def test_warm_up_without_an_index_or_a_model_only_logs(tmp_path, caplog):
    nothing = Assistant(index_dir=tmp_path / "none", llm={"backend": "passages"})
    nothing.warm_up()  # no index, no model to prime: no error
    missing = Assistant(index_dir=tmp_path / "none", llm={"model": str(tmp_path / "no.gguf")})
    with caplog.at_level("WARNING", logger="assistant.core"):
        missing.warm_up()
    assert "no.gguf" in caplog.text


def test_a_model_file_that_is_missing_or_not_a_model_is_named_with_its_setting(
    tmp_path, sample_index
):
    from assistant import LLMError

    bad = tmp_path / "notes.gguf"
    bad.write_text("not a model")
    for path in (tmp_path / "no.gguf", bad):
        assistant = Assistant(index_dir=sample_index, llm={"model": str(path)})
        with pytest.raises(LLMError, match=rf"llm\.model: .*{path.name}"):
            assistant.ask("How many drones were shot down over Kyiv?", k=1)
