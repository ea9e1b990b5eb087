"""Many processes, one PostgreSQL index: killed writers, queued writers, readers that keep up.

Each process is a real Python process on the real server; nothing is mocked.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from assistant import Assistant, IndexLockedError, Settings
from assistant.ingest import add_paths
from assistant.stores import open_store
from assistant.stores.migrate import migrate

GHOSTS = """
import sys, time
import numpy as np
from assistant.settings import Settings
from assistant.stores import open_store
from assistant.types import Chunk, IndexedArticle

settings = Settings(store={"url": sys.argv[1]})
n, hold = int(sys.argv[2]), float(sys.argv[3])
vectors = np.random.default_rng(0).normal(size=(n, 384)).astype(np.float32)
vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
records = [IndexedArticle(f"ghost{i}", f"Ghost {i}", f"k{i}", f"h{i}", 1, text="boo")
           for i in range(n)]
chunks = [Chunk(f"ghost{i}:0", f"ghost{i}", "boo", 0, 3) for i in range(n)]
with open_store(settings).writer(5) as writer:
    print("locked", flush=True)
    view = writer.current(settings)
    writer.write(view.manifest, set(), records, chunks, vectors)
    print("written", flush=True)
    time.sleep(hold)
print("committed", flush=True)
"""

READER = """
import sys, time
from assistant import Assistant

# An app server: answers a question each time it is sent one, and says when it started, when
# it had the sources (the UI shows them first) and when it had the answer, and whether the
# llama article was among the sources and cited.
assistant = Assistant(store={"url": sys.argv[1]}, llm={"backend": "passages"})
assistant.ask("How many llamas were counted?")
print("ready", flush=True)
for _ in sys.stdin:
    started, found = time.time(), None
    for event in assistant.stream("How many llamas were counted?"):
        if event.kind == "sources":
            found = any(p.title == "Llama census" for p in event.passages), time.time()
        if event.answer is not None:
            cited = any(c.title == "Llama census" for c in event.answer.citations)
    word = "cited" if cited and found[0] else "missing"
    print(word, started, found[1], time.time(), flush=True)
