"""Article loaders: every format, the sample corpus, and a generated corpus of bad inputs."""

from __future__ import annotations

import json
import os
import pickle
import socket
from pathlib import Path

import pytest

from assistant.articles import (
    LoadResult,
    article_id,
    decode,
    load_bytes,
    load_paths,
    safe_name,
)

SAMPLE = {  # file (and line) -> (title start, date, source)
    "bakhmut-zelensky-frontline-visit.txt": ("Zelensky Visits Troops", None, None),
    "december-strike-briefs.jsonl:1": ("Russia Fires Dozens", "2022-12-16", "Kyiv Wire"),
    "december-strike-briefs.jsonl:2": ("Drone Strikes Leave", "2022-12-11", "Black Sea Chronicle"),
    "eu-ninth-sanctions-package.json": ("EU Adopts Ninth", "2022-12-17", "Continental Desk"),
    "kherson-market-shelling.html": ("Shelling of Central", "2022-12-25", "Black Sea Chronicle"),
    "kissinger-spectator-ceasefire-essay.md": ("Kissinger Urges", "2022-12-19", "Baltic Ledger"),
    "kyiv-drone-strikes.txt": ("Drones Target Kyiv", None, None),
    "oil-price-cap-takes-effect.md": ("$60 Cap on Russian", "2022-12-05", "Northern Observer"),
    "putin-minsk-visit.txt": ("Putin Holds Talks", None, None),
    "zaporizhzhia-iaea-istanbul-talks.html": ("IAEA Chief Meets", "2022-12-23", "Danube Dispatch"),
    "zelensky-peace-formula-summit.md": ("Kyiv Seeks UN Peace", "2022-12-27", "Kyiv Wire"),
    "zelensky-washington-patriot.md": ("Zelensky Wins Patriot", "2022-12-22", "Continental Desk"),
}


@pytest.fixture(scope="module")
def sample(sample_dir: Path) -> LoadResult:
    return load_paths([sample_dir])


def by_file(result: LoadResult) -> dict[str, object]:
    return {Path(a.origin).name: a for a in result.articles}


def reasons(result: LoadResult) -> dict[str, str]:
    return {Path(r.name).name: r.reason for r in result.rejected}


def test_sample_corpus_has_12_articles_in_11_files(sample, sample_dir):
    assert len(sample.articles) == 12
    assert len({a.origin.split(":")[0] for a in sample.articles}) == 11
    assert sample.rejected == [] and sample.warnings == []
    assert len({a.id for a in sample.articles}) == 12


@pytest.mark.parametrize("name", sorted(SAMPLE))
def test_sample_titles_dates_sources(sample, name):
    title, date, source = SAMPLE[name]
    article = by_file(sample)[name]
    assert article.title.startswith(title)
    assert article.date == date
    assert article.source == source
    first_line = article.text.split("\n", 1)[0]
    if not name.endswith(".html"):  # the HTML page repeats its <h1>; the others must not
        assert first_line != article.title


def test_sample_urls_give_the_ids(sample):
    for article in sample.articles:
        if article.url:
            assert article.url.startswith("https://example.org/")
            assert article.key == article.url and article.id == article_id(article.url)
        else:  # .txt files: keyed by their path inside the folder
            assert article.key == Path(article.origin).name


@pytest.mark.parametrize(
    "name", ["kherson-market-shelling.html", "zaporizhzhia-iaea-istanbul-talks.html"]
)
def test_html_main_text_without_boilerplate(sample, name):
    text = by_file(sample)[name].text
    for boilerplate in (
        "cookie",
        "Cookie",
        "Related stories",
        "Front page",
        "Podcasts",
        "Newsletters",
        "Subscribe",
        "Sign in",
        "Support our journalism",
        "All rights reserved",
        "Privacy policy",
        "Accept all",
        "Manage preferences",
        "Print",
    ):
        assert boilerplate not in text, boilerplate
    assert len(text) > 2000
    assert "Kherson" in text or "Zaporizhzhia" in text


def test_html_keeps_every_paragraph(sample):
    text = by_file(sample)["kherson-market-shelling.html"].text
    assert "killing at least 10 people and wounding 55" in text
    assert text.rstrip().endswith("cancelled public events planned for the holiday weekend.")


