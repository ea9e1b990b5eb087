"""Score the assistant on a file of questions: retrieval (Hits@k, MRR) and answers.

A question file is JSON Lines, one object per question:

    question    the question (required)
    answers     acceptable answer strings; an answer is correct when it contains one
    evidence    what holds the answer: text (or a list of texts) found in the articles, or
                article ids, keys, urls or file names
    article     the file holding the answer; `name.jsonl#n` is the n-th record (from 0)
    answerable  false for questions the articles cannot answer (default true)

A conversation file holds one chat per line: `id`, and `turns`, a list of such questions
asked in order, each with the assistant's own earlier answers as its history. Each turn is
scored right / refused / wrong (an unanswerable turn is right when refused), with citation
precision and whether the evidence was among the passages the model read.

Retrieval counts a hit when a retrieved passage comes from an evidence article or holds the
evidence text; answers are scored for correctness, citations that point at the evidence,
abstention and latency. Deliberately left out: judging answers with a model (the contains
rule is crude but reproducible and needs no second LLM).
"""

from __future__ import annotations

import json
import re
import statistics
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import AssistantError

if TYPE_CHECKING:
    from assistant.core import Assistant
    from assistant.stores.base import IndexView
    from assistant.types import Answer

HITS_AT = (1, 4, 10)
_MARKER = re.compile(r"\s*\[\d+\]")
_RECORD = re.compile(r"(?::(\d+)|\[(\d+)\])$")  # origin suffix of a JSON Lines line / array item


@dataclass(frozen=True)
class QAItem:
    """One question of an evaluation file."""

    question: str
    answers: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    article: str | None = None
    answerable: bool = True
    line: int = 0


def load_qa(path: str | Path) -> list[QAItem]:
    """Read a question file; a malformed line is an error naming its line number."""
    path = Path(path)
    items = [_item(record, path, number) for number, record in _records(path)]
    if not items:
        raise AssistantError(f"{path} holds no questions")
    return items


def _records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-empty line of a JSON Lines file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise AssistantError(f"cannot read question file {path}: {exc.strerror or exc}") from exc
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AssistantError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise AssistantError(f"{path}:{number}: expected a JSON object")
        records.append((number, record))
    return records


def _item(record: dict[str, Any], path: Path, number: int, where: str = "") -> QAItem:
    if not str(record.get("question") or "").strip():
        raise AssistantError(f"{path}:{number}: expected an object with a 'question'{where}")
    return QAItem(
        question=str(record["question"]).strip(),
        answers=_strings(record.get("answers", record.get("answer"))),
        evidence=_strings(record.get("evidence")),
        article=str(record["article"]) if record.get("article") else None,
        answerable=record.get("answerable", True) is not False,
        line=number,
    )


@dataclass(frozen=True)
class Conversation:
    """Questions asked one after the other in one chat; later ones lean on earlier ones."""

    id: str
    turns: tuple[QAItem, ...]
    line: int = 0


def is_conversation_file(path: str | Path) -> bool:
    """True when the file's first object has `turns` (a conversation file, not questions)."""
    records = _records(Path(path))
    return bool(records) and "turns" in records[0][1]


def load_conversations(path: str | Path) -> list[Conversation]:
    """Read a conversation file: one object per line, `id` and `turns` (a list of questions in
    the question-file format). A malformed line or turn is an error naming where it is."""
    path = Path(path)
    conversations = []
    for number, record in _records(path):
        turns = record.get("turns")
        if not isinstance(turns, list) or not turns:
            raise AssistantError(f"{path}:{number}: expected an object with a list of 'turns'")
        items = []
        for position, turn in enumerate(turns, start=1):
            if not isinstance(turn, dict):
                raise AssistantError(f"{path}:{number}: turn {position} is not an object")
            items.append(_item(turn, path, number, f" in turn {position}"))
        conversations.append(
            Conversation(str(record.get("id") or f"line {number}"), tuple(items), number)
        )
    if not conversations:
        raise AssistantError(f"{path} holds no conversations")
    return conversations


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str | int | float):
        value = [value]
    return tuple(str(v) for v in value if str(v).strip())


