"""Chunks keep sentence boundaries and exact offsets into the article text."""

from __future__ import annotations

import itertools

from assistant.articles import load_paths
from assistant.chunking import chunk_article, embedding_text, sentence_spans
from assistant.settings import ChunkingSettings
from assistant.types import Article


def _article(text: str) -> Article:
    return Article(id="a1", title="Title", text=text, key="k", date="2022-12-19")


def test_every_sample_chunk_is_an_exact_span(sample_dir):
    loaded = load_paths([sample_dir])
    assert len(loaded.articles) == 12
    settings = ChunkingSettings()
    for article in loaded.articles:
        chunks = chunk_article(article, settings)
        assert chunks, article.title
        for chunk in chunks:
            assert article.text[chunk.start : chunk.end] == chunk.text
            assert len(chunk.text) <= settings.max_chars
        # together the chunks cover every sentence of the article
        covered = set()
        for chunk in chunks:
            covered.update(range(chunk.start, chunk.end))
        for start, end in sentence_spans(article.text):
            assert start in covered and end - 1 in covered


def test_chunks_end_on_sentence_boundaries():
    text = " ".join(
        f"Sentence number {i} says that Mr. Smith paid $1.5 million." for i in range(40)
    )
    chunks = chunk_article(_article(text), ChunkingSettings(max_chars=300))
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.text.startswith("Sentence ")
        assert chunk.text.endswith("million.")


def test_overlap_repeats_the_last_sentence():
    text = " ".join(f"This is sentence {i} of the text." for i in range(30))
    chunks = chunk_article(_article(text), ChunkingSettings(max_chars=200, overlap_sentences=1))
    for before, after in itertools.pairwise(chunks):
        assert after.start < before.end  # they overlap
        assert before.text.endswith(after.text.split(".")[0] + ".")


def test_a_sentence_longer_than_a_chunk_is_cut_at_spaces():
    text = "word " * 500 + "end."
    chunks = chunk_article(_article(text.strip()), ChunkingSettings(max_chars=200))
    assert all(len(c.text) <= 200 for c in chunks)
    assert all(text.strip()[c.start : c.end] == c.text for c in chunks)
    assert chunks[-1].text.endswith("end.")


def test_paragraph_breaks_end_sentences():
    text = "A headline without a full stop\n\nThe body starts here. It goes on."
    spans = sentence_spans(text)
    assert text[slice(*spans[0])] == "A headline without a full stop"


def test_embedding_text_carries_title_and_date_but_passage_does_not():
    article = _article("Kyiv was hit by drones. Power went out.")
    chunk = chunk_article(article, ChunkingSettings())[0]
    assert embedding_text(article, chunk).startswith("Title (2022-12-19)\n")
    assert "Title" not in chunk.text


def test_abbreviations_and_quotes_do_not_end_sentences():
    text = (
        "The U.S. Senate voted 51-49 on Jan. 5. Sen. Elizabeth Warren objected, Dr. Fauci "
        'said. "We are done." Then it ended.\n\nA paragraph without a full stop'
    )
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "The U.S. Senate voted 51-49 on Jan. 5.",
        "Sen. Elizabeth Warren objected, Dr. Fauci said.",
        '"We are done."',
        "Then it ended.",
        "A paragraph without a full stop",
    ]


def test_a_chunk_never_holds_only_repeated_sentences():
    # the repeated 450-character sentence and the next 500-character one do not fit together
    text = "A" * 99 + ". " + "B" * 449 + ". " + "C" * 499 + "."
    chunks = chunk_article(_article(text), ChunkingSettings(max_chars=600, overlap_sentences=1))
    assert [len(c.text) for c in chunks] == [551, 500]
