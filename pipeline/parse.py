"""Parse stage: fetched bytes → normalised Entry objects.

RSS 0.9x/1.0/2.0 and Atom go through feedparser, JSON Feed 1.0/1.1 through `json` (feedparser 6
cannot read it). feedparser runs with its own sanitiser and relative-URI rewriting switched off:
every HTML fragment is sanitised by nh3 (content.py) against the email allow-list before anything
else sees it, resolving relative URLs against the xml:base feedparser reports for that fragment.
Doing that work once instead of twice is what keeps a whole build close to a bare
feedparser.parse of the same bytes (bench/build.py).

A document that is not a feed (an HTML page, an empty body, a truncated download) raises
ParseError with the reason. Dates feedparser misreads without warning are re-read, and a date
in the future or far in the past is dropped: the orchestrator then dates the entry by when it
was first seen (`Entry.dated` is False).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import feedparser

from .content import (
    clip,
    defuse_tokens,
    fragment_text,
    is_https_url,
    make_excerpt,
    plain_text,
    sanitize_html,
    strip_markup,
    title_from_text,
)
from .dedup import strip_tracking
from .errors import ParseError
from .feeddates import iso_date, parse_date, plausible
from .models import Entry, FetchResult

# Bump when a change here changes the entries made from the same bytes: entries stored for a
# conditional GET under another version are not reused (the feed is fetched in full again).
PARSER_VERSION = 2

TITLE_MAX = 200  # characters; some feeds put whole paragraphs in <title>
TEXT_WORDS = 200  # words of plain text kept per entry for relevance matching

# Bozo exceptions that are not a problem with the document itself.
_HARMLESS = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)


@dataclass(frozen=True)
class ParsedFeed:
    entries: list[Entry]
    skipped: dict[str, int] = field(default_factory=dict)  # reason → count of items dropped
    warning: str | None = None  # e.g. the document was malformed and read leniently

    def summary(self) -> str | None:
        """One line for the feed report: what was dropped and why, and any warning."""
        parts = [f"{n} item(s) {reason}" for reason, n in sorted(self.skipped.items())]
        if self.warning:
            parts.insert(0, self.warning)
        return "; ".join(parts) or None


def parse_document(result: FetchResult, excerpt_words: int = 60,
                   now: datetime | None = None) -> ParsedFeed:
    """The entries of one fetched feed, or ParseError saying why it is not a feed."""
    now = now or datetime.now(UTC)
    body = result.body
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n\x00")
    if not head:
        raise ParseError("not a feed: empty body")
    if head[:1] in (b"{", b"["):
        return parse_json_feed(result, excerpt_words, now)
    headers = {k.lower(): v for k, v in result.headers.items()}
    headers.setdefault("content-location", result.final_url)
    parsed = feedparser.parse(body, response_headers=headers, sanitize_html=False,
                              resolve_relative_uris=False)
    version = parsed.get("version", "")
    problem = _bozo(parsed)
    if problem and version and _truncated(body, version):
        raise ParseError(f"not a feed: truncated document ({problem})")
    if not parsed.entries:
        if not version:
            if _looks_like_html(head):
                raise ParseError("not a feed: HTML page" + _alternate_hint(body, result))
            raise ParseError(f"not a feed: {problem}" if problem
                             else "not a feed: no RSS, Atom or JSON Feed document found")
        if problem:
            raise ParseError(f"not a feed: malformed {_format_name(version)}, no item could "
                             f"be read ({problem})")
        return ParsedFeed([])
    builder = _Builder(result, excerpt_words, now, home=parsed.feed.get("link"))
    for raw in parsed.entries:
        builder.add_feedparser_entry(raw)
    warning = f"malformed XML read leniently ({problem})" if problem else None
    return builder.finish(warning)


# --------------------------------------------------------------------------- documents


def _bozo(parsed: Any) -> str | None:
    if not parsed.get("bozo"):
        return None
    exc = parsed.get("bozo_exception")
    if exc is None or isinstance(exc, _HARMLESS):
        return None
    message = getattr(exc, "getMessage", lambda: str(exc))()
    line = getattr(exc, "getLineNumber", lambda: None)()
    return f"{message} at line {line}" if line else str(message)


def _format_name(version: str) -> str:
    if version.startswith("atom"):
        return "Atom"
    if version in ("rss090", "rss10"):
        return "RSS 1.0"
    return "RSS"


def _truncated(body: bytes, version: str) -> bool:
    """The document's root element is never closed: the download stopped part-way."""
    if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return False  # UTF-16: cannot search for ASCII end tags
    if version.startswith("atom"):
        return body.rfind(b"feed>") < 0
    if version in ("rss090", "rss10"):
        return body.rfind(b"RDF>") < 0
    return body.rfind(b"</rss") < 0 and body.rfind(b"RDF>") < 0


