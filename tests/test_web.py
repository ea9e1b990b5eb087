"""Articles from URLs and feeds, served by a real HTTP server on 127.0.0.1 (no internet here).

The server has two articles, an RSS and an Atom feed, a robots.txt that forbids /private/, and
the pages that go wrong: slow, missing, not HTML, a redirect loop and one too big to read.
"""

from __future__ import annotations

import html
import itertools
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant import Assistant
from assistant.articles import LoadResult
from assistant.settings import Settings, resolve_settings
from assistant.web import load_urls, read_feeds_file

SLOW_SECONDS = 3.0
TIMEOUT = 1.0
MAX_BYTES = 50_000

BRIDGE = (
    "The Green Bridge in Vilnius reopened to traffic on 3 December after repairs costing "
    "4.2 million euros, the city council said. Engineers replaced the bearings and resurfaced "
    "the deck during a closure that lasted eleven months."
)
FERRY = (
    "A new electric ferry entered service between Helsinki and Suomenlinna on 5 December, "
    "carrying up to 400 passengers a trip. The operator said the vessel cuts the route's "
    "emissions by about 600 tonnes of carbon dioxide a year."
)


def page(title: str, body: str, date: str | None = None) -> bytes:
    meta = f'<meta property="article:published_time" content="{date}">' if date else ""
    return (
        f"<html><head><title>{title}</title>{meta}</head><body><nav>Home | News</nav>"
        f"<article><h1>{title}</h1><p>{body}</p><p>{body}</p></article>"
        "<footer>Contact us</footer></body></html>"
    ).encode()


