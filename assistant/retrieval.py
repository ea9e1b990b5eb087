"""Find the passages for a question: dense and BM25 rankings fused by reciprocal rank.

Dense search finds paraphrases; BM25 finds names and numbers the small embedding model blurs.
After fusion: at most `per_article` passages per article, optional MMR, optional filters.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from assistant.settings import RetrievalSettings
from assistant.stores.base import IndexView, Row
from assistant.types import Chunk, Filters, Passage

if TYPE_CHECKING:
    import numpy as np

    from assistant.embeddings import Embedder


def retrieve(
    data: IndexView,
    embedder: Embedder,
    question: str,
    settings: RetrievalSettings,
    k: int | None = None,
    filters: Filters | None = None,
) -> list[Passage]:
    """The best `k` passages for `question`, best first; `score` is cosine similarity."""
    k = k or settings.k
    filters = filters or Filters()
    query = embedder.encode([question])[0]
    dense = data.dense_search(query, max(settings.fetch_k, k), filters)
    sparse = data.keyword_search(question, max(settings.fetch_k, k), filters)
    fused: dict[Row, float] = defaultdict(float)
    for rank, (row, _) in enumerate(dense):
        fused[row] += settings.dense_weight / (settings.rrf_k + rank + 1)
    for rank, row in enumerate(sparse):
        fused[row] += settings.bm25_weight / (settings.rrf_k + rank + 1)
    order = sorted(fused, key=lambda r: -fused[r])
    if not order:
        return []
    found, vectors = data.fetch(order)
    chunks = dict(zip(order, found, strict=True))
    similarity = dict(zip(order, (vectors @ query).tolist(), strict=True))
    if settings.mmr:
        order = _mmr(order, vectors, query, settings.mmr_lambda, len(order))
    picked: list[Row] = []
    per_article: dict[str, int] = defaultdict(int)
    for row in order:
        article_id = chunks[row].article_id
        if per_article[article_id] >= settings.per_article:
            continue
        per_article[article_id] += 1
        picked.append(row)
        if len(picked) == k:
            break
    return [_passage(data, chunks[row], similarity[row]) for row in picked]


def _mmr(order: list[Row], vectors: np.ndarray, query: np.ndarray, lam: float, k: int) -> list[Row]:
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


def _passage(data: IndexView, chunk: Chunk, score: float) -> Passage:
    article = data.articles[chunk.article_id]
    return Passage(
        chunk=chunk,
        title=article["title"],
        date=article.get("date"),
        source=article.get("source"),
        url=article.get("url"),
        score=round(score, 4),
    )


def to_document(passage: Passage) -> Document:
    c = passage.chunk
    return Document(
        page_content=c.text,
        id=c.id,
        metadata={
            "article_id": c.article_id,
            "title": passage.title,
            "date": passage.date,
            "source": passage.source,
            "url": passage.url,
            "start": c.start,
            "end": c.end,
            "score": passage.score,
        },
    )


class NewsRetriever(BaseRetriever):
    """LangChain face of `retrieve`, for use in chains; `data_source` returns the live index."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    data_source: Any
    embedder: Any
    settings: RetrievalSettings
    k: int | None = None
    filters: Filters | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        passages = retrieve(
            self.data_source(), self.embedder, query, self.settings, self.k, self.filters
        )
        return [to_document(p) for p in passages]
