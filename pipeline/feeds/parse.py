"""Parse stage: fetched bytes → normalised Entry objects.

RSS 0.9x/1.0/2.0 and Atom go through feedparser, JSON Feed 1.0/1.1 through `json` (feedparser 6
cannot read it). feedparser runs with its own sanitiser and relative-URI rewriting switched off:
every HTML fragment is sanitised by nh3 (htmltext.py) against the email allow-list before anything
else sees it, resolving relative URLs against the xml:base feedparser reports for that fragment.
Doing that work once instead of twice is what keeps a whole build close to a bare
feedparser.parse of the same bytes (bench/build.py).

A document feedparser cannot read, or reads truncated, is repaired and read again
(repair.py); one that is still not a feed (an HTML page, an empty body, a download cut
before its first item, JSON nested too deeply) raises ParseError with the reason. Items become
Entries in items.py: dates feedparser misreads without warning are re-read, and a date in
the future or far in the past is dropped: the orchestrator then dates the entry by when it was
first seen (`Entry.dated` is False).
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from ..errors import ParseError
from ..models import FetchResult
from ..safetext import without_credentials
from . import repair
from .items import EntryBuilder, ParsedFeed

# Bump when a change here changes the entries made from the same bytes: entries stored for a
# conditional GET under another version are not reused (the feed is fetched in full again).
PARSER_VERSION = 3

# Bozo exceptions that are not a problem with the document itself.
_HARMLESS = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)


def parse_document(result: FetchResult, excerpt_words: int = 60,
                   now: datetime | None = None) -> ParsedFeed:
    """The entries of one fetched feed, or ParseError saying why it is not a feed."""
    now = now or datetime.now(UTC)
    start = repair.document_start(result.body)
    if not start:
        raise ParseError("not a feed: empty body")
    if start[:1] in ("{", "["):
        return parse_json_feed(result, excerpt_words, now)
    # Links in the feed are resolved against its URL: never against one with credentials.
    base = without_credentials(result.final_url)
    headers = {k.lower(): v for k, v in result.headers.items()}
    headers["content-location"] = without_credentials(headers.get("content-location") or base)
    body, notes = repair.defuse_doctype(result.body), []
    recoded = repair.fix_encoding(body, headers.get("content-type"))
    if recoded is not None:
        body, headers["content-type"] = recoded.body, recoded.content_type
        notes.append(recoded.note)
    parsed, problem = _feedparser(body, headers)
    version = parsed.get("version", "") if parsed is not None else ""
    truncated = bool(problem and version and _truncated(body, version))
    if parsed is None or truncated or not parsed.entries:
        repaired = _repaired(body, headers)
        if repaired is not None:
            parsed, fixes = repaired
            version = parsed.get("version", "")
            notes.append(f"malformed XML repaired: {', '.join(fixes)}"
                         + (f" ({problem})" if problem else ""))
            problem = None
        elif truncated:
            raise ParseError(f"not a feed: truncated document ({problem})")
    if parsed is None:
        raise ParseError(f"not a feed: {problem}")
    if not parsed.entries:
        if not version:
            if _looks_like_html(start):
                raise ParseError("not a feed: HTML page" + _alternate_hint(body, result))
            raise ParseError(f"not a feed: {problem}" if problem
                             else "not a feed: no RSS, Atom or JSON Feed document found")
        if problem:
            raise ParseError(f"not a feed: malformed {_format_name(version)}, no item could "
                             f"be read ({problem})")
        return ParsedFeed([])
    if problem:
        notes.append(f"malformed XML read leniently ({problem})")
    builder = EntryBuilder(result, excerpt_words, now, home=parsed.feed.get("link"))
    for raw in parsed.entries:
        builder.add_feedparser_entry(raw)
    return builder.finish("; ".join(notes) or None)


def unexpected_failure(exc: Exception) -> str:
    """The reason for a feed's report when parsing it raised something else than ParseError
    (a blow-up, or a bug that must still cost only this feed)."""
    if isinstance(exc, RecursionError):
        return "not a feed: nested too deeply to read (RecursionError)"
    if isinstance(exc, MemoryError):
        return "not a feed: too large to hold in memory (MemoryError)"
    return f"cannot be parsed: {type(exc).__name__}: {exc}"[:300]


def _feedparser(body: bytes, headers: dict[str, str]) -> tuple[Any, str | None]:
    """feedparser's result and its complaint; (None, the reason) when it raised (it does on
    some character references, such as a surrogate's)."""
    try:
        parsed = feedparser.parse(body, response_headers=headers, sanitize_html=False,
                                  resolve_relative_uris=False)
    except Exception as exc:  # noqa: BLE001 - any failure inside feedparser is the document's
        return None, f"{type(exc).__name__}: {exc}"
    return parsed, _bozo(parsed)


def _repaired(body: bytes, headers: dict[str, str]) -> tuple[Any, list[str]] | None:
    """feedparser's reading of the repaired document, when that has items."""
    repaired = repair.repair_xml(body, headers.get("content-type"))
    if repaired is None or not repaired.fixes:
        return None
    parsed, _ = _feedparser(repaired.body, {
        "content-type": "application/xml; charset=utf-8",
        "content-location": headers["content-location"]})
    if parsed is None or not parsed.entries:
        return None
    return parsed, repaired.fixes


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


def _looks_like_html(start: str) -> bool:
    start = start.lower()
    return "<html" in start or "<!doctype html" in start or "<head" in start


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


def parse_json_feed(result: FetchResult, excerpt_words: int = 60,
                    now: datetime | None = None) -> ParsedFeed:
    text, encoding_note = repair.json_text(result.body)
    data, partial_note = repair.load_json(text)
    version = data.get("version") if isinstance(data, dict) else None
    if not isinstance(version, str) or "jsonfeed.org/version/" not in version:
        raise ParseError("not a feed: JSON without a jsonfeed.org version")
    items = data.get("items")
    if not isinstance(items, list):
        raise ParseError("not a feed: JSON Feed without an items array")
    home = data.get("home_page_url")
    base = without_credentials(result.final_url)
    if not base.startswith(("http://", "https://")) and isinstance(home, str):
        base = home
    builder = EntryBuilder(result, excerpt_words, now or datetime.now(UTC), home=home)
    for item in items:
        if isinstance(item, dict):
            builder.add_json_item(item, base)
        else:
            builder.skipped["that are not objects"] += 1
    return builder.finish("; ".join(n for n in (encoding_note, partial_note) if n) or None)
