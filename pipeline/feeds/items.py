"""Feed items → Entry objects: one feed's raw items (feedparser's or a JSON Feed's), each
sanitised (nh3 first), reduced to plain text, titled, linked, dated and cleaned of characters
no template may receive; GUIDs made unique inside the feed."""

from __future__ import annotations

import hashlib
import html
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

from ..htmltext import (
    clip,
    defuse_script_urls,
    defuse_tokens,
    fragment_text,
    is_https_url,
    make_excerpt,
    plain_text,
    sanitize_html,
    strip_markup,
    title_from_text,
)
from ..identity import strip_tracking
from ..models import Entry, FetchResult
from ..safetext import clean_text, without_credentials
from .dates import iso_date, parse_date, plausible

TITLE_MAX = 200  # characters; some feeds put whole paragraphs in <title>
TEXT_WORDS = 200  # words of plain text kept per entry for relevance matching


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
        url = urljoin(base, clean_text(value).strip())
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


class EntryBuilder:
    """Turns raw items into Entries: one feed's worth, so GUIDs can be checked across it."""

    def __init__(self, result: FetchResult, excerpt_words: int, now: datetime,
                 home: object = None) -> None:
        self.feed_name = result.feed_name
        self.base = without_credentials(result.final_url)
        # The site's home page: where an item without a link of its own points. A feed that
        # names none is served by its site: the root of the feed's own URL.
        self.home = _http_url(home, self.base) or _http_url("/", self.base)
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
        self._add(guid=str(guid) if isinstance(guid, str | int) and guid != "" else None,
                  url=url,
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
        text = clean_text(plain_text(clean, body_base))
        title = clean_text(title).strip()
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
        title = defuse_script_urls(defuse_tokens(title))
        text = defuse_tokens(text)
        if isinstance(author, str):
            author = defuse_script_urls(defuse_tokens(clean_text(author)))
        if isinstance(author, str) and ("<" in author or "&" in author):
            author = plain_text(sanitize_html(author, body_base), body_base)  # "&lt;b&gt;Jane"
        author = " ".join(author.split()) if isinstance(author, str) and author.strip() else None
        self.entries.append(Entry(
            feed_name=self.feed_name,
            guid=clean_text(guid or "").strip() or url,
            url=url,
            title=title,
            excerpt=defuse_script_urls(make_excerpt(text, self.excerpt_words)),
            published=published,
            author=clip(author, 120) if author else None,
            image=image if is_https_url(image) else None,
            content_html=clean,
            tags=tuple(dict.fromkeys(t for t in (" ".join(strip_markup(clean_text(t)).split())
                                                 for t in tags) if t))[:12],
            text=defuse_script_urls(" ".join(text.split()[:TEXT_WORDS])),
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
