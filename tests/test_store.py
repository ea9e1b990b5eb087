"""The index on disk: its format, refusing corrupt, foreign or mismatched indexes, versions, locks.

Everything runs on the real model and real FAISS; indexes are private copies of the sample one.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant, IndexedArticle, Settings
from assistant.errors import (
    AssistantError,
    CorruptIndexError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
)
from assistant.ingest import add_paths, remove_ids
from assistant.stores import faiss as store_module
from assistant.stores.base import expected_manifest
from assistant.stores.faiss import (
    FILES,
    IndexData,
    _sha256,
    current_version,
    load_index,
    write_index,
    write_lock,
)


def live(index: Path) -> Path:
    return index / "versions" / current_version(index)


def reseal(folder: Path) -> None:
    """Rewrite the manifest's sizes and checksums to match tampered files (a careful forger)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for name in FILES:
        path = folder / name
        manifest["files"][name] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def settings_for(index: Path, **overrides) -> Settings:
    return Settings(index_dir=index, **overrides)


def article_folder(tmp_path: Path, name: str, articles: dict[str, str]) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for file, text in articles.items():
        (folder / file).write_text(text, encoding="utf-8")
    return folder


# -- format ------------------------------------------------------------------------------------


def test_layout_is_json_and_faiss_only(sample_index):
    version = current_version(sample_index)
    files = sorted(
        p.relative_to(sample_index).as_posix() for p in sample_index.rglob("*") if p.is_file()
    )
    assert files == [
        ".lock",
        "CURRENT",
        *(f"versions/{version}/{f}" for f in sorted([*FILES, "manifest.json"])),
    ]
    folder = live(sample_index)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format"] == "news-assistant-index" and manifest["format_version"] == 1
    assert manifest["embedding_model"] == "all-MiniLM-L6-v2" and manifest["dim"] == 384
    assert manifest["counts"] == {"articles": 12, "chunks": manifest["counts"]["chunks"]}
    for name in ("chunks.jsonl", "articles.jsonl"):
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            assert isinstance(json.loads(line), dict)
    assert (folder / "vectors.faiss").read_bytes()[:4] == b"IxFI"  # FAISS flat inner product
    source = Path(store_module.__file__).read_text()
    assert "import pickle" not in source and "pickle." not in source


def test_loaded_index_is_consistent(sample_index):
    data = load_index(sample_index, Settings())
    assert len(data.articles) == 12
    assert data.vectors.ntotal == len(data.chunks) == data.manifest["counts"]["chunks"]
    norms = np.linalg.norm(data.all_vectors(), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-4)
    for chunk in data.chunks:
        assert data.articles[chunk.article_id].text[chunk.start : chunk.end] == chunk.text


# -- corrupt, truncated, foreign ---------------------------------------------------------------


def _truncate_vectors(index: Path) -> str:
    path = live(index) / "vectors.faiss"
    path.write_bytes(path.read_bytes()[:1000])
    return "vectors.faiss is truncated or altered"


def _flip_chunk_bytes(index: Path) -> str:
    path = live(index) / "chunks.jsonl"
    data = bytearray(path.read_bytes())
    for i in (10, 500, 1500):
        data[i] ^= 0x20
    path.write_bytes(bytes(data))
    return "chunks.jsonl does not match its checksum"


def _garbage_manifest(index: Path) -> str:
    (live(index) / "manifest.json").write_bytes(os.urandom(300))
    return "manifest.json is not valid JSON"


def _foreign_manifest(index: Path) -> str:
    (live(index) / "manifest.json").write_text('{"name": "some other tool", "version": 3}')
    return "manifest.json is not a manifest of this tool's index format"


def _malformed_manifest(index: Path) -> str:
    path = live(index) / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["files"]["vectors.faiss"] = 12345
    path.write_text(json.dumps(manifest))
    return "manifest.json is incomplete or malformed"


def _missing_version(index: Path) -> str:
    (index / "CURRENT").write_text("v00000099\n")
    return "CURRENT names version v00000099, but"