# -- matching ------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """Case-folded, Unicode-normalised (NFKC), whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    """True when `text` contains one of `answers` (case and spacing ignored).

    An answer that starts or ends with a letter or digit must not run on into one, so "10" is
    not found in "100" or "2010", nor "Iran" in "Iranian"; citation markers are ignored.
    """
    haystack = normalise(_MARKER.sub("", text))
    for answer in answers:
        needle = normalise(answer)
        if not needle:
            continue
        start = haystack.find(needle)
        while start >= 0:
            end = start + len(needle)
            before_ok = not needle[0].isalnum() or start == 0 or not haystack[start - 1].isalnum()
            after_ok = (
                not needle[-1].isalnum() or end == len(haystack) or not haystack[end].isalnum()
            )
            if before_ok and after_ok:
                return True
            start = haystack.find(needle, start + 1)
    return False


def _span_pattern(text: str) -> re.Pattern[str] | None:
    words = text.split()
    if not words:
        return None
    return re.compile(r"\s+".join(re.escape(w) for w in words), re.I)


class EvidenceIndex:
    """Decides which indexed passages hold a question's evidence."""

    def __init__(self, data: IndexView) -> None:
        self.articles = data.articles
        self.refs: dict[str, set[str]] = {}  # id, key, url, origin, file name -> article ids
        self.records: dict[str, list[tuple[int, str]]] = {}  # file -> (position, article id)
        for aid, article in data.articles.items():
            origin = article.origin
            found = _RECORD.search(origin)
            file = origin[: found.start()] if found else origin
            names = {aid, article.key, article.url, origin}
            if file:
                names |= {file, Path(file).name}
                position = int(found.group(1) or found.group(2)) if found else 0
                self.records.setdefault(file, []).append((position, aid))
            for name in names - {None, ""}:
                self.refs.setdefault(str(name), set()).add(aid)
        self._spans: dict[tuple[str, str], list[tuple[int, int]]] = {}
        self._normalised: list[str] | None = None

    def article_ids(self, ref: str) -> set[str]:
        """Articles named by an id, key, url, origin or file name."""
        return self.refs.get(ref, set())

    def record(self, ref: str) -> set[str]:
        """The article a sample-style `article` field names: a file, or `file#n`, its n-th
        record counted from 0 (unlike keys, which carry the 1-based line of a JSON Lines file).
        """
        name, sep, number = ref.rpartition("#")
        if sep and number.isdigit():
            for file, rows in self.records.items():
                if name in (file, Path(file).name) and int(number) < len(rows):
                    return {sorted(rows)[int(number)][1]}
            return set()
        return self.refs.get(ref) or self.refs.get(Path(ref).name, set())

    def resolve(self, item: QAItem) -> Evidence:
        """Split `item`'s evidence into articles and texts; the `article` field adds one."""
        articles: set[str] = set()
        texts: list[str] = []
        for value in item.evidence:
            ids = self.article_ids(value)
            if ids:
                articles |= ids
            else:
                texts.append(value)
        if item.article:
            articles |= self.record(item.article)
        # Evidence texts found nowhere in the indexed articles cannot be hit: report them.
        located = [t for t in texts if any(normalise(t) in body for body in self._bodies())]
        missing = len(located) < len(texts) or bool(item.article and not articles)
        return Evidence(frozenset(articles), tuple(texts), missing)

    def _bodies(self) -> list[str]:
        if self._normalised is None:
            self._normalised = [normalise(a.text) for a in self.articles.values()]
        return self._normalised

    def spans(self, article_id: str, text: str) -> list[tuple[int, int]]:
        """Where `text` occurs in the article (ignoring case and spacing)."""
        key = (article_id, text)
        if key not in self._spans:
            pattern = _span_pattern(text)
            body = self.articles[article_id].text
            found: list[tuple[int, int]] = []
            if pattern is not None:
                found = [(m.start(), m.end()) for m in pattern.finditer(body)]
            self._spans[key] = found
        return self._spans[key]

    def holds(
        self, evidence: Evidence, article_id: str, text: str, start: int = -1, end: int = -1
    ) -> bool:
        """True when a passage comes from an evidence article or holds an evidence text.

        A passage holds a text it contains, and also one it shares at least half of (the
        shorter of the two), so a long evidence text split across chunks is still found.
        """
        if article_id in evidence.articles:
            return True
        passage = normalise(text)
        for wanted in evidence.texts:
            if normalise(wanted) in passage:
                return True
            if start < 0 or article_id not in self.articles:
                continue
            for s, e in self.spans(article_id, wanted):
                overlap = min(e, end) - max(s, start)
                if overlap > 0 and overlap >= 0.5 * min(e - s, end - start):
                    return True
        return False


