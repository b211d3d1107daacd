"""Parse stage: fetched bytes → normalised Entry objects (RSS/Atom via feedparser, JSON Feed via
json). Raises ParseError with a reason when the document is not a usable feed."""

from __future__ import annotations

import calendar
import hashlib
import json
from datetime import UTC, datetime

import feedparser

from .content import html_to_text, make_excerpt, sanitize_html, title_from_text
from .errors import ParseError
from .models import Entry, FetchResult


def _looks_like_json(body: bytes) -> bool:
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def _struct_to_datetime(value) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, TypeError):
        return None


def _iso_to_datetime(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _guid(feed_name: str, *candidates: str | None) -> str:
    for candidate in candidates:
        if candidate:
            return candidate
    return "sha1:" + hashlib.sha1(feed_name.encode()).hexdigest()


def _entry(feed_name: str, base_url: str, *, guid: str | None, url: str | None,
           title: str | None, body_html: str, published: datetime | None, author: str | None,
           image: str | None, tags: tuple[str, ...], excerpt_words: int) -> Entry | None:
    clean = sanitize_html(body_html, base_url)
    text = html_to_text(clean)
    title_text = html_to_text(title or "").replace("\n", " ").strip()
    if not url:
        return None
    if not title_text:
        title_text = title_from_text(text)
    return Entry(
        feed_name=feed_name,
        guid=_guid(feed_name, guid, url),
        url=url,
        title=title_text,
        excerpt=make_excerpt(text, excerpt_words),
        published=published,
        author=(author or None),
        image=image if image and image.startswith("https://") else None,
        content_html=clean,
        tags=tags,
    )


def parse_json_feed(result: FetchResult, excerpt_words: int = 60) -> list[Entry]:
    try:
        data = json.loads(result.body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"not a feed: invalid JSON ({exc})") from exc
    if not isinstance(data, dict) or "jsonfeed.org/version" not in str(data.get("version", "")):
        raise ParseError("not a feed: JSON without a jsonfeed.org version")
    entries: list[Entry] = []
    for item in data.get("items") or []:
        if not isinstance(item, dict):
            continue
        authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
        author = next((a.get("name") for a in authors if isinstance(a, dict) and a.get("name")),
                      None)
        from urllib.parse import urljoin

        url = item.get("url") or item.get("external_url")
        url = urljoin(result.final_url, url) if isinstance(url, str) else None
        entry = _entry(
            result.feed_name, result.final_url,
            guid=str(item.get("id")) if item.get("id") is not None else None,
            url=url, title=item.get("title"),
            body_html=item.get("content_html") or item.get("summary")
            or _escape_text(item.get("content_text", "")),
            published=_iso_to_datetime(item.get("date_published") or item.get("date_modified")),
            author=author, image=item.get("image") or item.get("banner_image"),
            tags=tuple(t for t in item.get("tags") or () if isinstance(t, str)),
            excerpt_words=excerpt_words)
        if entry:
            entries.append(entry)
    return entries


def _escape_text(text: str) -> str:
    import html

    return "<p>" + html.escape(text or "") + "</p>"


def parse_feed(result: FetchResult, excerpt_words: int = 60) -> list[Entry]:
    """Entries of one fetched feed, or ParseError saying why it is not a feed."""
    body = result.body
    if not body.strip():
        raise ParseError("not a feed: empty body")
    if _looks_like_json(body):
        return parse_json_feed(result, excerpt_words)
    headers = {k.lower(): v for k, v in result.headers.items()}
    headers.setdefault("content-location", result.final_url)
    parsed = feedparser.parse(body, response_headers=headers)
    version = parsed.get("version", "")
    if not parsed.entries:
        head = body[:2048].lower()
        if b"<html" in head and not version:
            raise ParseError("not a feed: HTML page")
        if parsed.bozo and not version:
            reason = parsed.get("bozo_exception")
            raise ParseError(f"not a feed: {reason}" if reason else "not a feed")
        return []
    entries: list[Entry] = []
    for raw in parsed.entries:
        contents = [c.get("value", "") for c in raw.get("content", []) or []]
        body_html = max(contents, key=len) if contents else ""
        summary = raw.get("summary", "") or ""
        if len(html_to_text(body_html)) < len(html_to_text(summary)):
            body_html = summary
        image = None
        for media in (raw.get("media_content") or []) + (raw.get("media_thumbnail") or []):
            if media.get("url", "").startswith("https://"):
                image = media["url"]
                break
        entry = _entry(
            result.feed_name, result.final_url,
            guid=raw.get("id"), url=raw.get("link"), title=raw.get("title"),
            body_html=body_html,
            published=_struct_to_datetime(raw.get("published_parsed")
                                          or raw.get("updated_parsed")),
            author=raw.get("author"), image=image,
            tags=tuple(t.get("term") for t in raw.get("tags", []) if t.get("term")),
            excerpt_words=excerpt_words)
        if entry:
            entries.append(entry)
    return entries