def _garbage_current(index: Path) -> str:
    (index / "CURRENT").write_bytes(b"\xff\xfe\x00garbage")
    return "CURRENT does not name an index version"


def _missing_articles(index: Path) -> str:
    (live(index) / "articles.jsonl").unlink()
    return "articles.jsonl is missing"


def _resealed_bad_jsonl(index: Path) -> str:
    folder = live(index)
    (folder / "chunks.jsonl").write_text('{"id": "x"\n')
    reseal(folder)
    return "chunks.jsonl, line 1: not valid JSON"


def _resealed_foreign_faiss(index: Path) -> str:
    import faiss

    folder = live(index)
    faiss.write_index(faiss.IndexFlatL2(384), str(folder / "vectors.faiss"))
    reseal(folder)
    return "vectors.faiss holds a IndexFlatL2 of dimension 384, not the inner-product index"


CORRUPTIONS = [
    _truncate_vectors,
    _flip_chunk_bytes,
    _garbage_manifest,
    _foreign_manifest,
    _malformed_manifest,
    _missing_version,
    _garbage_current,
    _missing_articles,
    _resealed_bad_jsonl,
    _resealed_foreign_faiss,
]


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda f: f.__name__.strip("_"))
def test_corrupt_index_is_refused_by_name_with_the_fix(index_copy, corrupt):
    expected = corrupt(index_copy)
    with pytest.raises(CorruptIndexError) as err:
        load_index(index_copy, Settings())
    message = str(err.value)
    assert expected in message
    assert str(index_copy) in message
    assert f"assistant --index {index_copy} index build ARTICLES_DIR" in message
    with pytest.raises(CorruptIndexError):  # readers and writers refuse it too
        Assistant(index_dir=index_copy).retrieve("Kherson")
    with pytest.raises(CorruptIndexError):
        remove_ids(["anything"], settings_for(index_copy))


def test_pickle_named_vectors_faiss_is_never_unpickled(index_copy, tmp_path):
    marker = tmp_path / "unpickled"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))  # what loading it with pickle would do

    folder = live(index_copy)
    (folder / "vectors.faiss").write_bytes(pickle.dumps(Payload()))
    reseal(folder)  # even with checksums that match, it must be refused
    with pytest.raises(CorruptIndexError, match=r"vectors\.faiss is not a FAISS index"):
        load_index(index_copy, Settings())
    assert not marker.exists()


def test_foreign_folder_is_not_an_index_and_is_not_written_into(tmp_path, sample_dir):
    foreign = tmp_path / "home"
    foreign.mkdir()
    for i in range(5):
        (foreign / f"file{i}.bin").write_bytes(os.urandom(200))
    (foreign / "notes.txt").write_text("my notes")
    before = sorted(p.name for p in foreign.iterdir())
    with pytest.raises(IndexNotFoundError, match=f"no index at {foreign}"):
        load_index(foreign)
    with pytest.raises(AssistantError, match=r"holds other files .* refusing to write an index"):
        add_paths([sample_dir / "putin-minsk-visit.txt"], settings_for(foreign))
    assert sorted(p.name for p in foreign.iterdir() if p.name != ".lock") == before


def test_foreign_files_where_the_index_files_belong(tmp_path):
    index = tmp_path / "index"
    (index / "versions" / "v00000001").mkdir(parents=True)
    (index / "CURRENT").write_text("v00000001")
    for name in ("manifest.json", *FILES):
        (index / "versions" / "v00000001" / name).write_bytes(os.urandom(64))
    with pytest.raises(CorruptIndexError, match=r"manifest\.json is not valid JSON"):
        load_index(index)


def test_rebuild_repairs_a_corrupt_index(index_copy, tmp_path):
    _garbage_current(index_copy)
    folder = article_folder(
        tmp_path, "fresh", {"one.txt": "Fresh start\n\nThe index was rebuilt after damage."}
    )
    report = add_paths([folder], settings_for(index_copy), rebuild=True)
    assert report.added == [str(folder / "one.txt")]
    data = load_index(index_copy, Settings())
    assert [a.title for a in data.articles.values()] == ["Fresh start"]