@dataclass(frozen=True)
class Evidence:
    articles: frozenset[str] = frozenset()
    texts: tuple[str, ...] = ()
    missing: bool = False  # some evidence text is in no indexed article

    def __bool__(self) -> bool:
        return bool(self.articles or self.texts)


# -- metrics -------------------------------------------------------------------------------


def first_hit(flags: Sequence[bool]) -> int | None:
    """1-based rank of the first True, or None."""
    return next((rank for rank, ok in enumerate(flags, start=1) if ok), None)


def retrieval_metrics(
    ranks: Sequence[int | None], hits_at: Sequence[int] = HITS_AT, mrr_at: int = 10
) -> dict[str, float | int]:
    """Hits@k (share with a hit in the top k) and MRR@k over questions' first-hit ranks."""
    n = len(ranks)
    out: dict[str, float | int] = {"questions": n}
    for k in hits_at:
        out[f"hits@{k}"] = sum(1 for r in ranks if r is not None and r <= k) / n if n else 0.0
    out[f"mrr@{mrr_at}"] = (
        sum(1 / r for r in ranks if r is not None and r <= mrr_at) / n if n else 0.0
    )
    return out


def _share(count: int, total: int) -> float | None:
    return count / total if total else None


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Record:
    """What happened for one question."""

    question: str
    answerable: bool
    has_evidence: bool
    evidence_missing: bool = False
    rank: int | None = None
    top_score: float | None = None
    retrieve_seconds: float = 0.0
    answer: str | None = None
    correct: bool | None = None
    abstained: bool | None = None
    citations: int = 0
    citations_on_evidence: int = 0
    first_token_seconds: float | None = None
    total_seconds: float | None = None
    retrieved: list[str] = field(default_factory=list)


def answer_metrics(records: Sequence[Record]) -> dict[str, Any]:
    """Accuracy (of all, and of those not refused), citation precision, rejection rates, answer
    length and latency."""
    answered = [r for r in records if r.answer is not None]
    graded = [r for r in answered if r.answerable and r.correct is not None]
    answerable = [r for r in answered if r.answerable]
    unanswerable = [r for r in answered if not r.answerable]
    cited = [r for r in answerable if r.has_evidence and not r.abstained]
    given = [r for r in graded if not r.abstained]
    right = sum(1 for r in graded if r.correct)
    citations = sum(r.citations for r in cited)
    lengths = [len(r.answer or "") for r in answered if not r.abstained]
    first = [r.first_token_seconds for r in answered if r.first_token_seconds is not None]
    total = [r.total_seconds for r in answered if r.total_seconds is not None]
    return {
        "questions": len(answered),
        "accuracy": _share(right, len(graded)),
        "graded": len(graded),
        # selective accuracy: how often an answer the user is given is right
        "accuracy_answered": _share(right, len(given)),
        "answered": len(given),
        "citation_precision": _share(sum(r.citations_on_evidence for r in cited), citations),
        "citations": citations,
        "rejection_rate": _share(sum(1 for r in unanswerable if r.abstained), len(unanswerable)),
        "unanswerable": len(unanswerable),
        "false_rejection_rate": _share(sum(1 for r in answerable if r.abstained), len(answerable)),
        "answerable": len(answerable),
        "mean_answer_chars": statistics.fmean(lengths) if lengths else None,
        "first_token_p50": _percentile(first, 0.5),
        "first_token_p95": _percentile(first, 0.95),
        "total_p50": _percentile(total, 0.5),
        "total_p95": _percentile(total, 0.95),
        "total_mean": statistics.fmean(total) if total else None,
    }


# -- running -------------------------------------------------------------------------------


