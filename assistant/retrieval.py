"""Find the passages for a question: dense (FAISS) and BM25 rankings fused by reciprocal rank.

Dense search finds paraphrases; BM25 finds names and numbers the small embedding model blurs.
After fusion: at most `per_article` passages per article, optional MMR, optional filters.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant.settings import RetrievalSettings
from assistant.store import IndexData
from assistant.types import Passage

if TYPE_CHECKING:
    import numpy as np

    from assistant.embeddings import Embedder


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval to a date range (inclusive, YYYY-MM-DD) and/or some sources."""

    date_from: str | None = None
    date_to: str | None = None
    sources: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.date_from or self.date_to or self.sources)

    def accepts(self, article: dict[str, Any]) -> bool:
        date = article.get("date")
        if (self.date_from or self.date_to) and not date:
            return False
        if self.date_from and date < self.date_from:
            return False
        if self.date_to and date > self.date_to:
            return False
        return not self.sources or article.get("source") in self.sources


def _bm25(data: IndexData) -> Any:
    """The BM25 index of a version, built on first use and kept with it."""
    if "bm25" not in data._cache:
        import bm25s  # sparse-matrix BM25; indexes 100k passages in seconds

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs each index at DEBUG
        texts = [f"{data.articles[c.article_id]['title']}\n{c.text}" for c in data.chunks]
        model = bm25s.BM25()
        if texts:
            tokens = bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)
            model.index(tokens, show_progress=False)
        data._cache["bm25"] = model
    return data._cache["bm25"]


def _allowed_rows(data: IndexData, filters: Filters) -> np.ndarray | None:
    import numpy as np

    if not filters:
        return None
    ok = {aid for aid, a in data.articles.items() if filters.accepts(a)}
    return np.array([i for i, c in enumerate(data.chunks) if c.article_id in ok], dtype=np.int64)


def dense_search(
    data: IndexData, query: np.ndarray, k: int, allowed: np.ndarray | None
) -> list[tuple[int, float]]:
    """Top-k rows by inner product, as (row, cosine similarity)."""
    import faiss

    if data.vectors.ntotal == 0 or (allowed is not None and len(allowed) == 0):
        return []
    params = None
    if allowed is not None:
        params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
    k = min(k, data.vectors.ntotal)
    scores, rows = data.vectors.search(query.reshape(1, -1), k, params=params)
    return [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]


def bm25_search(data: IndexData, question: str, k: int, allowed: np.ndarray | None) -> list[int]:
    import bm25s
    import numpy as np

    if not data.chunks:
        return []
    tokens = bm25s.tokenize([question], stopwords="en", return_ids=False, show_progress=False)[0]
    if not tokens:
        return []
    scores = _bm25(data).get_scores(tokens)
    if allowed is not None:
        mask = np.full(len(scores), -1.0)
        mask[allowed] = scores[allowed]
        scores = mask
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top])]
    return [int(i) for i in top if scores[i] > 0]


def retrieve(
    data: IndexData,
    embedder: Embedder,
    question: str,
    settings: RetrievalSettings,
    k: int | None = None,
    filters: Filters | None = None,
) -> list[Passage]:
    """The best `k` passages for `question`, best first; `score` is cosine similarity."""
    import numpy as np

    k = k or settings.k
    filters = filters or Filters()
    allowed = _allowed_rows(data, filters)
    query = embedder.encode([question])[0]
    dense = dense_search(data, query, max(settings.fetch_k, k), allowed)
    sparse = bm25_search(data, question, max(settings.fetch_k, k), allowed)
    fused: dict[int, float] = defaultdict(float)
    for rank, (row, _) in enumerate(dense):
        fused[row] += settings.dense_weight / (settings.rrf_k + rank + 1)
    for rank, row in enumerate(sparse):
        fused[row] += settings.bm25_weight / (settings.rrf_k + rank + 1)
    order = sorted(fused, key=lambda r: -fused[r])
    if not order:
        return []
    vectors = np.stack([data.vectors.reconstruct(r) for r in order])
    similarity = dict(zip(order, (vectors @ query).tolist(), strict=True))
    if settings.mmr:
        order = _mmr(order, vectors, query, settings.mmr_lambda, len(order))
    picked: list[int] = []
    per_article: dict[str, int] = defaultdict(int)
    for row in order:
        article_id = data.chunks[row].article_id
        if per_article[article_id] >= settings.per_article:
            continue
        per_article[article_id] += 1
        picked.append(row)
        if len(picked) == k:
            break
    return [_passage(data, row, similarity[row]) for row in picked]


def _mmr(order: list[int], vectors: np.ndarray, query: np.ndarray, lam: float, k: int) -> list[int]:
    """Maximal marginal relevance over the fused candidates (vectors row-aligned with order)."""
    import numpy as np

    relevance = vectors @ query
    chosen: list[int] = []
    rest = list(range(len(order)))
    while rest and len(chosen) < k:
        if chosen:
            redundancy = (vectors[rest] @ vectors[chosen].T).max(axis=1)
        else:
            redundancy = np.zeros(len(rest))
        scores = lam * relevance[rest] - (1 - lam) * redundancy
        best = rest[int(np.argmax(scores))]
        chosen.append(best)
        rest.remove(best)
    return [order[i] for i in chosen]


def _passage(data: IndexData, row: int, score: float) -> Passage:
    chunk = data.chunks[row]
    article = data.articles[chunk.article_id]
    return Passage(
        chunk=chunk,
        title=article["title"],
        date=article.get("date"),
        source=article.get("source"),
        url=article.get("url"),
        score=round(score, 4),
    )