def _looks_like_html(head: bytes) -> bool:
    start = head[:512].lower()
    return b"<html" in start or b"<!doctype html" in start or b"<head" in start


_ALTERNATE = re.compile(rb"<link\b[^>]*\btype=[\"']?application/(?:rss|atom|feed)\+(?:xml|json)"
                        rb"[^>]*>", re.I)
_HREF = re.compile(rb"\bhref=[\"']?([^\"'\s>]+)", re.I)


def _alternate_hint(body: bytes, result: FetchResult) -> str:
    """Where an HTML page says its feed is (`<link rel="alternate" type="…rss+xml">`)."""
    link = _ALTERNATE.search(body[:65536])
    href = _HREF.search(link.group(0)) if link else None
    if not href:
        return ""
    url = urljoin(result.final_url, html.unescape(href.group(1).decode("utf-8", "replace")))
    return f" (it names its feed: {url})"


# --------------------------------------------------------------------------- entries


_TAGLIKE = re.compile(r"</?[a-zA-Z][^<>]*>")
_HTML_KINDS = ("text/html", "application/xhtml+xml", "html", "xhtml")


def _title_text(value: str | None, kind: str | None, base: str) -> str:
    if not value:
        return ""
    if kind in _HTML_KINDS or _TAGLIKE.search(value):
        text = plain_text(sanitize_html(value, base), base)
    else:
        text = strip_markup(html.unescape(value) if "&" in value else value, base)
    return clip(" ".join(text.split()), TITLE_MAX)


def _http_url(value: object, base: str) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        url = urljoin(base, value.strip())
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.hostname in ("www.google.com", "google.com") and parts.path == "/url":
        # Google Alerts wraps every link in a redirect; the article is its url= parameter.
        query = parse_qs(parts.query)
        target = (query.get("url") or query.get("q") or [None])[0]
        if target and target.startswith(("http://", "https://")):
            url = target
    url = strip_tracking(url)
    # Never a per-reader placeholder (render.TOKENS): `%%` is no valid escape anyway.
    return url.replace("%%", "%25%25") if "%%" in url else url


_HREF_ATTR = re.compile(r'<a\s[^>]*?href="([^"]+)"')
_LINK_ONLY = re.compile(r"(?:<p>)?<a\s[^>]*>[^<]*</a>(?:</p>)?", re.S)
_MEDIA_FILE = re.compile(r"\.(?:mp3|m4a|mp4|m4v|mov|ogg|oga|wav|webm)(?:$|\?)", re.I)


def _digest(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:10]


def _array(value: object) -> list[Any]:
    """A JSON Feed array; anything else (a bare string would iterate as letters) is none."""
    return value if isinstance(value, list) else []