@dataclass
class Report:
    """The outcome of `evaluate`: metrics and one record per question."""

    retrieval: dict[str, Any]
    answers: dict[str, Any] | None
    records: list[Record]
    settings: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "retrieval": self.retrieval,
            "answers": self.answers,
            "questions": [asdict(r) for r in self.records],
        }


def evaluate(
    assistant: Assistant,
    items: Sequence[QAItem],
    k: int = 10,
    answers: bool = True,
    progress: Callable[[Iterable[QAItem]], Iterable[QAItem]] | None = None,
) -> Report:
    """Retrieve the top `k` for each question (and answer it unless `answers` is False)."""
    evidence_index = EvidenceIndex(assistant.index())
    records = []
    for item in progress(items) if progress else items:
        evidence = evidence_index.resolve(item)
        record = Record(
            item.question, item.answerable, bool(evidence), evidence_missing=evidence.missing
        )
        started = time.perf_counter()
        passages = assistant.retrieve(item.question, k=k)
        record.retrieve_seconds = time.perf_counter() - started
        record.top_score = max((p.score for p in passages), default=None)
        record.retrieved = [p.chunk.id for p in passages]
        if evidence:
            flags = [
                evidence_index.holds(
                    evidence, p.chunk.article_id, p.chunk.text, p.chunk.start, p.chunk.end
                )
                for p in passages
            ]
            record.rank = first_hit(flags)
        if answers:
            _answer(assistant, item, record, evidence_index, evidence)
        records.append(record)
    scored = [r for r in records if r.answerable and r.has_evidence]
    retrieval: dict[str, float | None] = dict(
        retrieval_metrics(
            [r.rank for r in scored], [h for h in HITS_AT if h <= k] or [k], min(k, 10)
        )
    )
    retrieval["without_evidence"] = sum(1 for r in records if r.answerable and not r.has_evidence)
    retrieval["evidence_not_indexed"] = sum(1 for r in scored if r.evidence_missing)
    latencies = [r.retrieve_seconds for r in records]
    retrieval["latency_p50"] = _percentile(latencies, 0.5)
    retrieval["latency_p95"] = _percentile(latencies, 0.95)
    settings = {
        "k": k,
        "backend": assistant.settings.llm.backend if answers else None,
        "embedding_model": assistant.settings.embedding.model,
        "chunking": assistant.settings.chunking.model_dump(),
        "retrieval": assistant.settings.retrieval.model_dump(),
        "questions": len(records),
    }
    return Report(retrieval, answer_metrics(records) if answers else None, records, settings)


def _answer(
    assistant: Assistant,
    item: QAItem,
    record: Record,
    evidence_index: EvidenceIndex,
    evidence: Evidence,
) -> None:
    started = time.perf_counter()
    result = None
    for event in assistant.stream(item.question):
        if event.kind == "token" and event.text and record.first_token_seconds is None:
            record.first_token_seconds = time.perf_counter() - started
        if event.answer is not None:
            result = event.answer
    record.total_seconds = time.perf_counter() - started
    if result is None:
        return
    record.answer = result.text
    record.abstained = result.abstained
    if item.answers and item.answerable:
        record.correct = not result.abstained and contains_answer(result.text, item.answers)
    record.citations = len(result.citations)
    record.citations_on_evidence = sum(
        1
        for c in result.citations
        if evidence_index.holds(evidence, c.article_id, c.text, c.start, c.end)
    )


# -- conversations -------------------------------------------------------------------------

OUTCOMES = ("right", "refused", "wrong")


def outcome(item: QAItem, text: str, refused: bool) -> str:
    """Right, refused or wrong for one reply: an answerable question is right when the reply
    gives one of its answers; any reply to an unanswerable one but a refusal is wrong."""
    if refused:
        return "refused"
    return "right" if item.answerable and contains_answer(text, item.answers) else "wrong"


@dataclass
class TurnRecord:
    """What happened at one turn of a conversation. `correct`: right when answerable,
    refused when not."""

    conversation: str
    turn: int  # from 1; turns after the first are follow-ups
    question: str
    answerable: bool
    answer: str = ""
    outcome: str = "wrong"
    correct: bool = False
    citations: int = 0
    citations_on_evidence: int = 0
    evidence_in_context: bool | None = None  # a passage given to the model holds the evidence
    first_token_seconds: float | None = None
    total_seconds: float | None = None


