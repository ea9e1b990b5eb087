"""Find the passages for a question: dense and BM25 rankings fused by reciprocal rank.

Dense search finds paraphrases; BM25 finds names and numbers the small embedding model blurs.
A third ranking joins the fusion: the best fused candidates by their sentence closest to the
question. After fusion: recent articles may be preferred, then at most `per_article` passages
per article (the second one its opening chunk when that was found: news is written
lede-first), no two copies of one story, optional MMR, and an optional budget of characters.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

from assistant.chunking import sentence_spans
from assistant.settings import RetrievalSettings
from assistant.stores.base import IndexView, Row
from assistant.timeframe import Timeframe, default_as_of, parse_day, timeframe
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
    when = question_timeframe(data, question, filters)
    # no day given and no "this week": an archive question, no recency bias
    dated = filters.as_of is not None or when.start is not None
    return rank(data, found, settings, k, when if dated else None, budget, embedder)


def search_within(
    data: IndexView,
    embedder: Embedder,
    question: str,
    settings: RetrievalSettings,
    articles: frozenset[str],
    filters: Filters | None = None,
    k: int | None = None,
) -> list[Passage]:
    """The passages of `articles` that best match `question`, fused as `retrieve` fuses,
    with no cap per article: a follow-up continues a story, and its articles are the subject.

    A follow-up asked as it was ("Who presented the proposals?") finds its paragraph within
    the story it continues, where the same words searched with the earlier questions, or
    over the whole index, bring back the story's lede or other articles."""
    k = k or settings.k
    found = gather(data, embedder, question, 2 * settings.fetch_k, filters or Filters())
    rows = list({row: None for row, _ in found.dense} | {row: None for row in found.sparse})
    if not rows:
        return []
    chunks, _ = data.fetch(rows)
    mine = {row for row, chunk in zip(rows, chunks, strict=True) if chunk.article_id in articles}
    story = Candidates(
        found.query,
        [(row, score) for row, score in found.dense if row in mine],
        [row for row in found.sparse if row in mine],
    )
    uncapped = settings.model_copy(update={"per_article": k})
    return rank(data, story, uncapped, k, embedder=embedder)


def question_timeframe(data: IndexView, question: str, filters: Filters | None) -> Timeframe:
    """The days the question names ("this week"), counted back from its as-of day: the
    filters' `as_of`, else today or, for an older index, its newest article's date (a guess)."""
    as_of = parse_day(filters.as_of) if filters else None
    if as_of is not None:
        return timeframe(question, as_of)
    guess = default_as_of(data.newest_date())
    return replace(timeframe(question, guess), guessed=guess < date.today())


@dataclass
class Candidates:
    """What the two searches found for one question, kept apart from fusion so that fusion
    settings can be compared (bench/quality.py) without searching again."""

    query: np.ndarray
    dense: list[tuple[Row, float]]
    sparse: list[Row]


def gather(
    data: IndexView, embedder: Embedder, question: str, fetch_k: int, filters: Filters
) -> Candidates:
    query = embedder.encode([question])[0]
    return Candidates(
        query,
        data.dense_search(query, fetch_k, filters),
        data.keyword_search(question, fetch_k, filters),
    )


