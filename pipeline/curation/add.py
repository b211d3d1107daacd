"""`digest curate add URL`: a new excerpt file in the curated folder, in the format of
curated/README.md. Without --title the page is fetched and its meta tags supply the title,
description (quoted when there is no --quote), image, site name, author and date, and the URL
the excerpt keeps: the page's canonical link (`<link rel="canonical">`, `og:url`) when it has
one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from ..config import Config
from ..errors import UsageError
from ..feeds.fetch import user_agent
from ..identity import strip_tracking
from ..issue.assemble import classify
from ..models import Entry
from .excerpts import write_excerpt
from .pagemeta import PageMeta, fetch_page_meta


def _section_for(config: Config, title: str, text: str) -> str | None:
    probe = Entry(feed_name="", guid="", url="", title=title, excerpt=text, published=None,
                  text=text)
    section_id, _ = classify(probe, config.sections)
    return section_id


def add_excerpt(config: Config, url: str, *, title: str | None = None, quote: str | None = None,
                note: str | None = None, section: str | None = None,
                now: datetime | None = None,
                fetch: Callable[[str, str, float], PageMeta] = fetch_page_meta) -> Path:
    """Write curated/<date>-<slug>.md and return its path (checked by the excerpt parser)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{url!r} is not an absolute http(s) URL",
                         hint="pass the article's full https:// address")
    host = parts.hostname.removeprefix("www.")
    meta = None if title else fetch(url, user_agent(config), config.fetch.timeout_seconds)
    title = " ".join((title or (meta.title if meta else "") or "").split())
    if not title:
        raise UsageError(f"{url}: the page has no title", hint="pass --title T")
    body = quote or (meta.description if meta else None)
    if not body or not body.strip():
        raise UsageError(f"{url}: nothing to quote" + (" (the page has no description)"
                                                        if meta else ""),
                         hint="pass --quote Q with the passage to quote")
    section_ids = [s.id for s in config.sections]
    if section is None:
        section = _section_for(config, title, body)
        if section is None:
            raise UsageError(f"cannot tell the section of {title!r} from its keywords",
                             hint=f"pass --section S, one of: {', '.join(section_ids)}")
    elif section not in section_ids:
        raise UsageError(f"section {section!r} is not configured",
                         hint=f"valid: {', '.join(section_ids)}")
    return write_excerpt(
        config.curated_dir, set(section_ids), title=title,
        # The page's own canonical URL: the article's identity, whatever link the editor had.
        url=strip_tracking((meta.canonical if meta else None) or url),
        source=(meta.site_name if meta else None) or host, section=section, quote=body,
        added=now, author=meta.author if meta else None,
        published=meta.published.date() if meta and meta.published else None, note=note,
        image=meta.image if meta else None, image_alt=title)