def conversation_metrics(records: Sequence[TurnRecord]) -> dict[str, Any]:
    """Turn accuracy overall, on first turns and on follow-ups; what became of answerable and
    unanswerable turns; citation precision; how often the evidence reached the model."""
    follow = [r for r in records if r.turn > 1]
    answerable = [r for r in records if r.answerable]
    unanswerable = [r for r in records if not r.answerable]
    answered = [r for r in answerable if r.outcome != "refused"]
    citations = sum(r.citations for r in answered)
    with_context = [r for r in answerable if r.evidence_in_context is not None]
    total = [r.total_seconds for r in records if r.total_seconds is not None]
    first = [r.first_token_seconds for r in records if r.first_token_seconds is not None]

    def right(rows: Sequence[TurnRecord]) -> float | None:
        return _share(sum(r.correct for r in rows), len(rows))

    return {
        "conversations": len({r.conversation for r in records}),
        "turns": len(records),
        "accuracy": right(records),
        "first_turns": len(records) - len(follow),
        "first_turn_accuracy": right([r for r in records if r.turn == 1]),
        "follow_ups": len(follow),
        "follow_up_accuracy": right(follow),
        "answerable": len(answerable),
        **{f"answerable_{kind}": sum(r.outcome == kind for r in answerable) for kind in OUTCOMES},
        "answerable_follow_up_accuracy": right([r for r in follow if r.answerable]),
        "unanswerable": len(unanswerable),
        "rejection_rate": right(unanswerable),
        "citations": citations,
        "citation_precision": _share(sum(r.citations_on_evidence for r in answered), citations),
        "evidence_in_context": _share(
            sum(bool(r.evidence_in_context) for r in with_context), len(with_context)
        ),
        "first_token_p50": _percentile(first, 0.5),
        "total_p50": _percentile(total, 0.5),
    }


@dataclass
class ConversationReport:
    metrics: dict[str, Any]
    records: list[TurnRecord]
    settings: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "conversations": self.metrics,
            "turns": [asdict(r) for r in self.records],
        }


def evaluate_conversations(
    assistant: Assistant,
    conversations: Sequence[Conversation],
    progress: Callable[[Iterable[Conversation]], Iterable[Conversation]] | None = None,
) -> ConversationReport:
    """Ask every conversation's turns in order, each with the assistant's own earlier answers
    as its history, and score each turn."""
    evidence_index = EvidenceIndex(assistant.index())
    records: list[TurnRecord] = []
    for conversation in progress(conversations) if progress else conversations:
        history: list[Answer] = []
        for number, item in enumerate(conversation.turns, start=1):
            record = TurnRecord(conversation.id, number, item.question, item.answerable)
            started = time.perf_counter()
            result = None
            for event in assistant.stream(item.question, history=history):
                if event.kind == "token" and event.text and record.first_token_seconds is None:
                    record.first_token_seconds = time.perf_counter() - started
                if event.answer is not None:
                    result = event.answer
            record.total_seconds = time.perf_counter() - started
            if result is None:
                raise AssertionError("the answer stream ended without an answer")
            history.append(result)
            _score_turn(record, item, result, evidence_index)
            records.append(record)
    settings = {
        "backend": assistant.settings.llm.backend,
        "embedding_model": assistant.settings.embedding.model,
        "retrieval": assistant.settings.retrieval.model_dump(),
        "conversations": len(conversations),
    }
    return ConversationReport(conversation_metrics(records), records, settings)


def _score_turn(
    record: TurnRecord, item: QAItem, result: Answer, evidence_index: EvidenceIndex
) -> None:
    record.answer = result.text
    record.outcome = outcome(item, result.text, result.abstained)
    record.correct = record.outcome == ("right" if item.answerable else "refused")
    evidence = evidence_index.resolve(item)
    if not (item.answerable and evidence):
        return
    record.evidence_in_context = any(
        evidence_index.holds(evidence, p.chunk.article_id, p.chunk.text, p.chunk.start, p.chunk.end)
        for p in result.passages
    )
    if not result.abstained:
        record.citations = len(result.citations)
        record.citations_on_evidence = sum(
            evidence_index.holds(evidence, c.article_id, c.text, c.start, c.end)
            for c in result.citations
        )


