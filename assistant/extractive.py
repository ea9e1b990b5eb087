"""The no-LLM answer ("passages" backend): the sentences closest to the question, cited.

For machines where the local model cannot run; it never states anything the articles do not.
"""

from __future__ import annotations

from assistant.chunking import sentence_spans
from assistant.embeddings import Embedder
from assistant.types import Passage


def extract_answer(
    embedder: Embedder, question: str, passages: list[Passage], limit: int = 2, depth: int = 3
) -> str:
    """Pick the `limit` sentences of the top `depth` passages most similar to the question.

    Overlapping chunks repeat sentences, so each sentence is considered once (under the
    better-ranked passage); the marker goes before the sentence's closing punctuation.
    """
    candidates: dict[str, int] = {}
    for number, passage in enumerate(passages[:depth], start=1):
        text = passage.chunk.text
        for start, end in sentence_spans(text):
            candidates.setdefault(text[start:end], number)
    if not candidates:
        return ""
    sentences = list(candidates)
    # retrieval embedded these sentences a moment ago, to rank the passages by them
    scores = embedder.encode_recent(sentences) @ embedder.encode([question])[0]
    best = sorted(range(len(sentences)), key=lambda i: -scores[i])[:limit]
    parts = []
    for i in sorted(best, key=lambda i: (candidates[sentences[i]], i)):
        sentence = sentences[i]
        body = sentence.rstrip(".!?\"'\u201d\u2019 ")
        parts.append(f"{body} [{candidates[sentence]}]{sentence[len(body) :]}")
    return " ".join(parts)