def rss(base: str, links: list[str]) -> bytes:
    items = "".join(
        f"<item><title>Item {i}</title><link>{base}{link}</link>"
        f"<pubDate>Mon, 0{i + 1} Dec 2025 10:00:00 GMT</pubDate></item>"
        for i, link in enumerate(links)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Baltic Local</title>'
        f"<link>{base}/</link><description>x</description>{items}</channel></rss>"
    ).encode()


ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Harbour Notes</title><id>urn:x</id>
<updated>2025-12-05T08:00:00Z</updated>
<entry><title>Ferry</title><id>urn:x:1</id><link href="/ferry.html"/>
<updated>2025-12-05T08:00:00Z</updated></entry></feed>"""


class Site(BaseHTTPRequestHandler):
    """The test site; every request is logged as (path, monotonic time)."""

    log: list[tuple[str, float]] = []  # noqa: RUF012 (reset by the fixture)
    rss_links: list[str] = ["/bridge.html", "/missing.html"]  # noqa: RUF012

    def do_GET(self) -> None:
        Site.log.append((self.path, time.monotonic()))
        base = f"http://{self.headers['Host']}"
        routes = {
            "/robots.txt": (200, "text/plain", b"User-agent: *\nDisallow: /private/\n"),
            "/bridge.html": (200, "text/html; charset=utf-8", page("Vilnius Bridge", BRIDGE)),
            "/ferry.html": (200, "text/html", page("Electric Ferry", FERRY, "2025-12-05")),
            "/private/memo.html": (200, "text/html", page("Memo", BRIDGE)),
            "/feed.xml": (200, "application/rss+xml", rss(base, Site.rss_links)),
            "/atom.xml": (200, "application/atom+xml", ATOM),
            "/photo.png": (200, "image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100),
            "/notes.xml": (200, "application/xml", b"<?xml version='1.0'?><notes/>"),
        }
        if self.path == "/slow.html":
            time.sleep(SLOW_SECONDS)
            return self._send(200, "text/html", page("Slow", BRIDGE))
        if self.path == "/loop":
            return self._redirect("/loop-2")
        if self.path == "/loop-2":
            return self._redirect("/loop")
        if self.path == "/moved":
            return self._redirect("/ferry.html")
        if self.path == "/huge.html":  # no Content-Length: the cap must stop the stream itself
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            try:
                for _ in range(100):
                    self.wfile.write(b"<p>" + b"x" * 10_000 + b"</p>")
            except OSError:
                pass  # the client stopped reading: that is the point
            return None
        status, ctype, body = routes.get(self.path, (404, "text/html", b"<h1>Not found</h1>"))
        return self._send(status, ctype, body)

    def _send(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, to: str) -> None:
        self.send_response(302)
        self.send_header("Location", to)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:  # quiet
        pass


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the client hanging up on the slow and the huge page is expected


@pytest.fixture
def site() -> Iterator[str]:
    Site.log = []
    Site.rss_links = ["/bridge.html", "/missing.html"]
    server = QuietServer(("127.0.0.1", 0), Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def web_settings(index_dir: Path | None = None, delay: float = 0.0) -> Settings:
    values = {
        "max_article_bytes": MAX_BYTES,
        "web": {
            "timeout": TIMEOUT,
            "host_delay": delay,
            "max_redirects": 3,
            "allow_private_hosts": True,  # the test site is on 127.0.0.1
        },
        "llm": {"backend": "passages"},
    }
    if index_dir is not None:
        values["index_dir"] = index_dir
    return resolve_settings(values)


def reasons(result: LoadResult) -> dict[str, str]:
    return {r.name.rsplit("/", 1)[-1]: r.reason for r in result.rejected}


def test_pages_load_and_every_failure_says_why(site: str) -> None:
    urls = [
        f"{site}/{name}"
        for name in (
            "bridge.html",
            "slow.html",
            "missing.html",
            "photo.png",
            "loop",
            "huge.html",
            "private/memo.html",
            "notes.xml",
            "moved",
        )
    ]
    result = load_urls(urls, web_settings())

    titles = {a.title: a for a in result.articles}
    assert set(titles) == {"Vilnius Bridge", "Electric Ferry"}
    bridge = titles["Vilnius Bridge"]
    assert "4.2 million euros" in bridge.text and "Contact us" not in bridge.text
    assert bridge.url == f"{site}/bridge.html" and bridge.key == bridge.url
    assert bridge.source == "127.0.0.1"  # no site name in the page: the host
    ferry = titles["Electric Ferry"]  # reached through a redirect; keyed by the URL asked for
    assert ferry.key == f"{site}/moved" and ferry.url == f"{site}/ferry.html"
    assert ferry.date == "2025-12-05"

    why = reasons(result)
    expected = {"slow.html", "missing.html", "photo.png", "loop", "huge.html", "memo.html"}
    assert set(why) == {*expected, "notes.xml"}
    # given up after TIMEOUT, before the server's SLOW_SECONDS (no timing: CI machines are busy)
    assert why["slow.html"] == f"no answer within {TIMEOUT:g}s (timed out)"
    assert why["missing.html"] == "HTTP 404 Not Found"
    assert "not a web page or a feed" in why["photo.png"] and "image/png" in why["photo.png"]
    assert why["loop"].startswith("redirect loop") and "/loop-2 -> " in why["loop"]
    assert f"over the {MAX_BYTES:,}-byte limit" in why["huge.html"]
    assert "robots.txt" in why["memo.html"]
    assert "not an RSS or Atom feed" in why["notes.xml"]
    assert "/private/memo.html" not in [path for path, _ in Site.log]  # never requested


def test_feeds_fetch_each_item_and_the_host_delay_holds(site: str) -> None:
    delay = 0.3
    result = load_urls([f"{site}/feed.xml", f"{site}/atom.xml"], web_settings(delay=delay))
    by_title = {a.title: a for a in result.articles}
    assert set(by_title) == {"Vilnius Bridge", "Electric Ferry"}
    bridge = by_title["Vilnius Bridge"]
    assert bridge.date == "2025-12-01"  # the page has none: the feed item's date
    assert bridge.source == "Baltic Local"  # the feed's title
    assert by_title["Electric Ferry"].source == "Harbour Notes"
    assert by_title["Electric Ferry"].url == f"{site}/ferry.html"  # relative Atom link resolved
    assert reasons(result) == {"missing.html": "HTTP 404 Not Found"}
    times = [t for _, t in Site.log]
    assert len(times) == 6  # robots.txt, 2 feeds, 3 item pages
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= delay * 0.95, gaps


def test_local_and_private_addresses_are_refused_by_default(site: str) -> None:
    urls = [f"{site}/bridge.html", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/"]
    result = load_urls(urls, resolve_settings({"web": {"timeout": TIMEOUT}}))
    assert not result.articles and not Site.log  # nothing was requested
    why = [r.reason for r in result.rejected]
    assert len(why) == 3 and all("web.allow_private_hosts" in w for w in why)
    assert "(127.0.0.1)" in why[0] and "(169.254.169.254)" in why[1]


def test_read_feeds_file() -> None:
    text = "# my feeds\nhttps://a.example/feed.xml\n\n  https://b.example/atom  \n"
    assert read_feeds_file(text, "feeds.txt") == [
        "https://a.example/feed.xml",
        "https://b.example/atom",
    ]
    from assistant import AssistantError

    with pytest.raises(AssistantError, match=r"feeds.txt:2: 'b.example/rss' is not"):
        read_feeds_file("https://a.example/x\nb.example/rss\n", "feeds.txt")


def test_cli_adds_a_feed_then_sync_fetches_only_new_items(
    site: str, index_copy: Path, tmp_path: Path
) -> None:
    from assistant.cli import main

    env = {
        "ASSISTANT_WEB__TIMEOUT": str(TIMEOUT),
        "ASSISTANT_WEB__HOST_DELAY": "0",
        "ASSISTANT_WEB__ALLOW_PRIVATE_HOSTS": "true",
    }
    runner = CliRunner()
    args = ["--index", str(index_copy), "index"]
    added = runner.invoke(main, [*args, "add", f"{site}/feed.xml"], env=env)
    assert added.exit_code == 0, added.output
    assert "1 added" in added.output and "1 rejected" in added.output
    assert f"rejected  {site}/missing.html: HTTP 404 Not Found" in added.output

    feeds = tmp_path / "feeds.txt"
    feeds.write_text(f"# local\n{site}/feed.xml\n{site}/atom.xml\n", encoding="utf-8")
    Site.log.clear()
    Site.rss_links = ["/bridge.html", "/missing.html", "/moved"]  # one new item
    synced = runner.invoke(main, [*args, "sync", str(feeds)], env=env)
    assert synced.exit_code == 0, synced.output
    requested = [path for path, _ in Site.log]
    assert "/bridge.html" not in requested, "an indexed item was fetched again"
    assert "/moved" in requested and "/ferry.html" in requested
    assert "1 added" in synced.output and "1 unchanged" in synced.output

    bot = Assistant(index_dir=index_copy, llm={"backend": "passages"})
    reply = bot.ask("How much did the repairs of the Vilnius bridge cost?")
    assert "4.2 million" in reply.text
    assert reply.citations[0].url == f"{site}/bridge.html"
    titles = {row.title for row in bot.articles()}
    assert {"Vilnius Bridge", "Electric Ferry"} <= titles


def test_assistant_add_urls(site: str, index_copy: Path) -> None:
    bot = Assistant(web_settings(index_copy))
    report = bot.add_urls([f"{site}/ferry.html", f"{site}/photo.png"])
    assert len(report.added) == 1 and [r.name for r in report.rejected] == [f"{site}/photo.png"]
    again = bot.add_urls([f"{site}/ferry.html"])
    assert not again.added and len(again.unchanged) == 1
    assert "600 tonnes" in bot.ask("How much carbon dioxide does the new ferry save?").text


@pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")  # Gradio's pandas use
def test_ui_articles_tab_adds_a_feed(site: str, index_copy: Path) -> None:
    from test_ui import answer_and_sources, ask, client, running

    with running(Assistant(web_settings(index_copy))) as url:
        c = client(url)
        report, cleared, _, table, *_ = c.predict(
            f"{site}/feed.xml\n\n{site}/photo.png", api_name="/add_urls"
        )
        report = html.unescape(report)
        assert "Added" in report and f"{site}/bridge.html" in report
        assert f"{site}/missing.html: HTTP 404 Not Found" in report
        assert f"{site}/photo.png: not a web page or a feed" in report
        assert cleared == "" and "Vilnius Bridge" in [row[3] for row in table["data"]]
        answer, sources = answer_and_sources(
            ask(c, "What did the Vilnius bridge repairs cost?")[-1]
        )
        assert "4.2 million" in answer and "Vilnius Bridge" in sources
