"""`digest curate add URL`: a new excerpt file in the curated folder, in the format of
curated/README.md. Without --title the page is fetched and its meta tags supply the title,
description (quoted when there is no --quote), image, site name, author and date."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from ..config import Config
from ..errors import CuratedError, UsageError
from ..feeds.fetch import user_agent
from ..fsutil import atomic_write_text
from ..identity import strip_tracking
from ..issue.assemble import classify
from ..models import Entry
from .excerpts import parse_excerpt
from .pagemeta import PageMeta, fetch_page_meta

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def slugify(title: str, max_length: int = 60) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    if len(slug) > max_length:
        slug = slug[:max_length].rsplit("-", 1)[0]
    return slug or "excerpt"


def _toml_string(value: str) -> str:
    # A JSON string is a valid TOML basic string once control characters are gone.
    return json.dumps(_CONTROL.sub(" ", value), ensure_ascii=False)


def _quote_block(text: str) -> str:
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "\n>\n".join(f"> {p}" for p in paragraphs)


def _section_for(config: Config, title: str, text: str) -> str | None:
    probe = Entry(feed_name="", guid="", url="", title=title, excerpt=text, published=None,
                  text=text)
    section_id, _ = classify(probe, config.sections)
    return section_id


def _free_path(folder: Path, stem: str) -> Path:
    path = folder / f"{stem}.md"
    number = 2
    while path.exists():
        path = folder / f"{stem}-{number}.md"
        number += 1
    return path


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

    lines = ["+++",
             f"title = {_toml_string(title)}",
             f"url = {_toml_string(strip_tracking(url))}",
             f"source = {_toml_string((meta.site_name if meta else None) or host)}"]
    if meta and meta.author:
        lines.append(f"author = {_toml_string(meta.author)}")
    if meta and meta.published:
        lines.append(f"published = {meta.published.date().isoformat()}")
    lines.append(f"section = {_toml_string(section)}")
    if note and note.strip():
        lines.append(f"note = {_toml_string(' '.join(note.split()))}")
    if meta and meta.image:
        lines.append(f"image = {_toml_string(meta.image)}")
        lines.append(f"image_alt = {_toml_string(title)}")
    lines.append(f"added = {now.strftime('%Y-%m-%dT%H:%M:%SZ')}")
    lines += ["+++", _quote_block(body), ""]

    folder = config.curated_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = _free_path(folder, f"{now:%Y-%m-%d}-{slugify(title)}")
    atomic_write_text(path, "\n".join(lines))
    try:
        parse_excerpt(path, set(section_ids))
    except CuratedError:
        path.unlink(missing_ok=True)
        raise
    return path
