"""Strip page furniture from article text that arrives as plain text (txt, md, json, jsonl).

Inline HTML tags left in text fields (`<a href="...">`) are removed first.

Pages saved from the web come with their menus, cookie and newsletter notices, share buttons
and related-link lists flattened into the text. HTML files are already cleaned by trafilatura
on loading; for text, each line is treated as a block and classified by jusText (the
boilerplate classifier trafilatura itself falls back on: block length, stop-word density and
the class of neighbouring blocks). A run of short, stop-word-poor lines (a menu, a list of
headlines) is dropped; a short line inside the story (a quote, a dateline) is kept because
its neighbours are text. Text that is one block, or that jusText would empty, is left alone:
a wrong cut costs more than a stray menu line.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any

# Lines no article needs, whatever their neighbours: calls to act and site notices.
_NOTICE = re.compile(
    r"^\W*(advertisement|skip to (main )?content|sign up|subscribe|newsletter|share (this|on)|"
    r"follow us|read more|click here|related( articles| stories| coverage)?:?$|"
    r"(all rights reserved|copyright|©)|we use cookies|accept (all )?cookies|"
    r"this (site|website) uses cookies|log ?in|register)\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile('[.!?"\u201d\u2019)]$')
_LONG = 50  # a line this long that ends a sentence is prose, whatever jusText says
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_MIN_LINES = 4  # fewer lines than this: not a page with furniture


@lru_cache(maxsize=1)
def _stoplist() -> frozenset[str]:
    import justext

    return frozenset(justext.get_stoplist("English"))


def clean_text(text: str) -> str:
    """`text` without stray HTML tags and furniture lines; blank lines between kept blocks
    are preserved."""
    if _TAG.search(text):
        # text fields copied from web pages keep inline markup (<a href="...">) that a
        # model would repeat in its answer; entities such as &amp; are decoded with it
        text = html.unescape(_TAG.sub("", text))
    lines = text.split("\n")
    blocks = [i for i, line in enumerate(lines) if line.strip()]
    if len(blocks) < _MIN_LINES:
        return text
    keep = _classify([lines[i].strip() for i in blocks])
    if not any(keep):
        return text
    drop = {i for i, ok in zip(blocks, keep, strict=True) if not ok}
    if not drop:
        return text
    kept = [line for i, line in enumerate(lines) if i not in drop]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def _classify(blocks: list[str]) -> list[bool]:
    """Per block, True for article text: what jusText keeps in context, what it calls prose
    by itself (length and stop-word density), and long lines ending a sentence; never a
    site notice."""
    import justext

    page = "<html><body>" + "".join(f"<p>{html.escape(b)}</p>" for b in blocks) + "</body></html>"
    paragraphs: list[Any] = justext.justext(page, _stoplist(), no_headings=True)
    if len(paragraphs) != len(blocks):  # jusText merged or split blocks: do not guess
        return [True] * len(blocks)
    return [
        not (len(b) < 120 and _NOTICE.search(b))
        and (
            not p.is_boilerplate
            or p.cf_class in ("good", "neargood")  # prose by itself, whatever its neighbours
            or (len(b) >= _LONG and _SENTENCE_END.search(b) is not None)
        )
        for p, b in zip(paragraphs, blocks, strict=True)
    ]
