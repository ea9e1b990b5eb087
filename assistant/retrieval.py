"""Find the passages for a question: dense (FAISS) and BM25 rankings fused by reciprocal rank.

Dense search finds paraphrases; BM25 finds names and numbers the small embedding model blurs.
After fusion: at most `per_article` passages per article, optional MMR, optional filters.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from assistant.settings import RetrievalSettings
from assistant.store import IndexData
from assistant.timeframe import Timeframe, default_as_of, parse_day, timeframe
from assistant.types import Passage

if TYPE_CHECKING:
    import numpy as np

    from assistant.embeddings import Embedder


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval to a date range (inclusive, YYYY-MM-DD) and/or some sources.

    `as_of` asks the question as of that day: later articles are left out, and "this week" or
    "yesterday" in the question count from it (default: today, or the newest article's date
    when the index is older).
    """

    date_from: str | None = None
    date_to: str | None = None
    sources: tuple[str, ...] = ()
    as_of: str | None = None

    def __post_init__(self) -> None:
        for name in ("date_from", "date_to", "as_of"):
            value = getattr(self, name)
            if value is not None:
                try:
                    day = parse_day(value)
                except ValueError:
                    raise ValueError(f"{name}: {value!r} is not a date; use YYYY-MM-DD") from None
                object.__setattr__(self, name, day.isoformat() if day else None)

    def __bool__(self) -> bool:
        return bool(self.date_from or self.date_to or self.sources or self.as_of)

    @property
    def until(self) -> str | None:
        """The last day an article may be dated: `date_to` or `as_of`, whichever is earlier."""
        days = [d for d in (self.date_to, self.as_of) if d]
        return min(days) if days else None

    def accepts(self, article: dict[str, Any]) -> bool:
        date = article.get("date")
        until = self.until
        if (self.date_from or until) and not date:
            return False
        if self.date_from and date < self.date_from:
            return False
        if until and date > until:
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
    budget: int | None = None,
) -> list[Passage]:
    """The best passages for `question`, best first; `score` is cosine similarity.

    At most `k` passages (default `settings.k`), holding at most `budget` characters when
    given: the chain passes `settings.context_chars`, so the model reads about as much
    whatever the chunk size.
    """
    k = k or settings.k
    filters = filters or Filters()
    found = gather(data, embedder, question, max(settings.fetch_k, k), filters)
    as_of = parse_day(filters.as_of) or default_as_of(newest_date(data))
    return rank(data, found, settings, k, timeframe(question, as_of), budget)


@dataclass
class Candidates:
    """What the two searches found for one question, kept apart from fusion so that fusion
    settings can be compared (bench/quality.py) without searching again."""

    query: np.ndarray
    dense: list[tuple[int, float]]
    sparse: list[int]


def gather(
    data: IndexData, embedder: Embedder, question: str, fetch_k: int, filters: Filters
) -> Candidates:
    allowed = _allowed_rows(data, filters)
    query = embedder.encode([question])[0]
    return Candidates(
        query,
        dense_search(data, query, fetch_k, allowed),
        bm25_search(data, question, fetch_k, allowed),
    )


def rank(
    data: IndexData,
    found: Candidates,
    settings: RetrievalSettings,
    k: int,
    when: Timeframe | None = None,
    budget: int | None = None,
) -> list[Passage]:
    """Fuse the rankings, then pick passages: per-article cap, no near-duplicates, budget."""
    import numpy as np

    fused: dict[int, float] = defaultdict(float)
    for position, (row, _) in enumerate(found.dense):
        fused[row] += settings.dense_weight / (settings.rrf_k + position + 1)
    for position, row in enumerate(found.sparse):
        fused[row] += settings.bm25_weight / (settings.rrf_k + position + 1)
    if not fused:
        return []
    if settings.lede_weight:
        _lift_ledes(data, fused, settings.lede_weight)
    if when is not None and (settings.recency_weight or settings.window_weight):
        _prefer_recent(data, fused, settings, when)
    order = sorted(fused, key=lambda r: -fused[r])
    vectors = np.stack([data.vectors.reconstruct(r) for r in order])
    similarity = dict(zip(order, (vectors @ found.query).tolist(), strict=True))
    if settings.mmr:
        order = _mmr(order, vectors, found.query, settings.mmr_lambda, len(order))
    picked: list[int] = []
    shingles: list[set[str]] = []
    per_article: dict[str, int] = defaultdict(int)
    budget = budget or 10**9
    for row in order:
        chunk = data.chunks[row]
        if per_article[chunk.article_id] >= settings.per_article:
            continue
        if picked and len(chunk.text) > budget:
            continue  # a shorter passage further down may still fit
        mine = _shingles(chunk.text)
        if settings.max_overlap < 1 and any(
            _jaccard(mine, other) > settings.max_overlap for other in shingles
        ):
            continue  # the same story again, from another site or an earlier version
        per_article[chunk.article_id] += 1
        picked.append(row)
        shingles.append(mine)
        budget -= len(chunk.text)
        if len(picked) == k or budget <= 0:
            break
    return [_passage(data, row, similarity[row]) for row in picked]


def newest_date(data: IndexData) -> str | None:
    """The latest article date in the index (kept with the loaded version)."""
    if "newest" not in data._cache:
        dates = [a["date"] for a in data.articles.values() if a.get("date")]
        data._cache["newest"] = max(dates, default=None)
    return data._cache["newest"]


def _prefer_recent(
    data: IndexData, fused: dict[int, float], settings: RetrievalSettings, when: Timeframe
) -> None:
    """Add two rankings to the fusion: candidates by closeness to the as-of day, and a bonus
    for those inside the window the question names ("this week"). Undated articles get
    neither: they are not penalised, only not preferred."""
    days: dict[int, date] = {}
    for row in fused:
        value = data.articles[data.chunks[row].article_id].get("date")
        if value:
            days[row] = date.fromisoformat(value[:10])
    by_age = sorted(days, key=lambda row: abs((when.as_of - days[row]).days))
    for position, row in enumerate(by_age):
        fused[row] += settings.recency_weight / (settings.rrf_k + position + 1)
        if when.contains(days[row]):
            fused[row] += settings.window_weight / (settings.rrf_k + 1)


def _lift_ledes(data: IndexData, fused: dict[int, float], weight: float) -> None:
    """News is written lede-first: an article's opening chunk joins the candidates of any
    article that is one, with a share of that article's best score."""
    first = _first_rows(data)
    best: dict[str, float] = {}
    for row, score in fused.items():
        article_id = data.chunks[row].article_id
        best[article_id] = max(best.get(article_id, 0.0), score)
    for article_id, score in best.items():
        row = first.get(article_id)
        if row is not None:
            fused[row] += weight * score


def _first_rows(data: IndexData) -> dict[str, int]:
    """Row of each article's first chunk (kept with the loaded version)."""
    if "first_rows" not in data._cache:
        first: dict[str, int] = {}
        for row, chunk in enumerate(data.chunks):
            if (
                chunk.article_id not in first
                or chunk.start < data.chunks[first[chunk.article_id]].start
            ):
                first[chunk.article_id] = row
        data._cache["first_rows"] = first
    return data._cache["first_rows"]


def _shingles(text: str, size: int = 3) -> set[str]:
    words = text.lower().split()
    return {" ".join(words[i : i + size]) for i in range(max(len(words) - size + 1, 1))}


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


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
