"""Plain data passed between the modules: articles, chunks, retrieved passages and answers."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


def content_hash(text: str) -> str:
    """Hash of an article's normalised text, used to spot unchanged and duplicate articles."""
    normalised = " ".join(text.split())
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Article:
    """One news article. `key` (url, else file path) decides its id; `origin` names its file."""

    id: str
    title: str
    text: str
    key: str
    date: str | None = None
    source: str | None = None
    url: str | None = None
    origin: str = ""

    @property
    def hash(self) -> str:
        return content_hash(self.text)


@dataclass(frozen=True)
class IndexedArticle:
    """An article as the index holds it: the `Article`'s fields, its text's hash, its chunk count.

    Every store returns these, and `Assistant.articles()` lists them. `text` is "" where it is
    left out (listings, a PostgreSQL writer planning a batch); that is why `hash` is kept and not
    recomputed from the text.
    """

    id: str
    title: str
    key: str
    hash: str
    chunks: int
    date: str | None = None
    source: str | None = None
    url: str | None = None
    origin: str = ""
    text: str = ""

    @classmethod
    def from_article(cls, article: Article, chunks: int) -> IndexedArticle:
        return cls(
            id=article.id,
            title=article.title,
            key=article.key,
            hash=article.hash,
            chunks=chunks,
            date=article.date,
            source=article.source,
            url=article.url,
            origin=article.origin,
            text=article.text,
        )

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> IndexedArticle:
        """Read the JSON object a store keeps (a line of articles.jsonl, a `record` column)."""
        return cls(
            id=record["id"],
            title=record["title"],
            key=record.get("key") or "",
            hash=record.get("hash") or "",
            chunks=int(record.get("chunks") or 0),
            date=record.get("date"),
            source=record.get("source"),
            url=record.get("url"),
            origin=record.get("origin") or "",
            text=record.get("text") or "",
        )

    def to_record(self) -> dict[str, Any]:
        """The JSON object stored, with the keys in the order indexes have always been written."""
        return {
            "id": self.id,
            "title": self.title,
            "date": self.date,
            "source": self.source,
            "url": self.url,
            "key": self.key,
            "origin": self.origin,
            "hash": self.hash,
            "chunks": self.chunks,
            "text": self.text,
        }


class Dated(Protocol):
    """What a date and source filter reads: an `IndexedArticle` or a `Passage`."""

    @property
    def date(self) -> str | None: ...

    @property
    def source(self) -> str | None: ...


@dataclass(frozen=True)
class Chunk:
    """A passage of an article: `text == article.text[start:end]`."""

    id: str
    article_id: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its article's metadata and the fused retrieval score."""

    chunk: Chunk
    title: str
    date: str | None
    source: str | None
    url: str | None
    score: float


@dataclass(frozen=True)
class Citation:
    """A source the answer cites with marker `[number]`."""

    number: int
    article_id: str
    title: str
    date: str | None
    source: str | None
    url: str | None
    text: str
    start: int
    end: int
    score: float

    @classmethod
    def from_passage(cls, number: int, passage: Passage) -> Citation:
        c = passage.chunk
        return cls(
            number=number,
            article_id=c.article_id,
            title=passage.title,
            date=passage.date,
            source=passage.source,
            url=passage.url,
            text=c.text,
            start=c.start,
            end=c.end,
            score=passage.score,
        )


@dataclass(frozen=True)
class Answer:
    """The reply to one question: text with `[n]` markers and the sources those markers cite."""

    question: str
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    passages: tuple[Passage, ...] = field(default=(), repr=False)

    @property
    def dates(self) -> tuple[str, ...]:
        """The dates of the cited articles, oldest first: what "this week" was drawn from."""
        return tuple(sorted({c.date for c in self.citations if c.date}))


@dataclass(frozen=True)
class Rejected:
    """An input that was not indexed, with the reason shown to the user."""

    name: str
    reason: str


@dataclass
class IngestReport:
    """What an index operation did; printed by the CLI and shown in the UI."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    duplicates: list[Rejected] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    warnings: list[Rejected] = field(default_factory=list)
    chunks_embedded: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Event:
    """One step of a streamed answer: the sources first, then tokens, then the final answer.

    kind is "sources" (passages set), "token" (text set) or "answer" (answer set).
    """

    kind: str
    text: str = ""
    passages: tuple[Passage, ...] = ()
    answer: Answer | None = None


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
        from assistant.timeframe import parse_day

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

    def accepts(self, article: Dated) -> bool:
        date = article.date
        until = self.until
        if not date:
            if self.date_from or until:
                return False
        elif (self.date_from and date < self.date_from) or (until and date > until):
            return False
        return not self.sources or article.source in self.sources