# -- other model, dimension, chunking or format ------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"chunking": {"max_chars": 500}}, "chunking"),
        ({"chunking": {"overlap_sentences": 0}}, "chunking"),
        (
            {"embedding": {"model": "sentence-transformers/paraphrase-MiniLM-L3-v2"}},
            "embedding_model",
        ),
    ],
)
def test_other_settings_are_refused_on_load_and_add(index_copy, sample_dir, overrides, field):
    settings = Settings(index_dir=index_copy, **overrides)
    with pytest.raises(IndexMismatchError) as err:
        load_index(index_copy, settings)
    assert f"was built with {field}=" in str(err.value)
    assert f"assistant --index {index_copy} index build ARTICLES_DIR" in str(err.value)
    before = current_version(index_copy)
    with pytest.raises(IndexMismatchError):
        add_paths([sample_dir], settings)
    with pytest.raises(IndexMismatchError):
        Assistant(settings).articles()
    assert current_version(index_copy) == before


def test_other_format_version_is_refused(index_copy):
    path = live(index_copy) / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["format_version"] = 2
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="format version 2; this version reads 1"):
        load_index(index_copy)


def test_other_dimension_is_refused_on_add(tmp_path, sample_dir):
    import faiss

    index = tmp_path / "index"
    vectors = faiss.IndexFlatIP(8)
    vectors.add(np.eye(8, dtype=np.float32)[:1])
    manifest = expected_manifest(Settings(), 8)
    record = IndexedArticle(id="a1", title="t", key="k", hash="h", chunks=1, text="x")
    chunk = store_module.Chunk("a1:0", "a1", "x", 0, 1)
    with write_lock(index):
        write_index(index, IndexData(manifest, {"a1": record}, [chunk], vectors))
    assert load_index(index, Settings()).dim == 8
    with pytest.raises(IndexMismatchError, match=r"holds 8-dimensional vectors but .* makes 384"):
        add_paths([sample_dir / "putin-minsk-visit.txt"], settings_for(index))


# -- versions ----------------------------------------------------------------------------------


def test_write_keeps_the_previous_version_and_clears_leftovers(index_copy):
    versions = index_copy / "versions"
    first = current_version(index_copy)
    (versions / ".tmp-crashed").mkdir()
    (versions / ".tmp-crashed" / "vectors.faiss").write_bytes(b"half")
    shutil.copytree(versions / first, versions / "v00000050")  # renamed, never made live
    (index_copy / "CURRENT.tmp").write_text("v00000050")
    assert load_index(index_copy).version == first  # leftovers change nothing
    data = load_index(index_copy)
    with write_lock(index_copy):
        second = write_index(index_copy, data)
    assert second == "v00000051"  # past the leftover, never reusing its name
    assert sorted(p.name for p in versions.iterdir()) == [first, second]
    with write_lock(index_copy):
        third = write_index(index_copy, load_index(index_copy))
    assert sorted(p.name for p in versions.iterdir()) == [second, third]
    assert (versions / third).stat().st_mode & 0o777 == 0o755
    assert load_index(index_copy).version == third


def test_a_load_racing_a_writer_reloads_the_new_version(index_copy, monkeypatch):
    real = store_module._load_version
    calls = []

    def racing(index_dir, version, settings):
        calls.append(version)
        if len(calls) == 1:  # a writer makes a new version live and prunes this one meanwhile
            data = real(index_dir, version, settings)
            with write_lock(index_dir):
                write_index(index_dir, data)
                write_index(index_dir, data)
            assert not (index_dir / "versions" / version).exists()
        return real(index_dir, version, settings)

    monkeypatch.setattr(store_module, "_load_version", racing)
    data = load_index(index_copy)
    assert len(calls) == 2 and calls[1] != calls[0] and data.version == calls[1]