def rank(
    data: IndexView,
    found: Candidates,
    settings: RetrievalSettings,
    k: int,
    when: Timeframe | None = None,
    budget: int | None = None,
    embedder: Embedder | None = None,
) -> list[Passage]:
    """Fuse the rankings, then pick passages: per-article cap, no near-duplicates, budget.

    With `embedder`, the best candidates are also ranked by their closest sentence."""
    fused: dict[Row, float] = defaultdict(float)
    for position, (row, _) in enumerate(found.dense):
        fused[row] += settings.dense_weight / (settings.rrf_k + position + 1)
    for position, row in enumerate(found.sparse):
        fused[row] += settings.bm25_weight / (settings.rrf_k + position + 1)
    if not fused:
        return []
    rows = list(fused)
    fetched, vectors = data.fetch(rows)
    chunks = dict(zip(rows, fetched, strict=True))
    if embedder is not None and settings.sentence_weight:
        _add_sentence_ranking(embedder, fused, chunks, found.query, settings)
    if when is not None and (settings.recency_weight or settings.window_weight):
        _prefer_recent(data, fused, chunks, settings, when)
    similarity = dict(zip(rows, (vectors @ found.query).tolist(), strict=True))
    order = sorted(fused, key=lambda r: -fused[r])
    if settings.mmr:
        index_of = {row: i for i, row in enumerate(rows)}
        ordered = vectors[[index_of[r] for r in order]]
        order = _mmr(order, ordered, found.query, settings.mmr_lambda, len(order))
    openings = {chunk.article_id: row for row, chunk in chunks.items() if chunk.start == 0}
    picked: list[Row] = []
    shingles: list[set[str]] = []
    per_article: dict[str, int] = defaultdict(int)
    budget = budget or 10**9
    for row in order:
        chunk = chunks[row]
        if per_article[chunk.article_id] >= settings.per_article or row in picked:
            continue
        opening = openings.get(chunk.article_id)
        second = settings.lede_slot and per_article[chunk.article_id] == 1
        if second and opening is not None and opening not in picked:
            row, chunk = opening, chunks[opening]  # the article's second slot: its opening
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
    return [_passage(data, chunks[row], similarity[row]) for row in picked]


def _add_sentence_ranking(
    embedder: Embedder,
    fused: dict[Row, float],
    chunks: dict[Row, Chunk],
    query: np.ndarray,
    settings: RetrievalSettings,
) -> None:
    """Rank the best `sentence_candidates` by the cosine of their sentence closest to the
    question, and add that ranking to the fusion. A 600-character chunk holds about five
    sentences and its vector is their average, with the title's: the one that answers is
    diluted. On the dev sets, held out by week, this raised MRR@10 on the 2023 full pages
    and the 2020 passages alike (README)."""
    top = sorted(fused, key=lambda r: -fused[r])[: settings.sentence_candidates]
    pieces = []
    for row in top:
        text = chunks[row].text
        pieces.append([text[a:b] for a, b in sentence_spans(text)] or [text])
    vectors = embedder.encode_recent([s for piece in pieces for s in piece])
    closest, at = {}, 0
    for row, piece in zip(top, pieces, strict=True):
        closest[row] = float((vectors[at : at + len(piece)] @ query).max())
        at += len(piece)
    for position, row in enumerate(sorted(top, key=lambda r: -closest[r])):
        fused[row] += settings.sentence_weight / (settings.rrf_k + position + 1)


def _prefer_recent(
    data: IndexView,
    fused: dict[Row, float],
    chunks: dict[Row, Chunk],
    settings: RetrievalSettings,
    when: Timeframe,
) -> None:
    """Add two rankings to the fusion: candidates by closeness to the as-of day, and a bonus
    for those inside the window the question names ("this week"). Undated articles get
    neither: they are not penalised, only not preferred."""
    dated = data.article_dates({chunks[row].article_id for row in fused})
    days: dict[Row, date] = {}
    for row in fused:
        value = dated.get(chunks[row].article_id)
        if value:
            days[row] = date.fromisoformat(value[:10])
    by_age = sorted(days, key=lambda row: abs((when.as_of - days[row]).days))
    for position, row in enumerate(by_age):
        fused[row] += settings.recency_weight / (settings.rrf_k + position + 1)
        if when.contains(days[row]):
            fused[row] += settings.window_weight / (settings.rrf_k + 1)


def _shingles(text: str, size: int = 3) -> set[str]:
    words = text.lower().split()
    return {" ".join(words[i : i + size]) for i in range(max(len(words) - size + 1, 1))}


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


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
        title=article.title,
        date=article.date,
        source=article.source,
        url=article.url,
        score=round(score, 4),
    )
