"""What an article page says about itself in its <head>: title, description, image, site name,
author and date (Open Graph, Twitter cards, plain meta tags). Used by `digest curate add URL`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx

from ..errors import FetchError
from ..htmltext import clip, defuse_tokens, is_https_url, normalize_space, strip_markup

HEAD_BYTES = 512_000  # meta tags live in <head>; never read a whole huge page


@dataclass(frozen=True)
class PageMeta:
    url: str  # after redirects
    title: str | None = None
    description: str | None = None
    image: str | None = None
    site_name: str | None = None
    author: str | None = None
    published: datetime | None = None
    canonical: str | None = None  # the page's own name for itself (rel=canonical, og:url)


class _HeadParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.canonical: str | None = None
        self.title_parts: list[str] = []
        self.in_title = False
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta":
            key = (values.get("property") or values.get("name") or values.get("itemprop")
                   or "").strip().lower()
            content = values.get("content", "").strip()
            if key and content and key not in self.meta:
                self.meta[key] = content
        elif tag == "link" and "canonical" in values.get("rel", "").lower().split():
            self.canonical = self.canonical or values.get("href", "").strip() or None
        elif tag == "title":
            self.in_title = True
        elif tag == "body":
            self.done = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        elif tag == "head":
            self.done = True

    def handle_data(self, data: str) -> None:
        if self.in_title and not self.done:
            self.title_parts.append(data)


def _text(value: str | None, limit: int) -> str | None:
    if not value:
        return None
    # Meta values are text once their entities are decoded; markup in them (`&lt;b&gt;`) is
    # the page's, never the excerpt's.
    text = normalize_space(defuse_tokens(strip_markup(value))).replace("\n\n", " ")
    return clip(text, limit) if text else None


def parse_head(html_text: str, url: str) -> PageMeta:
    parser = _HeadParser()
    parser.feed(html_text)
    meta = parser.meta

    def first(*keys: str) -> str | None:
        return next((meta[k] for k in keys if meta.get(k)), None)

    image = first("og:image:secure_url", "og:image", "og:image:url", "twitter:image",
                  "twitter:image:src")
    image = urljoin(url, image) if image else None
    published = None
    stamp = first("article:published_time", "datepublished", "date", "dc.date")
    if stamp:
        try:
            published = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            published = None
    return PageMeta(
        url=url,
        canonical=_canonical(url, parser.canonical or first("og:url")),
        title=_text(first("og:title", "twitter:title") or "".join(parser.title_parts), 200),
        description=_text(first("og:description", "description", "twitter:description"), 600),
        image=image if is_https_url(image) else None,
        site_name=_text(first("og:site_name", "application-name"), 80),
        author=_text(first("author", "article:author", "twitter:creator"), 120),
        published=published,
    )


def _canonical(url: str, named: str | None) -> str | None:
    """The canonical URL a page names, absolute; None when it names none that can be used:
    not http(s), or a site's home page named by an article (a common misconfiguration)."""
    if not named:
        return None
    canonical = urljoin(url, named)
    parts = urlsplit(canonical)
    if parts.scheme not in ("http", "https") or not parts.hostname \
            or any(c.isspace() for c in canonical):
        return None
    if parts.path.strip("/") == "" and not parts.query and urlsplit(url).path.strip("/"):
        return None
    return canonical


_META_CHARSET = re.compile(rb"<meta[^>]+charset=[\"']?([\w-]+)", re.I)


def _decode(body: bytes, header_charset: str | None) -> str:
    for charset in (header_charset, _sniff_charset(body), "utf-8"):
        if not charset:
            continue
        try:
            return body.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("utf-8", errors="replace")


def _sniff_charset(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:4096])
    return match.group(1).decode("ascii") if match else None


def fetch_page_meta(url: str, user_agent: str, timeout: float = 10.0) -> PageMeta:
    """GET the page (at most 5 redirects) and read its head. FetchError says why not."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise FetchError(f"{url}: not an http(s) URL", hint="pass the article's full https:// URL")
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True, max_redirects=5,
                          headers={"User-Agent": user_agent,
                                   "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"},
                          trust_env=False) as client, client.stream("GET", url) as response:
            if response.status_code >= 400:
                raise FetchError(f"{url}: HTTP {response.status_code} "
                                 f"{response.reason_phrase}".rstrip(),
                                 hint="check the URL, or pass --title (and --quote) to add "
                                      "the excerpt without fetching the page")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) >= HEAD_BYTES or b"</head>" in body[-len(chunk) - 7:].lower():
                    break
            final = str(response.url)
            charset = response.charset_encoding
    except httpx.HTTPError as exc:
        raise FetchError(f"{url}: cannot fetch the page ({type(exc).__name__}: {exc})",
                         hint="pass --title (and --quote) to add the excerpt without fetching"
                         ) from exc
    return parse_head(_decode(bytes(body), charset), final)