def test_markdown_front_matter_not_in_text(sample):
    for name in SAMPLE:
        if name.endswith(".md"):
            text = by_file(sample)[name].text
            assert not text.startswith("---")
            for key in ("title:", "date:", "source:", "url:"):
                assert key not in text
            assert "https://example.org" not in text


def test_txt_first_line_is_the_title(sample):
    article = by_file(sample)["putin-minsk-visit.txt"]
    assert article.title == (
        "Putin Holds Talks With Lukashenko in Minsk as Ukraine Watches Northern Border"
    )
    assert article.text.startswith("Russian President Vladimir Putin travelled to Minsk")


def test_ids_are_stable_whether_a_file_or_its_folder_is_given(sample, sample_dir):
    alone = load_paths([sample_dir / "kyiv-drone-strikes.txt"]).articles[0]
    assert alone.id == by_file(sample)["kyiv-drone-strikes.txt"].id
    assert load_paths([sample_dir]).articles == sample.articles  # deterministic order and ids


# -- each format ----------------------------------------------------------------------------


def load_one(tmp_path: Path, name: str, content: str | bytes) -> LoadResult:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return load_paths([path])


def test_markdown_title_from_heading_when_no_front_matter(tmp_path):
    result = load_one(tmp_path, "a.md", "# Grain deal extended\n\nThe deal was extended.\n")
    (article,) = result.articles
    assert article.title == "Grain deal extended"
    assert article.text == "The deal was extended."
    assert article.date is None and result.rejected == []


def test_markdown_without_any_title_uses_first_words_and_warns(tmp_path):
    result = load_one(tmp_path, "a.md", "---\ndate: 2023-01-02\n---\nJust a body line here.\n")
    (article,) = result.articles
    assert article.title == "Just a body line here."
    assert article.date == "2023-01-02"
    assert [w.reason for w in result.warnings] == ["no title; used the first words of the text"]


def test_markdown_with_broken_front_matter_is_rejected(tmp_path):
    result = load_one(tmp_path, "a.md", "---\ntitle: [unclosed\n---\nBody.\n")
    assert result.articles == []
    assert "front matter is not valid YAML" in result.rejected[0].reason


def test_json_object_and_list(tmp_path):
    one = {"title": "One", "body": "Body of one.", "date": "Dec 19, 2022", "url": "https://x/1"}
    many = [
        {"title": "A", "text": "Text A.", "source": "Wire"},
        {"title": "B", "content": "Text B.", "date": "2022-12-20T08:00:00Z"},
        "not an object",
        {"title": "C"},
    ]
    (tmp_path / "one.json").write_text(json.dumps(one))
    (tmp_path / "many.json").write_text(json.dumps(many))
    result = load_paths([tmp_path])
    got = {a.title: a for a in result.articles}
    assert got["One"].date == "2022-12-19" and got["One"].id == article_id("https://x/1")
    assert got["A"].source == "Wire" and got["A"].key == "many.json#0"
    assert got["B"].date == "2022-12-20" and got["B"].text == "Text B."
    assert set(reasons(result)) == {"many.json[2]", "many.json[3]"}


def test_jsonl_reports_bad_lines_and_keeps_good_ones(tmp_path):
    lines = [
        json.dumps({"title": "Good 1", "text": "First good article.", "url": "https://x/g1"}),
        '{"title": "Broken", "text": "no closing brace"',
        "",
        json.dumps({"title": "No text", "summary": "nothing"}),
        json.dumps({"title": "Good 2", "body": "Second good article.", "source": "Desk"}),
        "[1, 2, 3]",
    ]
    result = load_one(tmp_path, "feed.jsonl", "\n".join(lines) + "\n")
    assert [a.title for a in result.articles] == ["Good 1", "Good 2"]
    assert result.articles[1].key == "feed.jsonl#5"
    bad = reasons(result)
    assert set(bad) == {"feed.jsonl:2", "feed.jsonl:4", "feed.jsonl:6"}
    assert bad["feed.jsonl:2"].startswith("malformed JSON line")