"""

# Wall-clock bounds from the writer's commit to both servers having the new article among
# their sources, and citing it in their answers. Nothing delays visibility (the first question
# after the commit must cite it, asserted exactly); what is left is CPU for two processes at
# once: embedding the question and searching, then, for the answer, the passages backend
# embedding the passages' sentences. Under `nice -n 10` on 2 cores loaded to 10 by other jobs:
# sources 0.22 s and answers 0.69 s after the commit. A regression that reloads a model or
# rebuilds an index per write, or runs the encoder on two threads again (answers then took
# 7-9 s here), would go past these.
SOURCES_WITHIN = 5.0
CITED_WITHIN = 5.0


def _spawn(script: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


def _expect(process: subprocess.Popen, word: str) -> str:
    line = process.stdout.readline()
    if not line.startswith(word):
        process.kill()
        raise AssertionError(f"expected {word!r}, got {line!r}; stderr: {process.stderr.read()}")
    return line


def _ask(readers: list[subprocess.Popen]) -> None:
    for reader in readers:  # both at once, as two users of two app servers
        reader.stdin.write("ask\n")
        reader.stdin.flush()


@pytest.fixture
def pg_sample(sample_index: Path, pg_url: str) -> str:
    migrate(Settings(index_dir=sample_index), pg_url)
    return pg_url


def test_a_writer_killed_mid_batch_leaves_nothing(pg_sample):
    settings = Settings(store={"url": pg_sample})
    writer = _spawn(GHOSTS, pg_sample, "300", "60")
    _expect(writer, "locked")
    _expect(writer, "written")  # 300 articles inserted, not committed
    writer.send_signal(signal.SIGKILL)
    writer.wait(10)
    store = open_store(settings)
    assert len(store.load(settings).articles) == 12
    assert store.verify(settings).startswith("ok: ")
    finisher = _spawn(GHOSTS, pg_sample, "3", "0")  # the lock died with the killed writer
    _expect(finisher, "locked")
    assert finisher.wait(30) == 0
    assert len(store.load(settings).articles) == 15


def test_two_writers_queue_and_neither_is_lost(pg_sample, tmp_path):
    settings = Settings(store={"url": pg_sample})
    folder = tmp_path / "new"
    folder.mkdir()
    (folder / "llama.txt").write_text("Llama census\n\nVolunteers counted 412 llamas.")
    first = _spawn(GHOSTS, pg_sample, "2", "3")
    _expect(first, "locked")
    with pytest.raises(IndexLockedError, match=r"locked by another writer; gave up after 0\.5s"):
        add_paths([folder], settings, lock_timeout=0.5)
    started = time.monotonic()
    report = add_paths([folder], settings, lock_timeout=30)
    assert report.added and time.monotonic() - started > 1.0  # it waited for the first
    assert first.wait(30) == 0
    articles = open_store(settings).load(settings).articles
    assert {"ghost0", "ghost1"} <= set(articles) and len(articles) == 15


def test_two_servers_cite_what_a_cli_writer_adds(pg_sample, tmp_path):
    """Two reader processes (as two app servers would) and `assistant index add` elsewhere."""
    folder = tmp_path / "new"
    folder.mkdir()
    (folder / "llama.txt").write_text("Llama census\n\nVolunteers counted 412 llamas.")
    readers = [_spawn(READER, pg_sample) for _ in range(2)]
    for reader in readers:
        _expect(reader, "ready")
    _ask(readers)
    earlier = [_expect(reader, "missing").split() for reader in readers]
    store = open_store(Settings(store={"url": pg_sample}))
    before = store.current_version()
    writer = subprocess.Popen(
        [sys.executable, "-m", "assistant", "--store-url", pg_sample, "index", "add", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    while store.current_version() == before and writer.poll() is None:
        time.sleep(0.01)
    committed = time.time()  # within 10 ms of the writer's commit
    _ask(readers)
    # The first question after the commit cites the article: no cache or poll in between.
    answers = [[float(t) for t in _expect(reader, "cited").split()[1:]] for reader in readers]
    sources = [found - committed for _, found, _ in answers]
    cited = [end - committed for _, _, end in answers]
    refusals = [float(end) - float(start) for _, start, _, end in earlier]
    print(
        f"both app servers had the new article among their sources {max(sources):.2f}s and "
        f"cited it {max(cited):.2f}s after the writer committed (a refusal before the write "
        f"took {max(refusals):.2f}s)"
    )
    out, err = writer.communicate(timeout=300)
    assert writer.returncode == 0 and "1 added" in out, err
    for reader in readers:
        reader.stdin.close()
        assert reader.wait(30) == 0
    assert max(sources) < SOURCES_WITHIN and max(cited) < CITED_WITHIN
    assert Assistant(store={"url": pg_sample}).stats()["articles"] == 13


def test_lost_connections_are_retried_and_a_dead_server_is_named(pg_sample, pg_server):
    import psycopg

    from assistant.errors import StoreUnavailableError

    assistant = Assistant(store={"url": pg_sample})
    assert assistant.retrieve("Kherson market shelling", k=1)
    with psycopg.connect(pg_server.url, autocommit=True) as admin:
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (pg_sample.rsplit("/", 1)[1],),
        ).fetchone()[0]
    assert ended >= 1  # every pooled connection of this process was cut
    assert assistant.retrieve("Kherson market shelling", k=1)[0].title.startswith("Shelling")
    nowhere = pg_sample.replace(f":{pg_server.port}/", ":1/")
    with pytest.raises(StoreUnavailableError, match=r"cannot connect to the PostgreSQL index at"):
        Assistant(store={"url": nowhere}).retrieve("Kherson")
