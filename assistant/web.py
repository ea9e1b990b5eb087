"""Articles from the web: pages, and RSS/Atom feeds whose items' pages are fetched in turn.

httpx fetches (a time limit per page, a size cap while streaming, redirects followed one by one
so each hop is checked against robots.txt and the loop detected), urllib.robotparser reads
robots.txt, feedparser reads every RSS and Atom dialect, and the page itself goes through the
same trafilatura extraction as an .html file. A URL that fails is reported with its reason and
the others are still indexed.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

from assistant.articles import LoadResult, article_id, load_bytes
from assistant.settings import Settings, WebSettings
from assistant.types import Rejected

HTML_TYPES = {"text/html", "application/xhtml+xml", ""}  # "": let the extraction decide
FEED_TYPES = {"application/rss+xml", "application/atom+xml", "application/rdf+xml"}
XML_TYPES = {"application/xml", "text/xml"}  # a feed, or some other XML: feedparser decides
ROBOTS_MAX_BYTES = 500_000


class FetchError(Exception):
    """Why one URL was not read; reported beside the URL, never raised to the caller."""


def is_url(text: str) -> bool:
    return text.strip().lower().startswith(("http://", "https://"))


@dataclass(frozen=True)
class Page:
    url: str  # after redirects
    content_type: str
    body: bytes

    @property
    def is_feed(self) -> bool:
        return self.content_type not in HTML_TYPES and _is_xml(self.content_type)


class Fetcher:
    """One polite HTTP client: robots.txt obeyed, `host_delay` seconds between a host's requests."""

    def __init__(self, web: WebSettings, max_bytes: int):
        import httpx

        self.web = web
        self.max_bytes = max_bytes
        self.client = httpx.Client(
            timeout=web.timeout, follow_redirects=False, headers={"User-Agent": web.user_agent}
        )
        self._last_request: dict[str, float] = {}
        self._robots: dict[str, RobotFileParser] = {}

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def get(self, url: str) -> Page:
        """The page at `url`, or FetchError saying why not."""
        import httpx

        seen = [url]
        try:
            for _ in range(self.web.max_redirects + 1):
                self._check_robots(url)
                status, location, content_type, body = self._request(url, self.max_bytes)
                if location is None:
                    if status >= 400:
                        raise FetchError(f"HTTP {status} {_reason(status)}")
                    return Page(url, content_type, body)
                url = urljoin(url, location)
                if url in seen:
                    raise FetchError(f"redirect loop: {' -> '.join([*seen, url])}")
                seen.append(url)
        except httpx.TimeoutException:
            raise FetchError(f"no answer within {self.web.timeout:g}s (timed out)") from None
        except httpx.HTTPError as exc:  # refused, unknown host, broken response, bad URL
            raise FetchError(f"cannot fetch: {exc or type(exc).__name__}") from None
        raise FetchError(f"more than {self.web.max_redirects} redirects")

    def _request(
        self, url: str, limit: int, robots: bool = False
    ) -> tuple[int, str | None, str, bytes]:
        """(status, redirect target, content type, body) of one GET, read up to `limit` bytes.

        For robots.txt (`robots`) redirects are followed here and any content type is read.
        """
        host = urlsplit(url).netloc.lower()
        last = self._last_request.get(host)
        if last is not None:  # politeness: `host_delay` from the end of the host's last request
            time.sleep(max(0.0, last + self.web.host_delay - time.monotonic()))
        try:
            return self._get_once(url, limit, robots)
        finally:
            self._last_request[host] = time.monotonic()

    def _get_once(self, url: str, limit: int, robots: bool) -> tuple[int, str | None, str, bytes]:
        deadline = time.monotonic() + self.web.timeout
        with self.client.stream("GET", url, follow_redirects=robots) as response:
            if response.is_redirect:
                return response.status_code, response.headers.get("location", ""), "", b""
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if response.status_code >= 400:
                return response.status_code, None, content_type, b""
            if not (robots or _readable(content_type)):
                raise FetchError(f"not a web page or a feed (Content-Type: {content_type})")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise FetchError(f"{int(declared):,} bytes, over the {limit:,}-byte limit")
            body = bytearray()
            for block in response.iter_bytes():  # decompressed: the cap holds for gzip bombs
                body += block
                if len(body) > limit:
                    raise FetchError(f"over the {limit:,}-byte limit (stopped reading)")
                if time.monotonic() > deadline:  # a page that trickles in never times out
                    raise FetchError(f"not complete within {self.web.timeout:g}s (too slow)")
            return response.status_code, None, content_type, bytes(body)

    def _check_robots(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise FetchError("only http and https URLs can be fetched")
        if not self.web.allow_private_hosts:
            _check_public(parts.hostname or "", parts.port or 0)
        origin = f"{parts.scheme}://{parts.netloc}"
        robots = self._robots.get(origin)
        if robots is None:
            robots = self._robots[origin] = self._read_robots(origin)
        if not robots.can_fetch(self.web.user_agent, url):
            raise FetchError("the site's robots.txt disallows fetching it")

    def _read_robots(self, origin: str) -> RobotFileParser:
        """The site's rules; none (all allowed) when it has no robots.txt, as the standard says.

        An unreachable site is allowed here: the page's own request then reports why.
        """
        import httpx

        url = f"{origin}/robots.txt"
        try:
            status, _, _, body = self._request(url, ROBOTS_MAX_BYTES, robots=True)
        except (httpx.HTTPError, FetchError):
            status, body = 0, b""
        robots = RobotFileParser(url)
        if status in (401, 403):
            robots.parse(["User-agent: *", "Disallow: /"])
        elif status == 200:
            robots.parse(body.decode("utf-8", errors="replace").splitlines())
        else:
            robots.parse([])  # no rules: everything allowed
        return robots


def _check_public(host: str, port: int) -> None:
    """Refuse a host that resolves to a loopback, private, link-local or reserved address.

    (httpx resolves the name again when it connects; a DNS answer that changes in between is
    not caught here.)
    """
    try:
        infos = socket.getaddrinfo(host, port or None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise FetchError(f"cannot resolve {host!r}: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise FetchError(
                f"{host} is a private or local address ({address}); set "
                "web.allow_private_hosts to fetch from an intranet"
            )


def load_urls(
    urls: Iterable[str],
    settings: Settings,
    *,
    result: LoadResult | None = None,
    skip: Collection[str] = (),
    progress: bool = False,
) -> LoadResult:
    """Read each URL: an article page, or a feed whose items' pages are read in turn.

    Feed items whose link is in `skip` (already indexed) are listed in `result.known` and not
    fetched, so syncing a feed fetches only its new items.
    """
    from tqdm import tqdm

    result = result if result is not None else LoadResult()
    urls = list(urls)
    with Fetcher(settings.web, settings.max_article_bytes) as fetcher:
        for url in tqdm(urls, desc="Fetching", unit="url", disable=not progress or len(urls) < 2):
            url = url.strip()
            try:
                page = fetcher.get(url)
            except FetchError as exc:
                result.rejected.append(Rejected(url, str(exc)))
                continue
            if not page.is_feed:
                _read_article(page, url, {}, result)
                continue
            try:
                items, feed_title = _feed_items(page, settings.web.max_feed_items)
            except FetchError as exc:
                result.rejected.append(Rejected(url, str(exc)))
                continue
            fresh = [item for item in items if item["link"] not in skip]
            result.known.extend(item["link"] for item in items if item["link"] in skip)
            for item in tqdm(fresh, desc=f"Items of {url}", unit="page", disable=not progress):
                try:
                    item_page = fetcher.get(item["link"])
                    if item_page.is_feed:
                        raise FetchError("the feed item links to another feed, not a page")
                except FetchError as exc:
                    result.rejected.append(Rejected(item["link"], str(exc)))
                    continue
                _read_article(item_page, item["link"], {**item, "source": feed_title}, result)
    return result


def _read_article(page: Page, key: str, feed_meta: dict[str, Any], result: LoadResult) -> None:
    """Extract the article; its id comes from the URL it was asked for, as a file's from its path.

    What the page does not say (date, source) comes from the feed item, then the host name.
    """
    found = LoadResult()
    suffix = ".txt" if page.content_type == "text/plain" else ".html"
    load_bytes(page.body, key, key, found, suffix=suffix)
    for article in found.articles:
        result.articles.append(
            replace(
                article,
                id=article_id(key),
                key=key,
                url=article.url if article.url and is_url(article.url) else page.url,
                date=article.date or feed_meta.get("date"),
                source=article.source or feed_meta.get("source") or urlsplit(page.url).hostname,
            )
        )
    result.rejected.extend(found.rejected)
    result.warnings.extend(found.warnings)


def _feed_items(page: Page, limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """(items with their link and date; the feed's title) of an RSS or Atom feed."""
    import feedparser

    parsed = feedparser.parse(page.body)
    if not parsed.get("version") and not parsed.entries:
        raise FetchError(f"XML but not an RSS or Atom feed ({page.content_type})")
    items: list[dict[str, Any]] = []
    for entry in parsed.entries:
        link = entry.get("link")
        if not link or not is_url(urljoin(page.url, link)):
            continue
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        date = time.strftime("%Y-%m-%d", stamp) if stamp else None
        items.append({"link": urljoin(page.url, link), "date": date})
        if len(items) == limit:
            break
    if not items:
        raise FetchError("the feed lists no item with a link")
    return items, parsed.feed.get("title") or None


def _is_xml(content_type: str) -> bool:
    return content_type in FEED_TYPES or content_type in XML_TYPES or content_type.endswith("+xml")


def _readable(content_type: str) -> bool:
    return content_type in HTML_TYPES or content_type == "text/plain" or _is_xml(content_type)


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def read_feeds_file(text: str, name: str) -> list[str]:
    """Feed URLs, one a line; blank lines and `#` comments skipped; a non-URL is an error."""
    from assistant.errors import AssistantError

    urls = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not is_url(line):
            raise AssistantError(f"{name}:{number}: {line!r} is not an http(s) URL of a feed")
        urls.append(line)
    return urls