def test_malformed_json_file_names_line_and_column(tmp_path):
    result = load_one(tmp_path, "bad.json", '{\n  "title": "x",\n  "text": oops\n}')
    assert result.articles == []
    assert "line 3, column" in result.rejected[0].reason


def test_dates_in_several_forms(tmp_path):
    result = LoadResult()
    for i, date in enumerate(["2022-12-19", "19 December 2022", "2022-12-19T23:10:00+02:00"]):
        load_bytes(f"Title {i}\n\nBody.".encode(), "x.txt", f"k{i}", result)
        body = json.dumps({"title": "t", "text": f"b{i}", "date": date})
        load_bytes(body.encode(), "x.json", f"j{i}", result)
    assert {a.date for a in result.articles if a.date} == {"2022-12-19"}
    vague = json.dumps({"title": "t", "text": "b", "date": "next week"})
    load_bytes(vague.encode(), "y.json", "y", result)
    assert result.articles[-1].date is None
    assert "date 'next week' not understood" in result.warnings[-1].reason


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Café title\n\nLe café était fermé à Kyiv, déclara-t-il.", "cp1252"),
        ("Über die Lage\n\nDie Bundesregierung äußerte sich. Große Sorgen um Strom.", "latin-1"),
        ("Зеленський відвідав Бахмут\n\nПрезидент України відвідав Бахмут у вівторок.", "cp1251"),  # noqa: RUF001
        ("Зеленский посетил Бахмут\n\nПрезидент Украины посетил Бахмут во вторник.", "koi8_r"),  # noqa: RUF001
        ("Zełenski w Bachmucie\n\nŻołnierze świętowali, powiedział Wołodymyr.", "cp1250"),
        ("Title in UTF-16\n\nBody with “quotes” and é.", "utf-16"),
    ],
)
def test_non_utf8_text_is_decoded_and_reported(text, encoding):
    decoded, note = decode(text.encode(encoding))
    assert decoded == text
    assert note is not None and "decoded as" in note


def test_utf8_with_bom_is_plain_utf8():
    assert decode("\ufeffTitle\n\nBody é".encode()) == ("Title\n\nBody é", None)


# -- a corpus of bad inputs, generated here ----------------------------------------------------


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    """A folder mixing good articles with every kind of bad input."""
    root = tmp_path / "inbox"
    (root / "nested" / "deeper").mkdir(parents=True)
    good = {
        "good.txt": "Good plain article\n\nA council approved the budget on Monday.",
        "nested/good.md": "---\ntitle: Nested markdown\ndate: 2023-03-01\n---\nBody of it.",
        "nested/deeper/good.json": json.dumps({"title": "Deep JSON", "text": "Deep text."}),
        "mixed.jsonl": json.dumps({"title": "Line one", "text": "Line one text."})
        + "\n{broken\n"
        + json.dumps({"title": "Line three", "text": "Line three text."}),
        "UPPER.TXT": "Upper-case suffix\n\nStill a text article.",
        "notitle.json": json.dumps({"text": "An article without a title or a date."}),
        "page.html": "<html><head><title>Page title</title></head><body><article><p>"
        + "The municipal water plant reopened after repairs lasting three weeks. " * 6
        + "</p></article></body></html>",
    }
    for name, text in good.items():
        (root / name).write_text(text, encoding="utf-8")
    (root / "latin1.txt").write_bytes("Résumé du jour\n\nLe café était fermé.".encode("cp1252"))
    bad = {
        "empty.txt": b"",
        "blank.md": b"   \n\n  \t\n",
        "image.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
        "noise.txt": bytes((i * 37 + 11) % 31 + 1 for i in range(4000)),  # no NUL, unprintable
        "oneline.txt": b"Only a title and nothing else",
        "broken.json": b'{"title": "x", "text": ',
        "list.json": b"[]",
        "nothing.html": b"<html><body><nav><a href='/'>Home</a></nav></body></html>",
        "slides.pdf": b"%PDF-1.4 binary",
        "notes.docx": b"PK\x03\x04",
        "huge.txt": b"Huge\n\n" + b"word " * 3000,
    }
    for name, data in bad.items():
        (root / name).write_bytes(data)
    (root / ".hidden.txt").write_text("Hidden\n\nIgnored.")
    os.symlink(root, root / "nested" / "loop")  # a symlink loop back to the top
    os.symlink(root / "missing.txt", root / "dangling.txt")
    os.mkfifo(root / "pipe.txt")  # reading it would block forever
    with socket.socket(socket.AF_UNIX) as sock:  # a socket file stays after the bind
        sock.bind(str(root / "sock.txt"))
    return root


