"""Both index backends behind the one store interface: FAISS folders and PostgreSQL + pgvector.

Every test here runs on each backend: the same sample index (the PostgreSQL one migrated from
the session's FAISS index, so nothing is embedded twice), the real model and a real server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from assistant import Assistant, Filters, Settings
from assistant.cli import main
from assistant.errors import AssistantError, IndexMismatchError, IndexNotFoundError
from assistant.stores import open_store
from assistant.stores.migrate import migrate

NEW = {
    "llama.txt": "Llama census\n\nVolunteers counted 412 llamas in the Carpathian villages.",
    "tram.txt": "Tram line\n\nA new tram line opened in Lviv with nine stops and two depots.",
}
QUESTIONS = (
    "How many people lost power in Odesa?",
    "What did Kissinger propose?",
    "In which city did Grossi meet Likhachev?",
    "Which price cap on Russian oil took effect?",
)


@pytest.fixture(params=["faiss", "postgres"])
def backend(request, sample_index: Path, tmp_path: Path) -> dict[str, Any]:
    """Settings overrides naming a private copy of the sample index on each backend."""
    import shutil

    if request.param == "faiss":
        target = tmp_path / "index"
        shutil.copytree(sample_index, target)
        return {"index_dir": target}
    url = request.getfixturevalue("pg_url")
    migrate(Settings(index_dir=sample_index), url)
    return {"store": {"url": url}, "index_dir": tmp_path / "unused"}


@pytest.fixture(params=["faiss", "postgres"])
def empty_backend(request, tmp_path: Path) -> dict[str, Any]:
    """Settings overrides naming an empty store on each backend."""
    if request.param == "faiss":
        return {"index_dir": tmp_path / "index"}
    return {"store": {"url": request.getfixturevalue("pg_url")}, "index_dir": tmp_path / "unused"}


def make(backend: dict[str, Any], **overrides: Any) -> Assistant:
    return Assistant({**backend, "llm": {"backend": "passages"}}, **overrides)


def folder(tmp_path: Path, name: str, files: dict[str, str]) -> Path:
    path = tmp_path / name
    path.mkdir()
    for file, text in files.items():
        (path / file).write_text(text, encoding="utf-8")
    return path


def test_add_update_remove_and_dedup(backend, tmp_path):
    assistant = make(backend)
    assert assistant.stats()["articles"] == 12
    before = assistant.index().version
    report = assistant.add_articles([folder(tmp_path, "new", NEW)])
    assert len(report.added) == 2 and report.chunks_embedded == 2
    assert assistant.index().version != before  # the same Assistant sees the write
    assert assistant.retrieve("How many llamas were counted?", k=1)[0].title == "Llama census"

    again = folder(tmp_path, "again", {**NEW, "copy.txt": NEW["tram.txt"]})
    report = assistant.add_articles([again])
    assert len(report.unchanged) == 2 and len(report.duplicates) == 1 and not report.added

    changed = folder(
        tmp_path, "changed", {"llama.txt": "Llama census\n\nVolunteers counted 977 alpacas."}
    )
    report = assistant.add_articles([changed])
    assert len(report.updated) == 1 and report.chunks_embedded == 1
    passage = assistant.retrieve("How many alpacas were counted?", k=1)[0]
    assert "977 alpacas" in passage.chunk.text
    assert not any("412" in p.chunk.text for p in assistant.retrieve("llamas Carpathian", k=10))

    report = assistant.remove_articles([str(changed / "llama.txt"), "no-such-article"])
    assert len(report.removed) == 1 and len(report.rejected) == 1
    stats = assistant.stats()
    assert stats["articles"] == 13 and stats["chunks"] == len(
        [c for _, cs, _ in assistant.index().dump() for c in cs]
    )
    assert "Llama census" not in {row.title for row in assistant.articles()}
    # the removed and replaced chunks left no postings or document frequencies behind
    assert open_store(assistant.settings).verify(assistant.settings).startswith("ok: ")


def test_build_add_and_rebuild_from_nothing(empty_backend, tmp_path):
    assistant = make(empty_backend)
    report = assistant.add_articles([folder(tmp_path, "first", {"llama.txt": NEW["llama.txt"]})])
    assert len(report.added) == 1 and assistant.stats()["articles"] == 1
    first = assistant.index().version
    report = assistant.add_articles([folder(tmp_path, "second", {"tram.txt": NEW["tram.txt"]})])
    assert len(report.added) == 1 and assistant.stats()["articles"] == 2
    assert assistant.retrieve("Which city got a tram line?", k=1)[0].title == "Tram line"
    second = assistant.index().version
    report = assistant.build_index([tmp_path / "second"])
    assert (
        assistant.stats()["articles"] == 1 and len({first, second, assistant.index().version}) == 3
    )
    assert open_store(assistant.settings).verify(assistant.settings).startswith("ok: ")


def test_filters_are_applied_and_still_fill_k(backend):
    assistant = make(backend)
    window = Filters(date_from="2022-12-20", date_to="2022-12-23")
    passages = assistant.retrieve("What happened?", k=4, filters=window)
    assert passages and all("2022-12-20" <= p.date <= "2022-12-23" for p in passages)
    source = Filters(sources=("Kyiv Wire",))
    passages = assistant.retrieve("Kissinger ceasefire", k=2, filters=source)
    assert [p.source for p in passages] == ["Kyiv Wire", "Kyiv Wire"]
    nothing = Filters(date_from="2031-01-01")
    assert assistant.retrieve("Kherson", filters=nothing) == []


def test_answers_cite_the_index_through_assistant(backend):
    answer = make(backend).ask("In which city did Grossi meet Likhachev?")
    assert not answer.abstained and answer.citations
    assert "Istanbul" in answer.text


def test_both_backends_rank_alike(backend, sample_index):
    """The same passages come first on either backend (dense and BM25 alike)."""
    reference = Assistant(index_dir=sample_index)
    assistant = make(backend)
    for question in QUESTIONS:
        want = [p.chunk.id for p in reference.retrieve(question, k=3)]
        have = [p.chunk.id for p in assistant.retrieve(question, k=3)]
        assert have[0] == want[0], question
        assert len(set(have) & set(want)) >= 2, question


def test_other_chunking_is_refused(backend):
    assistant = make(backend, chunking={"max_chars": 900})
    with pytest.raises(IndexMismatchError, match=r"max_chars.*Rebuild it with `assistant --"):
        assistant.retrieve("Kherson")


def test_stats_list_and_verify(backend, sample_index):
    assistant = make(backend)
    stats = assistant.stats()
    reference = Assistant(index_dir=sample_index).stats()
    for key in ("articles", "chunks", "sources", "date_range", "embedding_model", "dim"):
        assert stats[key] == reference[key], key
    rows = assistant.articles()
    assert len(rows) == 12 and rows == sorted(
        rows, key=lambda r: (r.date or "", r.title), reverse=True
    )
    message = open_store(assistant.settings).verify(assistant.settings)
    assert message.startswith("ok: ") and "12 articles" in message


def test_migrate_round_trip_keeps_everything(backend, tmp_path):
    settings = make(backend).settings
    exported = tmp_path / "exported"
    done = migrate(settings, str(exported))
    assert (done.articles, done.chunks) == make(backend).index().checksum()[:2]
    copy = Assistant(index_dir=exported)
    assert copy.index().checksum() == make(backend).index().checksum()
    with pytest.raises(AssistantError, match="already holds an index"):
        migrate(settings, str(exported))


def test_postgres_tables_of_another_version_are_refused(sample_index, pg_url):
    migrate(Settings(index_dir=sample_index), pg_url)
    open_store(Settings(store={"url": pg_url})).run(  # as written before the postings table
        lambda conn: conn.execute(
            "UPDATE assistant_meta SET value = value - 'schema' WHERE key = 'manifest'"
        )
    )
    with pytest.raises(IndexMismatchError, match=r"schema 1\); this version reads schema 2"):
        make({"store": {"url": pg_url}}).retrieve("Kherson")


def test_empty_store_says_how_to_build(tmp_path, request):
    url = request.getfixturevalue("pg_url")
    with pytest.raises(IndexNotFoundError, match=r"assistant --store-url .* index build"):
        Assistant(store={"url": url}).retrieve("anything")


def test_cli_moves_the_sample_index_into_postgres_and_asks(sample_index, pg_url):
    runner = CliRunner()
    moved = runner.invoke(main, ["--index", str(sample_index), "index", "migrate", "--to", pg_url])
    assert moved.exit_code == 0, moved.output
    assert "copied 12 articles" in moved.output and "checksum" in moved.output
    verified = runner.invoke(main, ["--store-url", pg_url, "index", "verify"])
    assert verified.exit_code == 0 and "ok: postgresql://" in verified.output
    asked = runner.invoke(
        main,
        ["--store-url", pg_url, "ask", "--backend", "passages", "Where did Grossi meet Likhachev?"],
    )
    assert asked.exit_code == 0, asked.output
    assert "Istanbul" in asked.output and "Sources (articles dated 2022-12-23):" in asked.output


def test_postgres_broad_filters_search_the_graph_and_fill_k(sample_index, pg_url, monkeypatch):
    """Filters leaving many chunks go through HNSW with iterative scan; same passages."""
    from assistant.stores import postgres

    migrate(Settings(index_dir=sample_index), pg_url)
    assistant = make({"store": {"url": pg_url}})
    source = Filters(sources=("Kyiv Wire", "Danube Dispatch"))
    exact = [p.chunk.id for p in assistant.retrieve("Kissinger ceasefire", k=4, filters=source)]
    monkeypatch.setattr(postgres, "EXACT_BELOW", 0)
    graph = [p.chunk.id for p in assistant.retrieve("Kissinger ceasefire", k=4, filters=source)]
    assert len(graph) == 4 and graph == exact


def test_postgres_keyword_pruning_keeps_the_exact_bm25_top_k(sample_index, pg_url, monkeypatch):
    """Scoring the rare terms' chunks first, and ruling the rest out by a bound, gives the
    full scan's top k, with or without a filter."""
    from assistant.stores import postgres

    migrate(Settings(index_dir=sample_index), pg_url)
    view = open_store(Settings(store={"url": pg_url})).load()
    searches = [
        (question, flt)
        for question in (*QUESTIONS, "Odesa power grid drone strikes Kherson market")
        for flt in (Filters(), Filters(sources=("Kyiv Wire",)))
    ]
    scanned: list[int] = []  # how many query terms each scoring query took its chunks from
    query = view.query

    def counting(sql: str, params: Any = None, setup: str | None = None) -> list:
        if "GROUP BY row_id" in sql:  # the rare terms' chunks, else every query term's
            scanned.append(len(params[3] if "ARRAY(" in sql else params[0]))
        return query(sql, params, setup)

    monkeypatch.setattr(view, "query", counting)

    def search(question: str, flt: Filters) -> tuple[list, int]:
        scanned.clear()
        return view.keyword_search(question, 5, flt), scanned[-1]

    monkeypatch.setattr(postgres, "RARE_POSTINGS", 10**9)
    full = [search(q, f) for q, f in searches]
    monkeypatch.setattr(postgres, "RARE_POSTINGS", 1)  # start from the rarest term alone
    pruned = [search(q, f) for q, f in searches]
    assert [rows for rows, _ in pruned] == [rows for rows, _ in full]
    # some searches were settled by their rarer terms, without scanning the common ones
    assert any(last < every for (_, last), (_, every) in zip(pruned, full, strict=True))
