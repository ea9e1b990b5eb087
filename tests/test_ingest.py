"""Index maintenance: incremental add, update, remove, rebuild; the CLI; concurrent writers and
readers; and crash safety, by killing real `python -m assistant` processes with SIGKILL.

Everything runs on the real MiniLM model and real FAISS.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant import Assistant, Settings
from assistant.articles import load_paths
from assistant.cli import main
from assistant.errors import IndexLockedError
from assistant.ingest import add_paths
from assistant.stores.faiss import current_version, load_index

# -- helpers -----------------------------------------------------------------------------------

CITIES = ["Kyiv", "Lviv", "Odesa", "Kharkiv", "Dnipro", "Vinnytsia", "Poltava", "Sumy", "Rivne"]
PEOPLE = ["Olena Hrytsenko", "Taras Melnyk", "Iryna Bondar", "Petro Savchuk", "Anna Kovalenko"]
SUBJECTS = ["water utility", "rail operator", "grain exporter", "city council", "power company"]
SENTENCES = [
    "{person} said the {subject} in {city} had set aside {n} million hryvnias for repairs.",
    "Officials in {city} reported that {n} households were still without heating on {day}.",
    "The {subject} plans to hire {n} engineers before the winter, according to {person}.",
    "Inspectors visited {n} sites around {city} and found most of them in working order.",
    "{person}, who leads the {subject}, warned that prices could rise by {n} percent.",
    "Residents of {city} queued for {n} minutes at distribution points on {day}.",
    "A report by the {subject} counted {n} damaged buildings in the {city} region.",
    "Volunteers in {city} delivered {n} generators to hospitals and schools on {day}.",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def news_corpus(folder: Path, n: int, seed: int = 0, sentences: int = 8) -> Path:
    """`n` distinct news-like Markdown articles with front matter and unique urls."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        city, subject = rng.choice(CITIES), rng.choice(SUBJECTS)
        body = " ".join(
            rng.choice(SENTENCES).format(
                person=rng.choice(PEOPLE),
                subject=subject,
                city=city,
                n=rng.randint(2, 9999),
                day=rng.choice(DAYS),
            )
            for _ in range(sentences)
        )
        (folder / f"story-{seed}-{i:04d}.md").write_text(
            f"---\ntitle: {subject.capitalize()} in {city}, report {seed}-{i}\n"
            f"date: 2023-{1 + i % 12:02d}-{1 + i % 28:02d}\nsource: Test Wire\n"
            f"url: https://example.org/test-wire/{seed}/{i}\n---\n\n{body}\n",
            encoding="utf-8",
        )
    return folder


