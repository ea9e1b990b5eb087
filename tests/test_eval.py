"""`assistant eval`: metric functions on hand-made cases, then the command on the sample set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.errors import AssistantError
from assistant.evaluation import (
    EvidenceIndex,
    QAItem,
    Record,
    answer_metrics,
    contains_answer,
    first_hit,
    load_qa,
    retrieval_metrics,
)
from assistant.settings import PROJECT_DIR
from assistant.stores.faiss import IndexData, load_index
from assistant.types import IndexedArticle

QA_FILE = PROJECT_DIR / "data" / "sample" / "qa.jsonl"


# -- answers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "answers", "expected"),
    [
        ("Air defences destroyed 30 of them [1].", ["30"], True),
        ("It was  NANCY\nPelosi who got the flag.", ["Nancy Pelosi"], True),
        ("Nancy [2] Pelosi", ["Nancy Pelosi"], True),  # a marker inside the answer
        ("A package worth $1.85 billion.", ["$1.85 billion"], True),
        ("At least 100 people died.", ["10"], False),  # not a number inside a number
        ("In 2010 the city", ["10"], False),
        ("Iranian officials said", ["Iran"], False),  # not a word inside a word
        ("the S\u2011400 system", ["S-400", "S\u2011400"], True),
        ("Nothing here.", [], False),
        ("The 70,000 residents", ["70000", "70,000"], True),
    ],
)
def test_contains_answer(text: str, answers: list[str], expected: bool) -> None:
    assert contains_answer(text, answers) is expected


def test_retrieval_metrics_on_known_ranks() -> None:
    ranks = [1, 3, None, 10, 11]
    m = retrieval_metrics(ranks)
    assert m["questions"] == 5
    assert m["hits@1"] == pytest.approx(1 / 5)
    assert m["hits@4"] == pytest.approx(2 / 5)
    assert m["hits@10"] == pytest.approx(3 / 5)
    assert m["mrr@10"] == pytest.approx((1 + 1 / 3 + 1 / 10) / 5)  # rank 11 is past the cut
    assert retrieval_metrics([])["hits@1"] == 0.0
    assert first_hit([False, False, True, True]) == 3
    assert first_hit([False]) is None


def test_answer_metrics_count_each_population_apart() -> None:
    records = [
        # answerable, correct, 2 citations of which 1 on the evidence
        Record("q1", True, True, answer="x", correct=True, abstained=False, citations=2,
               citations_on_evidence=1, first_token_seconds=0.5, total_seconds=1.0),
        # answerable, abstained: a false rejection, wrong, its citations are not counted
        Record("q2", True, True, answer="no", correct=False, abstained=True, citations=0,
               first_token_seconds=0.1, total_seconds=0.2),
        # answerable, wrong, 1 citation on the evidence
        Record("q3", True, True, answer="y", correct=False, abstained=False, citations=1,
               citations_on_evidence=1, first_token_seconds=0.3, total_seconds=3.0),
        # unanswerable and rejected; unanswerable and answered anyway
        Record("q4", False, False, answer="no", abstained=True, total_seconds=0.1),
        Record("q5", False, False, answer="made up", abstained=False, citations=1,
               total_seconds=0.1),
    ]  # fmt: skip
    m = answer_metrics(records)
    assert m["accuracy"] == pytest.approx(1 / 3)
    assert m["accuracy_answered"] == pytest.approx(1 / 2)  # q2's refusal is not counted
    assert m["citation_precision"] == pytest.approx(2 / 3)  # q5's citation is not scored
    assert m["rejection_rate"] == pytest.approx(1 / 2)
    assert m["false_rejection_rate"] == pytest.approx(1 / 3)
    assert m["mean_answer_chars"] == pytest.approx((1 + 1 + 7) / 3)  # abstentions left out
    assert m["first_token_p50"] == pytest.approx(0.3)
    assert answer_metrics([])["accuracy"] is None


# -- evidence ------------------------------------------------------------------------------


def _data() -> IndexData:
    text_a = "Alpha opens. The evidence sentence sits here in article A. Alpha closes."

    def article(aid: str, key: str, origin: str, text: str, url: str | None = None):
        return IndexedArticle(aid, "t", key, "h", 1, url=url, origin=origin, text=text)

    articles = {
        "a1": article("a1", "a.txt", "/x/a.txt", text_a),
        # a JSON Lines file: keys carry the 1-based line, origins too
        "b1": article("b1", "b.jsonl#1", "/x/b.jsonl:1", "b"),
        "b2": article("b2", "b.jsonl#3", "/x/b.jsonl:3", "c"),
        "u1": article("u1", "https://e.org/u", "/x/u.html", "u", url="https://e.org/u"),
    }
    return IndexData({"dim": 4}, articles, [], None)


def test_evidence_references_resolve_to_articles() -> None:
    ev = EvidenceIndex(_data())
    # sample-style `article`: file#n is the n-th record from 0, whatever its line number
    assert ev.record("b.jsonl#0") == {"b1"}
    assert ev.record("b.jsonl#1") == {"b2"}
    assert ev.record("b.jsonl#2") == set()
    assert ev.record("b.jsonl") == {"b1", "b2"}
    assert ev.record("u.html") == {"u1"}
    # evidence values: ids, keys (1-based lines), urls, file names
    assert ev.resolve(QAItem("q", evidence=("b.jsonl#3",))).articles == {"b2"}
    assert ev.resolve(QAItem("q", evidence=("https://e.org/u", "a1"))).articles == {"u1", "a1"}
    item = QAItem("q", evidence=("not in any article",), article="a.txt")
    resolved = ev.resolve(item)
    assert resolved.articles == {"a1"} and resolved.texts == ("not in any article",)
    assert resolved.missing


def test_evidence_text_hits_by_containment_or_overlap() -> None:
    ev = EvidenceIndex(_data())
    text = ev.articles["a1"].text
    evidence = ev.resolve(QAItem("q", evidence=("the  EVIDENCE sentence sits here",)))
    assert not evidence.missing and not evidence.articles
    start = text.index("The evidence")
    end = text.index("Alpha closes")
    assert ev.holds(evidence, "a1", text[start:end], start, end)  # contains it
    # a chunk holding most of the evidence (it was split across chunks)
    cut = text.index("here")
    assert ev.holds(evidence, "a1", text[start:cut], start, cut)
    # a chunk touching only its last word does not
    tail = text.index("here")
    assert not ev.holds(evidence, "a1", text[tail:], tail, len(text))
    assert not ev.holds(evidence, "b1", "b", 0, 1)
    by_article = ev.resolve(QAItem("q", article="b.jsonl#1"))
    assert ev.holds(by_article, "b2", "anything") and not ev.holds(by_article, "b1", "b")


def test_load_qa_reads_fields_and_names_bad_lines(tmp_path: Path) -> None:
    items = load_qa(QA_FILE)
    assert len(items) == 24
    assert sum(not i.answerable for i in items) == 5
    assert items[0].answers == ("30", "thirty") and items[0].article == "kyiv-drone-strikes.txt"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok?", "evidence": "text"}\n\n{"question": oops}\n')
    with pytest.raises(AssistantError, match=r"bad\.jsonl:3"):
        load_qa(bad)
    bad.write_text('{"answers": ["x"]}\n')
    with pytest.raises(AssistantError, match="question"):
        load_qa(bad)
    one = tmp_path / "one.jsonl"
    one.write_text('{"question": "q?", "evidence": "single text", "answerable": false}\n')
    assert load_qa(one) == [QAItem("q?", (), ("single text",), None, False, 1)]


# -- the command ---------------------------------------------------------------------------


def _independent_rank(item: QAItem, retrieved: list[str], data: IndexData) -> int | None:
    """The first retrieved chunk from the qa file's article or holding its evidence text."""
    chunks = {c.id: c for c in data.chunks}
    name, _, number = item.article.partition("#")
    wanted = []  # (line, id) of the articles from the named file
    for aid, a in data.articles.items():
        path, line = a.origin, "0"
        if ".jsonl:" in path:
            path, _, line = path.rpartition(":")
        if Path(path).name == name:
            wanted.append((int(line), aid))
    wanted.sort()
    article_ids = {wanted[int(number)][1]} if number else {aid for _, aid in wanted}
    assert article_ids, item.article
    for rank, chunk_id in enumerate(retrieved, start=1):
        chunk = chunks[chunk_id]
        flat = " ".join(chunk.text.lower().split())
        if chunk.article_id in article_ids or any(
            " ".join(e.lower().split()) in flat for e in item.evidence
        ):
            return rank
    return None