def test_bad_inputs_are_each_reported_and_good_ones_loaded(messy):
    result = load_paths([messy], max_bytes=10_000)
    titles = sorted(a.title for a in result.articles)
    assert titles == sorted(
        [
            "Good plain article",
            "Nested markdown",
            "Deep JSON",
            "Line one",
            "Line three",
            "Upper-case suffix",
            "An article without a title or a date.",
            "Page title",
            "Résumé du jour",
        ]
    )
    bad = reasons(result)
    assert bad == {
        "empty.txt": "file is empty",
        "blank.md": "file is empty",
        "image.txt": "binary file, not text",
        "noise.txt": "binary file, not text (mostly unprintable)",
        "oneline.txt": "only one line: a .txt article needs a title line, then the text",
        "broken.json": bad["broken.json"],
        "list.json": "no article text found",
        "nothing.html": bad["nothing.html"],
        "slides.pdf": bad["slides.pdf"],
        "notes.docx": bad["notes.docx"],
        "huge.txt": bad["huge.txt"],
        "mixed.jsonl:2": bad["mixed.jsonl:2"],
        "dangling.txt": bad["dangling.txt"],
        "pipe.txt": "not a regular file (a named pipe): skipped",
        "sock.txt": "not a regular file (a socket): skipped",
    }
    assert bad["broken.json"].startswith("malformed JSON at line 1")
    assert "no article text" in bad["nothing.html"]
    assert bad["slides.pdf"].startswith("unsupported file type") and ".jsonl" in bad["slides.pdf"]
    assert "15,006 bytes, over the 10,000-byte limit" in bad["huge.txt"]
    assert bad["mixed.jsonl:2"].startswith("malformed JSON line")
    assert bad["dangling.txt"].startswith("cannot read file")
    warnings = {Path(w.name).name: w.reason for w in result.warnings}
    assert warnings["loop"] == "symlink loop: folder already read"
    assert warnings["latin1.txt"].endswith("decoded as cp1252")
    assert warnings["notitle.json"] == "no title; used the first words of the text"
    latin = next(a for a in result.articles if a.title == "Résumé du jour")
    assert latin.text == "Le café était fermé."
    notitle = next(a for a in result.articles if a.origin.endswith("notitle.json"))
    assert notitle.date is None and notitle.source is None


