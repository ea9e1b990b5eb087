"""The conversation set and its scoring: the file's facts are in the articles, turns are
scored right / refused / wrong, and `assistant eval` recognises a conversation file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.chain import _looks_dependent
from assistant.cli import main
from assistant.errors import AssistantError
from assistant.evaluation import (
    EvidenceIndex,
    QAItem,
    TurnRecord,
    contains_answer,
    conversation_metrics,
    is_conversation_file,
    load_conversations,
    outcome,
)
from assistant.settings import PROJECT_DIR
from assistant.stores.faiss import load_index

CONVERSATIONS = PROJECT_DIR / "data" / "sample" / "conversations.jsonl"
QA_FILE = PROJECT_DIR / "data" / "sample" / "qa.jsonl"


def test_sample_conversations_are_checkable_in_the_articles(sample_index: Path) -> None:
    conversations = load_conversations(CONVERSATIONS)
    assert len(conversations) >= 30
    assert len({c.id for c in conversations}) == len(conversations)
    assert all(2 <= len(c.turns) <= 4 for c in conversations)
    follow_ups = [t for c in conversations for t in c.turns[1:]]
    assert sum(not t.answerable for t in follow_ups) >= 8
    # most follow-ups lean on the conversation: a pronoun, or too short to stand alone
    assert sum(_looks_dependent(t.question) for t in follow_ups) >= 0.6 * len(follow_ups)
    data = load_index(sample_index)
    evidence_index = EvidenceIndex(data)
    for conversation in conversations:
        for turn in conversation.turns:
            where = f"{conversation.id}: {turn.question}"
            if not turn.answerable:
                assert not turn.answers and not turn.evidence, where
                continue
            assert turn.answers and turn.evidence and turn.article, where
            evidence = evidence_index.resolve(turn)
            assert not evidence.missing, where  # every quoted text is in the index
            (article_id,) = evidence_index.record(turn.article)
            text = data.articles[article_id].text
            assert all(e.casefold() in " ".join(text.split()).casefold() for e in turn.evidence)
            # the gold answer is stated in the article the turn names
            assert contains_answer(text, turn.answers), where


def test_conversation_files_are_told_apart_and_bad_ones_named(tmp_path: Path) -> None:
    assert is_conversation_file(CONVERSATIONS) and not is_conversation_file(QA_FILE)
    bad = tmp_path / "chats.jsonl"
    bad.write_text('{"id": "a", "turns": [{"question": "q?"}]}\n{"id": "b", "turns": []}\n')
    with pytest.raises(AssistantError, match=r"chats\.jsonl:2: .*'turns'"):
        load_conversations(bad)
    bad.write_text('{"id": "a", "turns": [{"question": "q?"}, {"answers": ["x"]}]}\n')
    with pytest.raises(AssistantError, match=r"chats\.jsonl:1: .*in turn 2"):
        load_conversations(bad)
    good = tmp_path / "good.jsonl"
    good.write_text('{"turns": [{"question": "q?", "answerable": false}]}\n')
    (chat,) = load_conversations(good)
    assert chat.id == "line 1" and chat.turns == (QAItem("q?", (), (), None, False, 1),)


def test_outcomes_and_turn_metrics() -> None:
    asked = QAItem("How many?", answers=("55",))
    unanswerable = QAItem("Which?", answerable=False)
    assert outcome(asked, "55 were wounded [1].", refused=False) == "right"
    assert outcome(asked, "At least 10 [1].", refused=False) == "wrong"
    assert outcome(asked, "No answer here.", refused=True) == "refused"
    assert outcome(unanswerable, "Some answer.", refused=False) == "wrong"
    assert outcome(unanswerable, "No answer here.", refused=True) == "refused"

    records = [
        TurnRecord("a", 1, "q", True, outcome="right", correct=True, citations=2,
                   citations_on_evidence=1, evidence_in_context=True, total_seconds=1.0),
        TurnRecord("a", 2, "q", True, outcome="refused", evidence_in_context=False,
                   total_seconds=2.0),
        TurnRecord("a", 3, "q", False, outcome="refused", correct=True, total_seconds=3.0),
        TurnRecord("b", 1, "q", True, outcome="wrong", citations=1, evidence_in_context=True,
                   total_seconds=4.0),
        TurnRecord("b", 2, "q", False, outcome="wrong", citations=1, total_seconds=5.0),
    ]  # fmt: skip
    m = conversation_metrics(records)
    assert (m["conversations"], m["turns"], m["first_turns"], m["follow_ups"]) == (2, 5, 2, 3)
    assert m["accuracy"] == pytest.approx(2 / 5)
    assert m["first_turn_accuracy"] == pytest.approx(1 / 2)
    assert m["follow_up_accuracy"] == pytest.approx(1 / 3)
    assert (m["answerable_right"], m["answerable_refused"], m["answerable_wrong"]) == (1, 1, 1)
    assert m["answerable_follow_up_accuracy"] == 0.0
    assert m["rejection_rate"] == pytest.approx(1 / 2)
    # citations of answered answerable turns only: 2 + 1, of which 1 on the evidence
    assert (m["citations"], m["citation_precision"]) == (3, pytest.approx(1 / 3))
    assert m["evidence_in_context"] == pytest.approx(2 / 3)
    assert m["total_p50"] == 3.0


def test_eval_command_scores_a_conversation_file(sample_index: Path, tmp_path: Path) -> None:
    out = tmp_path / "turns.json"
    result = CliRunner().invoke(
        main,
        ["--index", str(sample_index), "eval", str(CONVERSATIONS), "--backend", "passages",
         "--limit", "3", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for label in ("Turns right", "First turns right", "Follow-ups right", "Unanswerable refused",
                  "Citation precision", "Evidence given to the model"):  # fmt: skip
        assert label in result.output
    report = json.loads(out.read_text())
    chats = load_conversations(CONVERSATIONS)[:3]
    turns = report["turns"]
    assert [(t["conversation"], t["question"]) for t in turns] == [
        (c.id, t.question) for c in chats for t in c.turns
    ]
    items = [t for c in chats for t in c.turns]
    for item, turn in zip(items, turns, strict=True):
        refused = turn["outcome"] == "refused"
        assert turn["outcome"] == outcome(item, turn["answer"], refused)
        assert turn["correct"] == (turn["outcome"] == ("right" if item.answerable else "refused"))
    m = report["conversations"]
    assert m["turns"] == len(items)
    assert m["accuracy"] == pytest.approx(sum(t["correct"] for t in turns) / len(items))
    # the passages backend quotes the best sentences: the evidence reaches it on most turns
    assert m["evidence_in_context"] >= 0.7


def test_eval_refuses_no_answers_for_conversations(sample_index: Path) -> None:
    result = CliRunner().invoke(
        main, ["--index", str(sample_index), "eval", str(CONVERSATIONS), "--no-answers"]
    )
    assert result.exit_code == 2 and "scored by their answers" in result.output
