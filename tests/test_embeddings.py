"""Embedding backends: the packaged MiniLM (sentence-transformers) and its int8 ONNX twin."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant import Assistant
from assistant.embeddings import Embedder, model_path
from assistant.errors import AssistantError

INT8 = "all-MiniLM-L6-v2-int8"
TEXTS = [
    "Russia fired 76 missiles at Ukraine's power grid; 60 were shot down, the air force said.",
    "Kissinger's essay in The Spectator called for a negotiated ceasefire.",
    "short",
    "The EU's ninth sanctions package lists 141 individuals and 49 entities. " * 40,  # > 256 tok
    "",
]


@pytest.fixture(scope="module")
def int8() -> Embedder:
    return Embedder(INT8, batch_size=2)


def test_int8_vectors_are_unit_length_and_match_the_original(
    int8: Embedder, embedder: Embedder
) -> None:
    onnx = int8.encode(TEXTS)
    torch = embedder.encode(TEXTS)
    assert onnx.shape == (len(TEXTS), 384) and onnx.dtype == np.float32
    assert int8.dim == 384
    np.testing.assert_allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    # the same model quantised: each vector within 0.99 cosine of the full-precision one
    assert (onnx * torch).sum(axis=1).min() > 0.99


def test_int8_keeps_input_order_across_length_sorted_batches(int8: Embedder) -> None:
    together = int8.encode(TEXTS)
    one_by_one = np.stack([int8.encode([t])[0] for t in TEXTS])
    np.testing.assert_allclose(together, one_by_one, atol=1e-4)
    assert int8.encode([]).shape == (0, 384)


def test_int8_ranks_like_the_original(int8: Embedder, embedder: Embedder) -> None:
    question = "How many missiles did Russia fire and how many were shot down?"
    for model in (int8, embedder):
        scores = model.encode(TEXTS[:4]) @ model.encode([question])[0]
        assert int(np.argmax(scores)) == 0


def test_langchain_interface(int8: Embedder) -> None:
    docs = int8.embed_documents(TEXTS[:2])
    assert len(docs) == 2 and len(docs[0]) == 384
    assert np.allclose(int8.embed_query(TEXTS[0]), docs[0], atol=1e-4)


def test_an_index_built_with_int8_answers_and_records_the_model(
    tmp_path: Path, sample_dir: Path
) -> None:
    assistant = Assistant(index_dir=tmp_path / "index", embedding={"model": INT8})
    assistant.build_index([sample_dir])
    assert assistant.stats()["embedding_model"] == INT8
    top = assistant.retrieve("Which magazine published Kissinger's ceasefire essay?", k=3)
    assert "Spectator" in top[0].chunk.text
    # vectors of another model are not comparable: the default settings refuse this index
    with pytest.raises(AssistantError, match="embedding_model"):
        Assistant(index_dir=tmp_path / "index").retrieve("anything")


def test_onnx_folder_path_and_unknown_names(tmp_path: Path) -> None:
    folder = tmp_path / "onnx-model"
    folder.mkdir()
    (folder / "model.onnx").symlink_to(model_path(INT8))
    (folder / "tokenizer.json").symlink_to(model_path("all-MiniLM-L6-v2") / "tokenizer.json")
    by_path = Embedder(str(folder)).encode(TEXTS[:2])
    np.testing.assert_allclose(by_path, Embedder(INT8).encode(TEXTS[:2]), atol=1e-5)
    with pytest.raises(AssistantError, match="neither a packaged model"):
        Embedder(str(tmp_path / "missing")).encode(["x"])


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_blocks_in_parallel_keep_input_order_and_match_one_by_one(precision: str) -> None:
    # batch_size 2 splits TEXTS into length-sorted blocks spread over threads; each row must
    # still be the vector of its own text
    embedder = Embedder("all-MiniLM-L6-v2", batch_size=2, precision=precision)
    together = embedder.encode(TEXTS, progress=True)
    alone = np.vstack(
        [Embedder("all-MiniLM-L6-v2", precision="float32").encode([t]) for t in TEXTS]
    )
    assert together.shape == (len(TEXTS), 384) and together.dtype == np.float32
    cosines = (together * alone).sum(axis=1)
    assert cosines.min() > (0.9999 if precision == "float32" else 0.999), cosines
    # and a different text's vector is clearly not a match (so the check above can fail)
    assert (together[0] * alone[1]).sum() < 0.9


def test_recent_vectors_are_remembered_in_order_and_forgotten_oldest_first(
    embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = Embedder(embedder.name)
    encoded: list[str] = []
    encode = fresh.encode

    def counting(texts: list[str], progress: bool = False) -> np.ndarray:
        encoded.extend(texts)
        return encode(texts, progress)

    monkeypatch.setattr(fresh, "encode", counting)
    first = fresh.encode_recent([TEXTS[0], TEXTS[1], TEXTS[0]], keep=2)
    assert encoded == [TEXTS[0], TEXTS[1]]  # a repeated text is encoded once
    assert np.allclose(first[0], first[2]) and np.allclose(first, encode(TEXTS[:2] + TEXTS[:1]))
    fresh.encode_recent([TEXTS[1], TEXTS[2]], keep=2)
    assert encoded == [TEXTS[0], TEXTS[1], TEXTS[2]]  # TEXTS[1] came from memory
    fresh.encode_recent([TEXTS[0]], keep=2)  # the oldest, TEXTS[0], had been let go
    assert encoded == [TEXTS[0], TEXTS[1], TEXTS[2], TEXTS[0]]
    assert fresh.encode_recent([], keep=2).shape == (0, fresh.dim)
