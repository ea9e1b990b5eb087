"""Page furniture is dropped from plain-text articles; article text is never touched."""

from __future__ import annotations

from pathlib import Path

from assistant import Assistant
from assistant.articles import load_paths
from assistant.cleaning import clean_text

STORY = [
    "Port officials in Varna said on Tuesday that the harbour would reopen after a storm that "
    "kept fourteen ships waiting offshore for two days.",
    "“We expect the queue to clear by Friday,” the harbour master told reporters.",
    "The storm also closed roads along the coast, and the regional government said repairs "
    "would cost about 3 million leva, most of it for the coastal road near Byala.",
    "Grain traders said the delay had pushed up freight rates for the week, though they "
    "expected prices to settle once the ships were loaded.",
]
FURNITURE_TOP = ["Home", "World", "Business", "Sport", "Sign up for our morning newsletter"]
FURNITURE_END = [
    "Related stories:",
    "Five things to know about the Black Sea grain trade",
    "Bulgaria's new cabinet sworn in",
    "Storm season: what insurers pay for",
    "Advertisement",
    "© 2023 Coast Daily. All rights reserved.",
]


def _page() -> str:
    return "\n\n".join(FURNITURE_TOP + STORY + FURNITURE_END)


def test_menus_notices_and_link_lists_are_dropped_and_the_story_kept():
    cleaned = clean_text(_page())
    for paragraph in STORY:
        assert paragraph in cleaned
    for line in FURNITURE_TOP + FURNITURE_END:
        assert line not in cleaned.split("\n"), line


def test_sample_articles_are_left_exactly_as_they_are(sample_dir: Path):
    articles = load_paths([sample_dir]).articles
    assert articles
    for article in articles:
        assert clean_text(article.text) == article.text, article.title


def test_inline_html_is_stripped_and_comparisons_kept():
    text = 'The <a href="https://example.org/x">Buffalo Bills</a> player &amp; his team. 3 < 5 > 2'
    assert clean_text(text) == "The Buffalo Bills player & his team. 3 < 5 > 2"


def test_short_text_is_left_alone():
    text = "Breaking\n\nThe port reopened."
    assert clean_text(text) == text


def test_ingest_indexes_the_cleaned_page_and_cites_within_it(tmp_path: Path):
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "varna.txt").write_text("Varna port reopens after storm\n" + _page())
    assistant = Assistant(index_dir=tmp_path / "index", llm={"backend": "passages"})
    assistant.build_index([folder])
    data = assistant.index()
    (article,) = data.articles.values()
    assert "Related stories" not in article.text and STORY[0] in article.text
    for chunk in data.chunks:
        assert article.text[chunk.start : chunk.end] == chunk.text
    raw = Assistant(index_dir=tmp_path / "raw", llm={"backend": "passages"}, clean_text=False)
    raw.build_index([folder])
    (kept,) = raw.index().articles.values()
    assert "Related stories:" in kept.text
