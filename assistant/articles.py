"""Read article files (txt, md, html, json, jsonl) into `Article`s.

Every problem is reported by file name (and line, for JSON Lines) instead of stopping the run:
one bad file never keeps the good ones out of the index.
"""

from __future__ import annotations

import codecs
import hashlib
import itertools
import json
import os
import re
import stat
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

from assistant.types import Article, Rejected

# (data, name, key, result): a loader adds the articles it finds, or rejections, to result
Loader = Callable[[bytes, str, str, "LoadResult"], None]
TextParser = Callable[[str, str, str, "LoadResult"], None]
TEXT_FIELDS = ("text", "body", "content")
MIN_HTML_CHARS = 80  # shorter extractions are navigation or a cookie notice, not an article


@dataclass
class LoadResult:
    """Articles read, files rejected, and warnings about files that were read only in part."""

    articles: list[Article] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    warnings: list[Rejected] = field(default_factory=list)
    known: list[str] = field(default_factory=list)  # feed items not fetched: already indexed


def article_id(key: str) -> str:
    """A stable id from the article's url or file path, so re-adding it updates in place."""
    return "a" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]


def load_paths(
    paths: Iterable[str | os.PathLike[str]],
    max_bytes: int = 5_000_000,
    follow_symlinks: bool = False,
) -> LoadResult:
    """Load every article under `paths` (files, or folders searched recursively).

    `follow_symlinks`: also read what a symlink inside a folder points to outside that folder.
    """
    result = LoadResult()
    for path, key in iter_files(paths, result, follow_symlinks=follow_symlinks):
        load_file(path, key, result, max_bytes=max_bytes)
    return result


def safe_name(name: object) -> str:
    """A file name or title fit to print: control and format characters (newlines, terminal
    escapes, right-to-left overrides) shown as `\\x1b`-style escapes, so a name cannot forge
    lines of a report or reorder what is shown."""
    return "".join(
        ch if unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp") else _escape_char(ch)
        for ch in str(name)
    )


def _escape_char(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _outside(path: str, root: str) -> bool:
    """True when `path` (resolved) is not `root` or inside it."""
    real = os.path.realpath(path)
    return real != root and not real.startswith(root.rstrip(os.sep) + os.sep)


def _outside_note(path: Path) -> str:
    return (
        f"symlink to {safe_name(os.path.realpath(path))}, outside the folder: skipped "
        "(use --follow-symlinks or follow_symlinks=true to read it)"
    )


def iter_files(
    paths: Iterable[str | os.PathLike[str]], result: LoadResult, follow_symlinks: bool = False
) -> Iterator[tuple[Path, str]]:
    """Yield (file, key): a folder's files keyed by their path inside it, a file by its name.

    Inside a folder, a symlink that resolves outside it is skipped and reported unless
    `follow_symlinks` (a link to /etc/passwd must not become quotable). Symlinks within the
    folder are followed, but a folder already visited is not entered again (no loops).
    """
    seen: set[str] = set()
    for raw in paths:
        root = Path(raw)
        if root.is_dir():
            real_root = os.path.realpath(root)
            for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
                real = os.path.realpath(dirpath)
                if real in seen:
                    result.warnings.append(Rejected(dirpath, "symlink loop: folder already read"))
                    dirnames[:] = []
                    continue
                seen.add(real)
                kept = []
                for d in sorted(dirnames):
                    if d.startswith("."):
                        continue
                    if not follow_symlinks and _outside(os.path.join(dirpath, d), real_root):
                        result.rejected.append(
                            Rejected(os.path.join(dirpath, d), _outside_note(Path(dirpath) / d))
                        )
                        continue
                    kept.append(d)
                dirnames[:] = kept
                for name in sorted(filenames):
                    if name.startswith("."):
                        continue
                    path = Path(dirpath) / name
                    if not follow_symlinks and _outside(str(path), real_root):
                        result.rejected.append(Rejected(str(path), _outside_note(path)))
                        continue
                    if path.suffix.lower() not in LOADERS:
                        result.rejected.append(Rejected(str(path), _unsupported()))
                        continue
                    yield path, path.relative_to(root).as_posix()
        elif root.is_file():
            if root.suffix.lower() not in LOADERS:
                result.rejected.append(Rejected(str(root), _unsupported()))
                continue
            yield root, root.name
        elif root.exists():
            result.rejected.append(Rejected(str(root), "not a regular file or folder"))
        else:
            result.rejected.append(Rejected(str(root), "no such file or folder"))


def load_file(
    path: Path,
    key: str,
    result: LoadResult,
    max_bytes: int = 5_000_000,
    name: str | None = None,
) -> None:
    """Read one file into `result`; `key` makes its id, `name` (default: the path) its messages.

    The UI's uploads come this way too, named by their original file names.
    """
    name = name or str(path)
    if Path(name).suffix.lower() not in LOADERS:
        result.rejected.append(Rejected(name, _unsupported()))
        return
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):  # a pipe or device would block or never end
            result.rejected.append(Rejected(name, f"not a regular file ({_kind(mode)}): skipped"))
            return
        lines = Path(name).suffix.lower() == ".jsonl"
        with path.open("rb") as fh:
            # never more than the limit (per line for JSON Lines) is read, even if the file
            # grows while it is read
            data = _capped_lines(fh, max_bytes, name, result) if lines else fh.read(max_bytes + 1)
    except OSError as exc:
        result.rejected.append(Rejected(name, f"cannot read file: {exc.strerror or exc}"))
        return
    if len(data) > max_bytes and not lines:
        size = max(path.stat().st_size, len(data))
        result.rejected.append(
            Rejected(
                name,
                f"file is {size:,} bytes, over the {max_bytes:,}-byte limit "
                "(raise max_article_bytes or split the file)",
            )
        )
        return
    load_bytes(data, name, key, result)


