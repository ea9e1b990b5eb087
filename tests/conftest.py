"""Shared fixtures: the real MiniLM model, real FAISS, indexes built from the sample corpus."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant import Assistant, Settings
from assistant.embeddings import Embedder
from assistant.settings import SAMPLE_ARTICLES_DIR


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