def test_eval_command_on_the_sample_set(sample_index: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    result = CliRunner().invoke(
        main,
        ["--index", str(sample_index), "eval", str(QA_FILE), "--backend", "passages",
         "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for label in ("Hits@1", "Hits@4", "Hits@10", "MRR@10", "Accuracy", "Citation precision",
                  "Rejection (unanswerable)", "False rejection", "First token"):  # fmt: skip
        assert label in result.output
    report = json.loads(out.read_text())
    items = load_qa(QA_FILE)
    records = report["questions"]
    assert [r["question"] for r in records] == [i.question for i in items]
    data = load_index(sample_index)

    # every rank agrees with an independent reading of the qa file and the index
    for item, record in zip(items, records, strict=True):
        assert len(record["retrieved"]) == 10
        if item.answerable:
            assert record["rank"] == _independent_rank(item, record["retrieved"], data)
        else:
            assert record["rank"] is None and not record["has_evidence"]

    # the summary is the mean over the answerable questions' ranks
    ranks = [r["rank"] for r in records if r["answerable"]]
    r = report["retrieval"]
    assert r["questions"] == 19
    for k in (1, 4, 10):
        assert r[f"hits@{k}"] == pytest.approx(sum(x is not None and x <= k for x in ranks) / 19)
    assert r["mrr@10"] == pytest.approx(sum(1 / x for x in ranks if x) / 19)
    assert r["hits@10"] >= 0.9  # the sample set is easy: a drop here is a retrieval regression

    a = report["answers"]
    assert report["settings"]["backend"] == "passages"
    answerable = [x for x in records if x["answerable"]]
    correct = sum(
        bool(x["correct"]) for x in answerable
    )  # the passages backend quotes sentences: right when it quotes the answer
    assert a["accuracy"] == pytest.approx(correct / 19)
    for item, record in zip(items, records, strict=True):
        if item.answerable and not record["abstained"]:
            assert record["correct"] == contains_answer(record["answer"], item.answers)
        assert record["total_seconds"] >= record["first_token_seconds"] > 0
    unanswerable = [x for x in records if not x["answerable"]]
    assert a["rejection_rate"] == pytest.approx(sum(x["abstained"] for x in unanswerable) / 5)
    assert a["false_rejection_rate"] == pytest.approx(sum(x["abstained"] for x in answerable) / 19)
    cited = [x for x in answerable if not x["abstained"]]
    assert a["citations"] == sum(x["citations"] for x in cited)
    assert a["citation_precision"] == pytest.approx(
        sum(x["citations_on_evidence"] for x in cited) / a["citations"]
    )
    assert a["accuracy"] >= 0.5


def test_eval_command_builds_a_temporary_index_of_articles(tmp_path: Path) -> None:
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "tram.md").write_text(
        "# Lisbon reopens tram line 24\n\nThe city of Lisbon reopened tram line 24 on Monday "
        "after a restoration that cost 4.2 million euros, the operator Carris said.\n"
    )
    (articles / "bridge.txt").write_text(
        "Porto bridge closed for repairs\nThe Luiz I bridge in Porto will close to traffic for "
        "six weeks of repairs starting in March, the council announced.\n"
    )
    qa = tmp_path / "qa.jsonl"
    qa.write_text(
        json.dumps({"question": "How much did the Lisbon tram restoration cost?",
                    "answers": ["4.2 million euros"], "article": "tram.md"}) + "\n"
        + json.dumps({"question": "How long will the Porto bridge close?",
                      "answers": ["six weeks"], "evidence": "close to traffic for six weeks"})
        + "\n"
    )  # fmt: skip
    index = tmp_path / "configured-index"  # must stay untouched: the articles get their own
    out = tmp_path / "results.json"
    result = CliRunner().invoke(
        main,
        ["--index", str(index), "eval", str(qa), "--articles", str(articles), "--no-answers",
         "--k", "4", "--limit", "2", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert not index.exists()
    assert "Hits@4" in result.output and "Hits@10" not in result.output
    assert "Accuracy" not in result.output
    report = json.loads(out.read_text())
    assert report["answers"] is None
    assert report["retrieval"]["questions"] == 2
    assert report["retrieval"]["hits@1"] == 1.0 and report["retrieval"]["mrr@4"] == 1.0
