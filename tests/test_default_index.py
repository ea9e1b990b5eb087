"""The committed default index matches the bundled sample corpus and today's settings."""

from __future__ import annotations

from assistant import Assistant, Settings
from assistant.articles import load_paths
from assistant.settings import DEFAULT_INDEX_DIR
from assistant.stores.faiss import load_index


def test_default_index_loads_with_default_settings():
    data = load_index(DEFAULT_INDEX_DIR, Settings())
    assert len(data.articles) == 12
    assert data.vectors.ntotal == len(data.chunks) > 12


def test_default_index_is_current_with_the_sample_corpus(sample_dir):
    indexed = {a.id: a.hash for a in load_index(DEFAULT_INDEX_DIR).articles.values()}
    loaded = {a.id: a.hash for a in load_paths([sample_dir]).articles}
    assert indexed == loaded, "rebuild it: assistant index build data/sample/articles"


def test_default_assistant_retrieves_from_it():
    passages = Assistant().retrieve("Patriot air defence battery for Ukraine", k=3)
    assert "Patriot" in passages[0].title