def _capped_lines(fh: BinaryIO, max_bytes: int, name: str, result: LoadResult) -> bytes:
    """A JSON Lines file holds many articles, so the limit is per line, not per file: a longer
    line is rejected by its number (and left empty, so later lines keep theirs), never read
    whole."""
    lines = []
    for lineno in itertools.count(1):
        line = fh.readline(max_bytes + 1)
        if not line:
            break
        if len(line) > max_bytes and not line.endswith(b"\n"):
            size = len(line)
            while (rest := fh.readline(1 << 20)) and not rest.endswith(b"\n"):
                size += len(rest)
            size += len(rest)
            result.rejected.append(
                Rejected(
                    f"{name}:{lineno}",
                    f"line is {size:,} bytes, over the {max_bytes:,}-byte limit for one "
                    "article (raise max_article_bytes)",
                )
            )
            line = b"\n"
        lines.append(line)
    return b"".join(lines)


def _kind(mode: int) -> str:
    """What a non-regular file is, for the report."""
    for test, kind in (
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return kind
    return "not a file"


def load_bytes(
    data: bytes, name: str, key: str, result: LoadResult, suffix: str | None = None
) -> None:
    """Parse one file's bytes; the format comes from `suffix`, else from the suffix of `name`."""
    loader = LOADERS.get((suffix or Path(name).suffix).lower())
    if loader is None:
        result.rejected.append(Rejected(name, _unsupported()))
        return
    if not data.strip():
        result.rejected.append(Rejected(name, "file is empty"))
        return
    before, rejected_before = len(result.articles), len(result.rejected)
    try:
        loader(data, name, key, result)
    except ValueError as exc:
        result.rejected.append(Rejected(name, str(exc)))
        return
    if len(result.articles) == before and len(result.rejected) == rejected_before:
        result.rejected.append(Rejected(name, "no article text found"))


def _text_format(parse: TextParser) -> Loader:
    """The loader of a text format: refuse binary data, decode, then `parse` the text."""

    def load(data: bytes, name: str, key: str, result: LoadResult) -> None:
        utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        if b"\x00" in data[:8192] and not utf16:
            result.rejected.append(Rejected(name, "binary file, not text"))
            return
        text, note = decode(data)
        if _looks_binary(text):
            result.rejected.append(Rejected(name, "binary file, not text (mostly unprintable)"))
            return
        if note:
            result.warnings.append(Rejected(name, note))
        parse(text, name, key, result)

    return load


def _looks_binary(text: str, sample: int = 8192) -> bool:
    """True when over 5% of the first characters are control characters or U+FFFD."""
    head = text[:sample]
    bad = sum(1 for ch in head if ch == "\ufffd" or (ord(ch) < 32 and ch not in "\t\n\r\f"))
    return bad > 0.05 * max(len(head), 1)


# Legacy encodings news files come in, most likely first; ties go to the earlier one.
LEGACY_ENCODINGS = ("cp1252", "cp1251", "cp1250", "koi8_r", "iso8859_15")
_WORD = re.compile(r"\w+")
_SURROGATE = re.compile("[\ud800-\udfff]")


def decode(data: bytes) -> tuple[str, str | None]:
    """Decode as UTF-8, else as the most plausible legacy encoding; say what was done."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace"), "UTF-16 text; decoded as utf_16"
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    from charset_normalizer import from_bytes  # only needed for the rare non-UTF-8 file

    candidates = list(LEGACY_ENCODINGS)
    detected = from_bytes(data).best()
    if detected is not None and detected.encoding:
        candidates.append(detected.encoding)
    decoded = []
    for rank, encoding in enumerate(candidates):
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        decoded.append((_implausibility(text), rank, encoding, text))
    if decoded:
        _, _, encoding, text = min(decoded)
        return text, f"not UTF-8 (first bad byte at {first_bad}); decoded as {encoding}"
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    return text, f"not UTF-8; {bad} undecodable byte(s) replaced with U+FFFD"


def _implausibility(text: str) -> int:
    """How many words look mis-decoded: scripts mixed in a word, symbols inside words, words
    made mostly of accented letters (Cyrillic read as Latin-1), or lower-then-upper case."""
    bad = 0
    for word in _WORD.findall(text):
        if word.isascii():
            continue
        latin = cyrillic = accented = 0
        for ch in word:
            if ch.isascii():
                latin += ch.isalpha()
            elif "\u00c0" <= ch <= "\u024f" and ch.isalpha():
                latin += 1
                accented += 1
            elif "\u0400" <= ch <= "\u04ff":
                cyrillic += 1
            else:
                bad += 1
        if (latin and cyrillic) or (len(word) >= 4 and accented * 2 > len(word)):
            bad += 1
        elif word[1:] != word[1:].lower() and word[:1] != word[:1].upper():
            bad += 1  # "ъЕМЕОУЛЙК": KOI8-R read as cp1251 swaps the case
    bad += sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
    return bad


def _add(
    result: LoadResult,
    name: str,
    key: str,
    text: str,
    title: Any = None,
    date_value: Any = None,
    source: Any = None,
    url: Any = None,
) -> None:
    values = [v if v is None or isinstance(v, str) else str(v) for v in (title, source, url)]
    if any(_SURROGATE.search(v) for v in (text, *values) if v):
        # JSON may escape lone surrogates ("\ud800"); such text cannot be written as UTF-8
        text = _SURROGATE.sub("\ufffd", text)
        title, source, url = (_SURROGATE.sub("\ufffd", v) if v else v for v in values)
        result.warnings.append(Rejected(name, "invalid Unicode (lone surrogates) replaced"))
    text = _clean(text)
    if not text:
        result.rejected.append(Rejected(name, "no article text found"))
        return
    title_str = " ".join(str(title).split()) if title else ""
    if not title_str:
        title_str = _first_words(text)
        result.warnings.append(Rejected(name, "no title; used the first words of the text"))
    url_str = str(url).strip() if url else None
    result.articles.append(
        Article(
            id=article_id(url_str or key),
            title=title_str,
            text=text,
            key=url_str or key,
            date=_normalise_date(date_value, name, result),
            source=str(source).strip() if source else None,
            url=url_str,
            origin=name,
        )
    )


def _clean(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(lines).strip()


def _first_words(text: str, limit: int = 80) -> str:
    first = text.split("\n", 1)[0]
    return first if len(first) <= limit else first[:limit].rsplit(" ", 1)[0] + "…"


def _normalise_date(value: Any, name: str, result: LoadResult) -> str | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raw = str(value).strip()
    try:
        return date.fromisoformat(raw[:10]).isoformat()
    except ValueError:
        pass
    from dateutil import parser  # fallback for dates such as "Dec 19, 2022"

    try:
        return parser.parse(raw).date().isoformat()
    except (ValueError, OverflowError):
        result.warnings.append(Rejected(name, f"date {raw!r} not understood; use YYYY-MM-DD"))
        return None


def _load_txt(text: str, name: str, key: str, result: LoadResult) -> None:
    text = _clean(text)
    title, _, body = text.partition("\n")
    if not body.strip():
        raise ValueError("only one line: a .txt article needs a title line, then the text")
    _add(result, name, key, body, title=title)


def _load_markdown(text: str, name: str, key: str, result: LoadResult) -> None:
    import frontmatter  # YAML front matter parser

    try:
        post = frontmatter.loads(text)
    except Exception as exc:  # the YAML library raises several unrelated types
        raise ValueError(f"front matter is not valid YAML: {exc}") from exc
    meta = post.metadata
    body = post.content
    title = meta.get("title")
    if not title:
        first, _, rest = _clean(body).partition("\n")
        if first.startswith("#"):
            title, body = first.lstrip("#").strip(), rest
    _add(result, name, key, body, title, meta.get("date"), meta.get("source"), meta.get("url"))


def _load_html(text: str, name: str, key: str, result: LoadResult) -> None:
    import trafilatura  # main-text extraction: drops menus, footers and related links

    doc = trafilatura.bare_extraction(
        text, with_metadata=True, include_comments=False, favor_precision=True
    )
    if doc is None:
        raise ValueError("no article text found in the HTML")
    meta = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    body = (meta.get("text") or "").strip()
    if len(body) < MIN_HTML_CHARS:
        # with no article in the page trafilatura falls back to menus: "Home" is no article
        raise ValueError(
            f"no article text found in the HTML (only {len(body)} characters of page text)"
        )
    title = meta.get("title")
    first, _, rest = body.partition("\n")
    if title and first.strip() == str(title).strip() and rest.strip():
        body = rest  # the page's <h1> repeats the title; the title is kept as metadata
    _add(
        result,
        name,
        key,
        body,
        title,
        meta.get("date"),
        meta.get("sitename"),
        meta.get("url"),
    )


def _load_json(text: str, name: str, key: str, result: LoadResult) -> None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    records = data if isinstance(data, list) else [data]
    for i, record in enumerate(records):
        where = name if len(records) == 1 else f"{name}[{i}]"
        _add_record(record, where, key if len(records) == 1 else f"{key}#{i}", result)


def _load_jsonl(text: str, name: str, key: str, result: LoadResult) -> None:
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{name}:{lineno}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            result.rejected.append(Rejected(where, f"malformed JSON line: {exc.msg}"))
            continue
        _add_record(record, where, f"{key}#{lineno}", result)


def _add_record(record: Any, where: str, key: str, result: LoadResult) -> None:
    if not isinstance(record, dict):
        result.rejected.append(Rejected(where, "expected a JSON object with a 'text' field"))
        return
    text = next((record[f] for f in TEXT_FIELDS if isinstance(record.get(f), str)), None)
    if not text or not text.strip():
        result.rejected.append(Rejected(where, "no 'text' or 'body' field with the article text"))
        return
    _add(
        result,
        where,
        key,
        text,
        record.get("title"),
        record.get("date"),
        record.get("source"),
        record.get("url"),
    )


# File suffix -> loader of the file's bytes, chosen before any decoding: a binary format (PDF,
# DOCX) is one more entry whose loader extracts its own text.
LOADERS: dict[str, Loader] = {
    ".txt": _text_format(_load_txt),
    ".md": _text_format(_load_markdown),
    ".markdown": _text_format(_load_markdown),
    ".html": _text_format(_load_html),
    ".htm": _text_format(_load_html),
    ".json": _text_format(_load_json),
    ".jsonl": _text_format(_load_jsonl),
}


def _unsupported() -> str:
    return f"unsupported file type; use {', '.join(LOADERS)}"