# -- locking -----------------------------------------------------------------------------------

HOLD_LOCK = """
import sys, time
from pathlib import Path
from assistant.stores.faiss import write_lock
with write_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(120)
"""


def test_second_writer_fails_clearly_while_another_process_writes(index_copy, sample_dir):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(index_copy)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with pytest.raises(IndexLockedError) as err:
            add_paths([sample_dir], settings_for(index_copy), lock_timeout=0.5)
        assert time.monotonic() - started >= 0.5
        assert f"the index at {index_copy} is locked by another writer" in str(err.value)
        assert "gave up after 0.5s" in str(err.value)
        with pytest.raises(IndexLockedError):
            remove_ids(["x"], settings_for(index_copy), lock_timeout=0.2)
        assert len(Assistant(index_dir=index_copy).articles()) == 12  # readers are not blocked
    finally:
        holder.kill()
        holder.wait()
    report = remove_ids(["putin-minsk-visit.txt"], settings_for(index_copy), lock_timeout=5)
    assert len(report.removed) == 1  # the lock died with its holder


def test_second_writer_waits_for_the_first(index_copy):
    held = threading.Event()

    def first_writer():
        with write_lock(index_copy):
            held.set()
            time.sleep(1.5)

    thread = threading.Thread(target=first_writer)
    thread.start()
    held.wait()
    started = time.monotonic()
    report = remove_ids(["kyiv-drone-strikes.txt"], settings_for(index_copy), lock_timeout=30)
    waited = time.monotonic() - started
    thread.join()
    assert report.removed and waited >= 1.0


# -- FAISS index type and emptiness ------------------------------------------------------------


def test_hnsw_above_the_threshold_and_flat_again_below(index_copy, tmp_path, monkeypatch):
    chunks = len(load_index(index_copy).chunks)
    monkeypatch.setattr(store_module, "HNSW_THRESHOLD", chunks + 1)
    folder = article_folder(
        tmp_path,
        "more",
        {
            "llama.txt": "Llama census\n\nVolunteers counted 412 llamas in the Carpathians.",
            "tram.txt": "Tram line\n\nA new tram line opened in Lviv with nine stops.",
        },
    )
    assistant = Assistant(index_dir=index_copy)
    assert assistant.stats()["faiss_index"] == "IndexFlatIP"
    report = assistant.add_articles([folder])
    assert report.added and report.chunks_embedded == 2
    data = load_index(index_copy)
    assert type(data.vectors).__name__ == "IndexHNSWFlat"
    assert data.manifest["faiss_index"] == "IndexHNSWFlat"
    assert data.vectors.hnsw.efSearch == store_module.HNSW_EF_SEARCH
    assert data.vectors.ntotal == chunks + 2
    assert assistant.retrieve("How many llamas were counted?", k=1)[0].title == "Llama census"
    assert assistant.retrieve("Kherson market shelling", k=1)[0].title.startswith("Shelling")
    assistant.remove_articles(["llama.txt", "tram.txt"])
    assert type(load_index(index_copy).vectors).__name__ == "IndexFlatIP"
    assert assistant.retrieve("Kherson market shelling", k=1)[0].title.startswith("Shelling")


def test_removing_every_article_leaves_a_loadable_empty_index(index_copy, tmp_path):
    assistant = Assistant(index_dir=index_copy)
    ids = [row.id for row in assistant.articles()]
    report = assistant.remove_articles(ids)
    assert sorted(report.removed) == sorted(ids)
    data = load_index(index_copy, Settings())
    assert data.articles == {} and data.chunks == [] and data.vectors.ntotal == 0
    assert assistant.retrieve("Kherson") == []
    assert assistant.stats()["articles"] == 0 and assistant.stats()["date_range"] is None
    folder = article_folder(tmp_path, "again", {"a.txt": "Back again\n\nThe index is reused."})
    assert assistant.add_articles([folder]).added
    assert [p.title for p in assistant.retrieve("index reused")] == ["Back again"]