class _Builder:
    """Turns raw items into Entries: one feed's worth, so GUIDs can be checked across it."""

    def __init__(self, result: FetchResult, excerpt_words: int, now: datetime,
                 home: object = None) -> None:
        self.feed_name = result.feed_name
        self.base = result.final_url
        # The site's home page: where an item without a link of its own points.
        self.home = _http_url(home, self.base)
        self.excerpt_words = excerpt_words
        self.now = now
        self.entries: list[Entry] = []
        self.skipped: Counter[str] = Counter()

    # -- RSS / Atom through feedparser

    def add_feedparser_entry(self, raw: Any) -> None:
        link = self._feedparser_link(raw)
        body, base = self._feedparser_body(raw)
        title_detail = raw.get("title_detail") or {}
        published = parse_date(raw.get("published"), raw.get("published_parsed")) \
            or parse_date(raw.get("updated"), raw.get("updated_parsed")) \
            or parse_date(raw.get("created"), raw.get("created_parsed"))
        author = (raw.get("author_detail") or {}).get("name") or raw.get("author")
        tags = [t.get("term") for t in raw.get("tags") or () if isinstance(t.get("term"), str)]
        self._add(guid=raw.get("id"), url=link,
                  title=_title_text(raw.get("title"), title_detail.get("type"),
                                    title_detail.get("base") or self.base),
                  body_html=body, body_base=base, published=published, author=author,
                  image=self._feedparser_image(raw), tags=tags)

    def _feedparser_link(self, raw: Any) -> str | None:
        base = self.base
        candidates = [raw.get("feedburner_origlink"), raw.get("link")]
        candidates += [link.get("href") for link in raw.get("links") or ()
                       if link.get("rel", "alternate") == "alternate"]
        guid = raw.get("id")
        if isinstance(guid, str) and guid.startswith(("http://", "https://")):
            candidates.append(guid)
        for candidate in candidates:
            url = _http_url(candidate, base)
            if url:
                return url
        return None

    def _feedparser_body(self, raw: Any) -> tuple[str, str]:
        """The article body, else the summary (never a media caption), and its xml:base."""
        summary = raw.get("summary") or ""
        summary_base = (raw.get("summary_detail") or {}).get("base") or self.base
        has_media = any(k in raw for k in ("media_content", "media_thumbnail", "media_credit"))
        body, body_base = "", summary_base
        for content in raw.get("content") or ():
            value = content.get("value") or ""
            # feedparser files a Media RSS <media:description> that follows a <description>
            # under `content` (NYT does this): it is a photo caption, not the article.
            if summary and has_media and content.get("type") == "text/plain":
                continue
            if len(value) > len(body):
                body, body_base = value, content.get("base") or self.base
        if not summary or (body and len(body) >= len(summary)):
            return body, body_base
        if body and len(fragment_text(body)) >= len(fragment_text(summary)):
            return body, body_base  # markup-heavy summary, plainer but longer body
        return summary, summary_base  # a placeholder body ("...") or none

    def _feedparser_image(self, raw: Any) -> str | None:
        """An https lead image named by Media RSS or an image enclosure; never inline images."""
        candidates = [m.get("url") for m in raw.get("media_content") or ()
                      if "image" in (m.get("medium") or m.get("type") or "image")
                      and not _MEDIA_FILE.search(m.get("url") or "")]
        candidates += [m.get("url") for m in raw.get("media_thumbnail") or ()]
        candidates += [link.get("href") for link in raw.get("links") or ()
                       if link.get("rel") == "enclosure"
                       and (link.get("type") or "").startswith("image/")]
        for candidate in candidates:
            url = _http_url(candidate, self.base)
            if is_https_url(url):
                return url
        return None

    # -- JSON Feed

    def add_json_item(self, item: dict[str, Any], base: str) -> None:
        url = _http_url(item.get("url"), base) or _http_url(item.get("external_url"), base)
        authors = _array(item.get("authors")) or [item.get("author")]
        author = next((a.get("name") for a in authors if isinstance(a, dict)
                       and isinstance(a.get("name"), str) and a.get("name")), None)
        body = item.get("content_html")
        if not isinstance(body, str) or not body.strip():
            text = item.get("content_text") or item.get("summary") or ""
            body = "<p>" + html.escape(text).replace("\n\n", "</p><p>") + "</p>" \
                if isinstance(text, str) and text.strip() else ""
        image = item.get("image") or item.get("banner_image")
        guid = item.get("id")
        self._add(guid=str(guid) if guid not in (None, "") else None, url=url,
                  title=_title_text(item.get("title") if isinstance(item.get("title"), str)
                                    else None, "text/plain", base),
                  body_html=body, body_base=base,
                  published=iso_date(item.get("date_published"))
                  or iso_date(item.get("date_modified")),
                  author=author, image=_http_url(image, base) if isinstance(image, str) else None,
                  tags=[t for t in _array(item.get("tags")) if isinstance(t, str)])

    # -- both

    def _add(self, *, guid: str | None, url: str | None, title: str, body_html: str,
             body_base: str, published: datetime | None, author: str | None,
             image: str | None, tags: list[str]) -> None:
        clean = sanitize_html(body_html, body_base)
        text = plain_text(clean, body_base)
        if not title and not text:
            self.skipped["empty (no title, no text)"] += 1
            return
        if url is None:
            # No link of its own (AreWeAntiCheatYet): the first link in the item to the
            # feed's own site, else the site's home page.
            url = self._own_site_link(clean) or self.home
            if url is None:
                self.skipped["without a link"] += 1
                return
        if not title:
            title = title_from_text(text)
        if len(text.split()) <= 3 and _LINK_ONLY.fullmatch(clean.strip()):
            text = ""  # the whole body is one link: "Comments" (Hacker News)
        published = plausible(published, self.now)
        title, text = defuse_tokens(title), defuse_tokens(text)
        if isinstance(author, str):
            author = defuse_tokens(author)
        if isinstance(author, str) and ("<" in author or "&" in author):
            author = plain_text(sanitize_html(author, body_base), body_base)  # "&lt;b&gt;Jane"
        author = " ".join(author.split()) if isinstance(author, str) and author.strip() else None
        self.entries.append(Entry(
            feed_name=self.feed_name,
            guid=(guid or "").strip() or url,
            url=url,
            title=title,
            excerpt=make_excerpt(text, self.excerpt_words),
            published=published,
            author=clip(author, 120) if author else None,
            image=image if is_https_url(image) else None,
            content_html=clean,
            tags=tuple(dict.fromkeys(" ".join(t.split()) for t in tags if t.strip()))[:12],
            text=" ".join(text.split()[:TEXT_WORDS]),
            dated=published is not None,
        ))

    def _own_site_link(self, clean: str) -> str | None:
        if self.home is None or "href=" not in clean:
            return None
        host = urlsplit(self.home).hostname
        for href in _HREF_ATTR.findall(clean):
            url = _http_url(html.unescape(href), self.base)
            if url and urlsplit(url).hostname == host:
                return url
        return None

    def finish(self, warning: str | None = None) -> ParsedFeed:
        """The entries with GUIDs unique inside the feed. Publishers reuse a GUID for distinct
        articles (Scripting News) or repeat an item: the first become `guid#<content hash>`,
        whatever their order; exact repeats are dropped."""
        counts = Counter(e.guid for e in self.entries)
        entries: list[Entry] = []
        seen: set[str] = set()
        for entry in self.entries:
            guid = entry.guid
            if counts[guid] > 1:
                guid = f"{guid}#{_digest(entry.url, entry.title, entry.text)}"
                if guid in seen:
                    self.skipped["repeated"] += 1
                    continue
                entry = replace(entry, guid=guid)
            seen.add(guid)
            entries.append(entry)
        return ParsedFeed(entries, dict(self.skipped), warning)


def parse_json_feed(result: FetchResult, excerpt_words: int = 60,
                    now: datetime | None = None) -> ParsedFeed:
    try:
        data = json.loads(result.body.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ParseError(f"not a feed: JSON that is not UTF-8 (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise ParseError(f"not a feed: invalid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(data, dict) or "jsonfeed.org/version/" not in str(data.get("version", "")):
        raise ParseError("not a feed: JSON without a jsonfeed.org version")
    items = data.get("items")
    if not isinstance(items, list):
        raise ParseError("not a feed: JSON Feed without an items array")
    home = data.get("home_page_url")
    base = result.final_url
    if not base.startswith(("http://", "https://")) and isinstance(home, str):
        base = home
    builder = _Builder(result, excerpt_words, now or datetime.now(UTC), home=home)
    for item in items:
        if isinstance(item, dict):
            builder.add_json_item(item, base)
        else:
            builder.skipped["that are not objects"] += 1
    return builder.finish()