def write_articles(folder: Path, articles: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in articles.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def settings_for(index: Path) -> Settings:
    return Settings(index_dir=index)


def state(index: Path) -> dict:
    """What a reader sees: the live version, its articles (id -> hash) and its chunk count."""
    data = load_index(index, Settings())
    return {
        "version": data.version,
        "articles": {aid: a.hash for aid, a in data.articles.items()},
        "chunks": len(data.chunks),
    }


@pytest.fixture
def sample_copy(sample_dir: Path, tmp_path: Path) -> Path:
    """The sample articles in a private folder (same relative paths, so the same ids)."""
    return Path(shutil.copytree(sample_dir, tmp_path / "articles"))


# -- incremental add, update, remove -----------------------------------------------------------


def test_readding_an_unchanged_folder_embeds_nothing_and_writes_nothing(index_copy, sample_dir):
    versions = sorted(p.name for p in (index_copy / "versions").iterdir())
    current = (index_copy / "CURRENT").stat().st_mtime_ns
    report = Assistant(index_dir=index_copy).add_articles([sample_dir])
    assert report.chunks_embedded == 0
    assert len(report.unchanged) == 12
    assert report.added == report.updated == report.duplicates == report.rejected == []
    assert sorted(p.name for p in (index_copy / "versions").iterdir()) == versions
    assert (index_copy / "CURRENT").stat().st_mtime_ns == current


def test_update_replaces_the_old_chunks_and_changes_retrieval(index_copy, sample_copy):
    assistant = Assistant(index_dir=index_copy)
    path = sample_copy / "putin-minsk-visit.txt"
    old_sentence = "his first visit to the Belarusian capital in more than three years"
    assert old_sentence in path.read_text()
    path.write_text(
        "Putin Holds Talks With Lukashenko in Minsk\n\n"
        "Vladimir Putin and Alexander Lukashenko signed an agreement on a joint zebra sanctuary "
        "near Minsk on Monday. The sanctuary will house 140 zebras brought by rail.\n"
    )
    before = assistant.index().version
    report = assistant.add_articles([sample_copy])
    assert report.updated == [str(path)] and report.added == []
    assert len(report.unchanged) == 11 and report.chunks_embedded == 1
    assert assistant.index().version != before  # the same Assistant picks up the new version
    top = assistant.retrieve("How many zebras will the sanctuary near Minsk house?", k=1)[0]
    assert "140 zebras" in top.chunk.text and top.title.startswith("Putin Holds Talks")
    data = load_index(index_copy)
    assert not any(old_sentence in c.text for c in data.chunks)
    article_id = load_paths([path]).articles[0].id
    assert [c.id for c in data.chunks if c.article_id == article_id] == [f"{article_id}:0"]
    assert len(data.articles) == 12


def test_metadata_change_is_an_update(index_copy, sample_copy):
    path = sample_copy / "oil-price-cap-takes-effect.md"
    path.write_text(path.read_text().replace("date: 2022-12-05", "date: 2022-12-06"))
    report = Assistant(index_dir=index_copy).add_articles([path])
    assert report.updated == [str(path)] and report.chunks_embedded > 0
    dates = {a.title: a.date for a in load_index(index_copy).articles.values()}
    assert dates["$60 Cap on Russian Seaborne Oil Takes Effect"] == "2022-12-06"


def test_remove_by_id_url_and_path_changes_retrieval(index_copy, sample_dir):
    assistant = Assistant(index_dir=index_copy)
    question = "Patriot air defence battery promised to Zelensky in Washington"
    assert "Patriot" in assistant.retrieve(question, k=1)[0].title
    rows = {row.title: row for row in assistant.articles()}
    patriot = rows["Zelensky Wins Patriot Pledge on First Trip Abroad Since Invasion"]
    report = assistant.remove_articles([patriot.url, "no-such-id"])
    assert report.removed == [patriot.id]
    assert [(r.name, r.reason) for r in report.rejected] == [
        ("no-such-id", "no article with this id, url or path")
    ]
    assert all("Patriot" not in p.title for p in assistant.retrieve(question, k=5))
    # a file's path removes all its articles, however it was given
    jsonl = sample_dir / "december-strike-briefs.jsonl"
    report = assistant.remove_articles([os.path.relpath(jsonl), str(jsonl)])
    assert len(report.removed) == 2
    kyiv = rows["Drones Target Kyiv Energy Sites in Pre-Dawn Wave"].id
    assert assistant.remove_articles([kyiv, kyiv]).removed == [kyiv]
    assert len(assistant.articles()) == 8
    assert not assistant.remove_articles(["still-no-such-id"]).removed


def test_remove_then_add_back(index_copy, sample_dir):
    assistant = Assistant(index_dir=index_copy)
    path = sample_dir / "kissinger-spectator-ceasefire-essay.md"
    assert assistant.remove_articles([str(path)]).removed
    assert all("Kissinger" not in p.title for p in assistant.retrieve("Kissinger ceasefire"))
    report = assistant.add_articles([sample_dir])
    assert report.added == [str(path)] and len(report.unchanged) == 11
    assert "Kissinger" in assistant.retrieve("Kissinger ceasefire essay", k=1)[0].title


def test_duplicates_under_other_names_are_reported_and_skipped(index_copy, sample_dir, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(sample_dir / "kyiv-drone-strikes.txt", inbox / "kyiv-drones-copy.txt")
    text = (sample_dir / "kyiv-drone-strikes.txt").read_text()
    (inbox / "kyiv-drones-retitled.txt").write_text("Another headline\n" + text.split("\n", 1)[1])
    report = Assistant(index_dir=index_copy).add_articles([inbox])
    assert report.added == [] and report.chunks_embedded == 0
    assert [(Path(d.name).name, d.reason) for d in report.duplicates] == [
        ("kyiv-drones-copy.txt", "same text as 'kyiv-drone-strikes.txt', already indexed"),
        ("kyiv-drones-retitled.txt", "same text as 'kyiv-drone-strikes.txt', already indexed"),
    ]


def test_batch_twins_and_an_update_freeing_its_old_text(index_copy, sample_copy, tmp_path):
    old_text = (sample_copy / "putin-minsk-visit.txt").read_text()
    inbox = write_articles(
        tmp_path / "inbox",
        {
            "a.json": json.dumps({"title": "A", "text": "Same story told twice.", "url": "u:1"}),
            "b.json": json.dumps({"title": "B", "text": "Another story.", "url": "u:1"}),
            "c.txt": "C\n\nSame story told twice.",
            "moved-putin.txt": old_text,  # the old text, under a new name...
        },
    )
    # ...while the indexed article gets new text in the same batch
    (sample_copy / "putin-minsk-visit.txt").write_text("Putin in Minsk\n\nA rewritten report.")
    report = Assistant(index_dir=index_copy).add_articles(
        [sample_copy / "putin-minsk-visit.txt", inbox]
    )
    assert sorted(Path(p).name for p in report.added) == ["a.json", "moved-putin.txt"]
    assert [Path(p).name for p in report.updated] == ["putin-minsk-visit.txt"]
    assert {Path(d.name).name: d.reason for d in report.duplicates} == {
        "b.json": f"same url or path as {str(inbox / 'a.json')!r}",
        "c.txt": f"same text as {str(inbox / 'a.json')!r}",
    }
    assert len(load_index(index_copy).articles) == 14


def test_bad_inputs_are_reported_and_good_ones_indexed(tmp_path):
    inbox = write_articles(
        tmp_path / "inbox",
        {
            "good.txt": "Bridge reopens\n\nThe Podilskyi bridge reopened to traffic on Friday.",
            "feed.jsonl": json.dumps({"title": "Feed item", "body": "Grain ships left Odesa."})
            + "\nnot json\n",
            "undated.json": json.dumps({"text": "Schools in Sumy resumed lessons online."}),
            "empty.md": "",
            "slides.pdf": "%PDF",
        },
    )
    (inbox / "latin.txt").write_bytes("Café reopens\n\nThe café in Lviv reopened.".encode("cp1252"))
    (inbox / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    index = tmp_path / "index"
    report = add_paths([inbox], settings_for(index))
    assert sorted(Path(p).name for p in report.added) == [
        "feed.jsonl:1",
        "good.txt",
        "latin.txt",
        "undated.json",
    ]
    assert {Path(r.name).name: r.reason.split(";")[0] for r in report.rejected} == {
        "empty.md": "file is empty",
        "slides.pdf": "unsupported file type",
        "image.txt": "binary file, not text",
        "feed.jsonl:2": "malformed JSON line: Expecting value",
    }
    assert {Path(w.name).name for w in report.warnings} == {"latin.txt", "undated.json"}
    assert report.chunks_embedded == 4 and report.seconds > 0
    titles = {a.title for a in load_index(index).articles.values()}
    assert "Café reopens" in titles


def test_a_rebuild_that_finds_nothing_leaves_the_index_alone(index_copy, tmp_path):
    before = state(index_copy)
    empty = write_articles(tmp_path / "empty", {"blank.txt": ""})
    report = Assistant(index_dir=index_copy).build_index([empty])
    assert report.rejected and report.chunks_embedded == 0
    assert report.warnings[-1].reason == "no article to index; the index was left unchanged"
    assert state(index_copy) == before


def test_build_replaces_everything(index_copy, tmp_path):
    corpus = news_corpus(tmp_path / "corpus", 3, seed=7, sentences=3)
    report = Assistant(index_dir=index_copy).build_index([corpus])
    assert len(report.added) == 3 and report.unchanged == []
    data = load_index(index_copy)
    assert sorted(a.url for a in data.articles.values()) == [
        f"https://example.org/test-wire/7/{i}" for i in range(3)
    ]


def test_two_writers_at_once_are_serialised(index_copy, tmp_path):
    folders = [news_corpus(tmp_path / f"c{i}", 3, seed=10 + i, sentences=3) for i in range(2)]
    reports, errors = [], []

    def write(folder):
        try:
            reports.append(add_paths([folder], settings_for(index_copy), lock_timeout=120))
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(f,)) for f in folders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(len(r.added) for r in reports) == [3, 3]
    assert len(load_index(index_copy).articles) == 18


# -- the CLI -----------------------------------------------------------------------------------


def cli(*args: str) -> object:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_index_commands(tmp_path):
    index = tmp_path / "index"
    corpus = write_articles(
        tmp_path / "corpus",
        {
            "dam.txt": "Dam repairs\n\nEngineers finished repairs on the Dnipro dam spillway.",
            "port.md": "---\ntitle: Port traffic\ndate: 2023-02-01\nsource: Harbour News\n---\n"
            "Odesa port handled 31 ships in January.",
            "blank.txt": "",
        },
    )
    result = cli("--index", str(index), "index", "build", str(corpus))
    assert result.exit_code == 0, result.output
    assert "2 added, 0 updated, 0 unchanged, 0 duplicates, 0 removed, 1 rejected" in result.stdout
    assert "chunks embedded in" in result.stdout
    assert f"rejected  {corpus / 'blank.txt'}: file is empty" in result.stderr

    result = cli("--index", str(index), "index", "add", str(corpus))
    assert "0 added, 0 updated, 2 unchanged" in result.stdout
    assert "; 0 chunks embedded" in result.stdout

    (corpus / "dam.txt").write_text("Dam repairs\n\nThe spillway repairs will take two years.")
    (corpus / "rail").mkdir()
    (corpus / "rail" / "line.txt").write_text("Rail line\n\nA rail line to Chop was rebuilt.")
    result = cli("--index", str(index), "index", "add", str(corpus))
    assert "1 added, 1 updated, 1 unchanged" in result.stdout
    assert f"added     {corpus / 'rail' / 'line.txt'}" in result.stdout

    result = cli("--index", str(index), "index", "list")
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and "2023-02-01" in lines[0] and "Port traffic" in lines[0]
    listed = cli("--index", str(index), "index", "list", "--json").stdout
    rows = [json.loads(line) for line in listed.splitlines()]
    assert {r["title"] for r in rows} == {"Dam repairs", "Port traffic", "Rail line"}

    stats = cli("--index", str(index), "index", "stats").stdout
    assert "articles         3" in stats and "Harbour News" in stats
    assert "all-MiniLM-L6-v2" in stats

    result = cli("--index", str(index), "index", "verify")
    assert result.exit_code == 0 and "files match their checksums" in result.stdout

    port = next(r["id"] for r in rows if r["title"] == "Port traffic")
    result = cli("--index", str(index), "index", "remove", port, "nope")
    assert result.exit_code == 0 and f"removed   {port}" in result.stdout
    assert "rejected  nope: no article with this id, url or path" in result.stderr
    result = cli("--index", str(index), "index", "remove", "nope")
    assert result.exit_code == 1

    version = current_version(index)
    (index / "versions" / version / "chunks.jsonl").write_text("tampered\n")
    result = cli("--index", str(index), "index", "verify")
    assert result.exit_code == 1
    assert "chunks.jsonl is truncated or altered" in result.stderr
    assert f"assistant --index {index} index build ARTICLES_DIR" in result.stderr
    result = cli("--index", str(index), "index", "build", str(corpus))  # the advice works
    assert result.exit_code == 0 and "3 added" in result.stdout
    assert cli("--index", str(index), "index", "verify").exit_code == 0


def test_cli_skips_symlinks_out_of_the_folder_and_escapes_names(tmp_path):
    """A link to a file elsewhere is not indexed (unless --follow-symlinks); a file name
    holding a newline or a terminal escape cannot forge report lines."""
    index = tmp_path / "index"
    secret = write_articles(tmp_path / "private", {"passwd.txt": "Accounts\n\nroot:x:0:0"})
    corpus = write_articles(
        tmp_path / "corpus",
        {"dam.txt": "Dam repairs\n\nEngineers finished repairs on the Dnipro dam spillway."},
    )
    os.symlink(secret / "passwd.txt", corpus / "passwd.txt")
    (corpus / "bad\n  added     forged\x1b[2K.txt").write_text("")
    result = cli("--index", str(index), "index", "build", str(corpus))
    assert result.exit_code == 0, result.output
    assert "1 added" in result.stdout and "2 rejected" in result.stderr + result.stdout
    assert f"rejected  {corpus / 'passwd.txt'}: symlink to {secret / 'passwd.txt'}, " in (
        result.stderr
    )
    assert "rejected  " + str(corpus / "bad\\x0a  added     forged\\x1b[2K.txt") in result.stderr
    assert "\x1b" not in result.output and "forged" not in result.stdout
    listed = cli("--index", str(index), "index", "list").stdout
    assert "Accounts" not in listed

    result = cli("--index", str(index), "index", "add", "--follow-symlinks", str(corpus))
    assert "1 added" in result.stdout
    assert "Accounts" in cli("--index", str(index), "index", "list").stdout


def test_cli_reports_a_locked_index(index_copy, monkeypatch):
    from assistant import ingest
    from assistant.stores.faiss import write_lock

    monkeypatch.setattr(ingest, "LOCK_TIMEOUT", 0.5)  # the CLI's writers wait 30s by default
    with write_lock(index_copy):
        result = CliRunner().invoke(main, ["--index", str(index_copy), "index", "remove", "x"])
    assert result.exit_code == 1
    assert f"the index at {index_copy} is locked by another writer" in result.stderr
    assert "gave up after 0.5s" in result.stderr


def test_cli_reports_a_missing_index(tmp_path):
    result = cli("--index", str(tmp_path / "none"), "index", "stats")
    assert result.exit_code == 1 and "no index at" in result.stderr


# -- crash safety: SIGKILL real writers --------------------------------------------------------


@pytest.fixture(scope="module")
def kill_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 new articles (~80 chunks): a write long enough to be killed at several points."""
    return news_corpus(tmp_path_factory.mktemp("kill") / "corpus", 40, seed=1)


def start(index: Path, *args: str, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "assistant", "--index", str(index), "index", *args]
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


def stop_when(proc: subprocess.Popen, condition: Callable[[], bool], timeout: float = 600) -> bool:
    """SIGSTOP `proc` as soon as `condition()` holds; False if it exited first."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if condition():
            os.kill(proc.pid, signal.SIGSTOP)
            return True
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the writer neither finished nor reached the kill point")
        time.sleep(0.0005)
    return False


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def tmp_dirs(index: Path) -> list[str]:
    return [p.name for p in (index / "versions").iterdir() if p.name.startswith(".tmp-")]


def assert_recovers(index: Path, tmp_path: Path) -> None:
    """A later add succeeds and clears what the killed writer left behind."""
    extra = write_articles(
        tmp_path / f"later-{time.monotonic_ns()}",
        {"later.txt": "Later article\n\nA ferry service between Izmail and Tulcea resumed."},
    )
    before = state(index)
    report = add_paths([extra], settings_for(index))
    assert len(report.added) == 1
    after = state(index)
    assert set(after["articles"]) == set(before["articles"]) | {
        a.id for a in load_paths([extra]).articles
    }
    versions = sorted(p.name for p in (index / "versions").iterdir())
    assert versions == [before["version"], after["version"]]  # leftovers and orphans gone
    assert not (index / "CURRENT.tmp").exists()


@pytest.mark.parametrize("delay", [0.5, 2.0, 4.0, 8.0])
def test_sigkill_at_a_moment_leaves_the_last_good_index(index_copy, kill_corpus, tmp_path, delay):
    before = state(index_copy)
    new_ids = {a.id for a in load_paths([kill_corpus]).articles}
    proc = start(index_copy, "add", str(kill_corpus), log=tmp_path / "log")
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        kill(proc)
    after = state(index_copy)  # loads: checksums, counts and settings all verified
    if after["version"] == before["version"]:
        assert after == before  # nothing lost, nothing half-written
    else:  # the write had been committed when the kill came
        assert set(after["articles"]) == set(before["articles"]) | new_ids
    assert_recovers(index_copy, tmp_path)


def _writing(index: Path) -> Callable[[], bool]:
    return lambda: bool(tmp_dirs(index))


def _embedding(log: Path) -> Callable[[], bool]:
    return lambda: log.exists() and b"Embedding" in log.read_bytes()


@pytest.mark.parametrize(
    ("operation", "point"),
    [
        ("add", "embedding"),
        ("add", "writing"),
        ("build", "writing"),
        ("remove", "writing"),
    ],
)
def test_sigkill_at_each_step_of_a_write(
    sample_index, kill_corpus, sample_dir, tmp_path, operation, point
):
    oil = sample_dir / "oil-price-cap-takes-effect.md"
    args = {
        "add": ["add", str(kill_corpus)],
        "build": ["build", str(kill_corpus)],
        "remove": ["remove", "putin-minsk-visit.txt", str(oil)],
    }[operation]
    for attempt in range(3):  # polling may miss a short step; a fresh index is tried again
        index = Path(shutil.copytree(sample_index, tmp_path / f"index{attempt}"))
        before = state(index)
        log = tmp_path / f"log{attempt}"
        proc = start(index, *args, log=log)
        condition = _writing(index) if point == "writing" else _embedding(log)
        if stop_when(proc, condition):
            break
    else:
        raise AssertionError(f"never caught the writer while {point}")
    # frozen at the kill point: the previous version is live, the new one not yet
    assert current_version(index) == before["version"]
    assert bool(tmp_dirs(index)) == (point == "writing")
    kill(proc)
    assert state(index) == before
    assert_recovers(index, tmp_path)


def test_sigkill_between_rename_and_swap(sample_index, kill_corpus, tmp_path):
    """The new version folder exists but CURRENT still names the old one (or was just swapped:
    the step is a few milliseconds long, so either way the index must load and be whole)."""
    index = Path(shutil.copytree(sample_index, tmp_path / "index"))
    before = state(index)
    following = f"v{int(before['version'][1:]) + 1:08d}"
    proc = start(index, "add", str(kill_corpus), log=tmp_path / "log")
    assert stop_when(proc, lambda: (index / "versions" / following).exists())
    swapped = current_version(index) == following
    kill(proc)
    after = state(index)
    if swapped:
        assert len(after["articles"]) == 12 + 40
    else:
        assert after == before
    assert_recovers(index, tmp_path)


def test_readers_answer_from_the_previous_version_during_a_write(
    sample_index, kill_corpus, tmp_path
):
    index = Path(shutil.copytree(sample_index, tmp_path / "index"))
    reader = Assistant(index_dir=index)
    question = "Kherson market shelling on Christmas Eve"
    old_version = reader.index().version
    proc = start(index, "add", str(kill_corpus), log=tmp_path / "log")
    try:
        assert stop_when(proc, _writing(index))  # frozen mid-write, holding the lock
        assert reader.retrieve(question, k=1)[0].title.startswith("Shelling of Central Kherson")
        assert reader.index().version == old_version
        assert len(Assistant(index_dir=index).articles()) == 12  # a new reader too
        with pytest.raises(IndexLockedError):  # and a second writer is turned away
            add_paths([kill_corpus], settings_for(index), lock_timeout=0.3)
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    assert proc.wait(timeout=600) == 0
    assert reader.index().version != old_version  # picked up after the write
    assert len(reader.articles()) == 52
    top = reader.retrieve("generators delivered to hospitals by volunteers", k=3)
    assert any(p.source == "Test Wire" for p in top)