def format_conversation_report(report: ConversationReport) -> str:
    """The table the CLI prints for a conversation file."""
    m = report.metrics
    pct = partial(_fmt, percent=True)
    rows = [
        ("Conversations", f"{m['conversations']}, {m['turns']} turns, "
                          f"backend {report.settings['backend']}"),
        ("  Turns right", f"{pct(m['accuracy'])} of {m['turns']}"),
        ("  First turns right", f"{pct(m['first_turn_accuracy'])} of {m['first_turns']}"),
        ("  Follow-ups right", f"{pct(m['follow_up_accuracy'])} of {m['follow_ups']}"),
        ("  Answerable: right / refused / wrong",
         f"{m['answerable_right']} / {m['answerable_refused']} / {m['answerable_wrong']} "
         f"of {m['answerable']}"),
        ("  Answerable follow-ups right", pct(m["answerable_follow_up_accuracy"])),
        ("  Unanswerable refused", f"{pct(m['rejection_rate'])} of {m['unanswerable']}"),
        ("  Citation precision", f"{pct(m['citation_precision'])} of {m['citations']} citations"),
        ("  Evidence given to the model", pct(m["evidence_in_context"])),
        ("  First token / total p50",
         f"{_fmt(m['first_token_p50'], seconds=True)} / {_fmt(m['total_p50'], seconds=True)}"),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


# -- display -------------------------------------------------------------------------------


def _fmt(value: Any, percent: bool = False, seconds: bool = False) -> str:
    if value is None:
        return "-"
    if percent:
        return f"{100 * value:.1f}%"
    if seconds:
        return f"{value:.2f}s" if value >= 0.1 else f"{1000 * value:.0f}ms"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def format_report(report: Report) -> str:
    """The table the CLI prints."""
    r = report.retrieval
    rows: list[tuple[str, str]] = [("Retrieval", f"{r['questions']} answerable questions")]
    rows += [(f"  Hits@{key[5:]}", _fmt(r[key], percent=True)) for key in r if key[:5] == "hits@"]
    rows += [(f"  MRR@{key[4:]}", _fmt(r[key])) for key in r if key[:4] == "mrr@"]
    latency = f"{_fmt(r['latency_p50'], seconds=True)} / {_fmt(r['latency_p95'], seconds=True)}"
    rows.append(("  Latency p50 / p95", latency))
    if r["without_evidence"]:
        rows.append(("  Not scored (no evidence)", str(r["without_evidence"])))
    if r["evidence_not_indexed"]:
        rows.append(("  Evidence text not in index", str(r["evidence_not_indexed"])))
    a = report.answers
    if a is not None:
        rows += [
            ("Answers", f"{a['questions']} questions, backend {report.settings['backend']}"),
            ("  Accuracy", f"{_fmt(a['accuracy'], percent=True)} of {a['graded']}"),
            (
                "  Accuracy when answered",
                f"{_fmt(a['accuracy_answered'], percent=True)} of {a['answered']}",
            ),
            (
                "  Citation precision",
                f"{_fmt(a['citation_precision'], percent=True)} of {a['citations']} citations",
            ),
            (
                "  Rejection (unanswerable)",
                f"{_fmt(a['rejection_rate'], percent=True)} of {a['unanswerable']}",
            ),
            (
                "  False rejection (answerable)",
                f"{_fmt(a['false_rejection_rate'], percent=True)} of {a['answerable']}",
            ),
            ("  Mean answer length", f"{_fmt(a['mean_answer_chars'])} chars"),
            (
                "  First token p50 / p95",
                f"{_fmt(a['first_token_p50'], seconds=True)} / "
                f"{_fmt(a['first_token_p95'], seconds=True)}",
            ),
            (
                "  Total p50 / p95",
                f"{_fmt(a['total_p50'], seconds=True)} / {_fmt(a['total_p95'], seconds=True)}",
            ),
        ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)