def test_symlinked_file_and_missing_path(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("Linked article\n\nBody.")
    os.symlink(real, tmp_path / "link.txt")
    result = load_paths([tmp_path / "link.txt", tmp_path / "absent"])
    assert [a.title for a in result.articles] == ["Linked article"]
    assert reasons(result) == {"absent": "no such file or folder"}


def test_a_pickle_is_never_an_article(tmp_path):
    (tmp_path / "data.json").write_bytes(pickle.dumps({"title": "x", "text": "y"}))
    result = load_paths([tmp_path])
    assert result.articles == [] and len(result.rejected) == 1


def test_lone_surrogates_from_json_escapes_are_replaced(tmp_path):
    line = '{"title": "Bad \\ud83d title", "text": "A lone \\ud800 surrogate.", "source": "W"}'
    result = load_one(tmp_path, "feed.jsonl", line + "\n")
    (article,) = result.articles
    assert article.title == "Bad \ufffd title" and article.text == "A lone \ufffd surrogate."
    assert len(article.hash) == 64  # hashing (and writing) needs encodable text
    assert [w.reason for w in result.warnings] == ["invalid Unicode (lone surrogates) replaced"]


def test_a_new_format_is_one_entry_in_the_loader_table(tmp_path, monkeypatch):
    """A binary format plugs in as one loader: it gets the raw bytes, before any decoding."""
    from assistant import articles

    def load_fake_pdf(data: bytes, name: str, key: str, result: LoadResult) -> None:
        assert data.startswith(b"%PDF") and b"\x00" in data  # undecoded, not refused as binary
        articles._add(result, name, key, data.rsplit(b"\n", 1)[1].decode(), title="From a PDF")

    monkeypatch.setitem(articles.LOADERS, ".pdf", load_fake_pdf)
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.7\n\x00\x01\x02\nThe body text of the report.")
    (tmp_path / "slides.ppt").write_bytes(b"\xd0\xcf\x11\xe0")
    result = load_paths([tmp_path])
    assert [(a.title, a.text) for a in result.articles] == [
        ("From a PDF", "The body text of the report.")
    ]
    (rejected,) = result.rejected
    assert rejected.name.endswith("slides.ppt") and ".pdf" in rejected.reason


@pytest.fixture
def linked(tmp_path: Path) -> Path:
    """A folder with symlinks inside it, to outside files and folders, and to a device."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("Secret notes\n\nThe vault code is 4711.")
    root = tmp_path / "articles"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "real.txt").write_text("Real article\n\nThe ferry resumed service.")
    os.symlink(outside / "secret.txt", root / "secret.txt")
    os.symlink(outside, root / "elsewhere")
    os.symlink(root / "sub" / "real.txt", root / "inside.txt")  # stays in the folder
    os.symlink("/dev/zero", root / "zero.txt")
    return root


def test_symlinks_out_of_the_folder_are_skipped_and_reported(linked: Path) -> None:
    result = load_paths([linked])
    assert sorted(a.origin for a in result.articles) == [
        str(linked / "inside.txt"),
        str(linked / "sub" / "real.txt"),
    ]
    bad = reasons(result)
    assert set(bad) == {"secret.txt", "elsewhere", "zero.txt"}
    outside = linked.parent / "outside"
    assert bad["secret.txt"].startswith(f"symlink to {outside / 'secret.txt'}, outside the folder")
    assert bad["elsewhere"].startswith(f"symlink to {outside}, outside the folder: skipped")
    assert "--follow-symlinks" in bad["zero.txt"]
    assert all("Secret" not in a.title for a in result.articles)


def test_follow_symlinks_reads_outside_files_but_never_a_device(linked: Path) -> None:
    result = load_paths([linked], follow_symlinks=True)
    titles = sorted(a.title for a in result.articles)
    assert titles == ["Real article", "Real article", "Secret notes", "Secret notes"]
    assert reasons(result) == {"zero.txt": "not a regular file (a character device): skipped"}


def test_safe_name_shows_control_and_format_characters() -> None:
    assert safe_name("plain ü name.txt") == "plain ü name.txt"
    assert safe_name("a\nb\x1b[31mc.txt") == "a\\x0ab\\x1b[31mc.txt"
    assert safe_name("invoice\u202etxt.exe") == "invoice\\u202etxt.exe"


def test_a_json_lines_collection_is_limited_per_article_not_per_file(tmp_path):
    """A news export in one JSON Lines file is many articles: the byte limit applies to each
    line, so a file far over the limit loads, and only the one oversized line is rejected, by
    its number, while the lines after it keep theirs."""
    body = "Officials said the bridge would reopen next week after repairs. " * 20
    rows = [{"title": f"Bridge report {i}", "text": body} for i in range(40)]
    rows[7] = {"title": "Oversized", "text": "x " * 20_000}
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    assert path.stat().st_size > 3 * 10_000

    result = load_paths([path], max_bytes=10_000)

    assert len(result.articles) == 39
    assert "Oversized" not in {a.title for a in result.articles}
    bad = reasons(result)
    assert list(bad) == ["export.jsonl:8"]
    assert (
        "40,0" in bad["export.jsonl:8"]
        and "10,000-byte limit for one article" in bad["export.jsonl:8"]
    )
    # line numbers after the rejected line are unchanged: ids stay stable across rebuilds
    assert {a.id for a in result.articles} == {
        a.id for a in load_paths([path], max_bytes=100_000).articles if a.title != "Oversized"
    }
