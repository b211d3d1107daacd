"""The editor's excerpts: curated/*.md, each a TOML front-matter block between `+++` lines and a
Markdown body (the quotation). Files named README.md or starting with `_` are not excerpts;
`curated/_intros/<week>.md` holds the editor's optional intro for that week. The format is
read (`parse_excerpt`) and written (`write_excerpt`) here, so the two cannot drift apart."""

from __future__ import annotations

import json
import re
import tomllib
import unicodedata
from datetime import UTC, date, datetime, time
from pathlib import Path

from markdown_it import MarkdownIt

from ..errors import CuratedError, UsageError
from ..fsutil import atomic_write_text
from ..htmltext import defuse_script_urls, plain_text, sanitize_html, strip_markup
from ..models import CuratedExcerpt
from ..safetext import clean_text
from ..weeks import parse_week

FENCE = "+++"
REQUIRED = ("title", "url", "source", "section", "added")
KNOWN = {"title", "url", "source", "author", "published", "section", "note", "tags", "added",
         "order", "week", "image", "image_alt", "primary"}

_markdown = MarkdownIt("commonmark", {"html": False})


def markdown_text(source: str) -> str:
    """Markdown → HTML (raw HTML disabled) → sanitised → plain text: markup never survives, not
    even HTML typed into the Markdown (which would otherwise come out as literal tags)."""
    text = plain_text(sanitize_html(_markdown.render(clean_text(source))))
    return defuse_script_urls(clean_text(text))


def _as_datetime(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), UTC)
    return None


def _toml_line(exc: tomllib.TOMLDecodeError) -> int | None:
    match = re.search(r"line (\d+)", str(exc))
    return int(match.group(1)) if match else None


def _read_utf8(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CuratedError(f"{path}:{line}: not UTF-8 text (byte {exc.start})",
                           hint="save the file as UTF-8") from exc


def read_front_matter(path: Path) -> tuple[dict, list[str], int]:
    """(the TOML front matter, the file's lines, the index of the closing `+++` line): the
    format excerpts and sponsor files share. CuratedError names the line."""
    text = _read_utf8(path)
    # Lines as editors and tomllib count them: a form feed or NEL does not end a line.
    lines = re.split(r"\r\n|\r|\n", text)
    if not lines or lines[0].strip() != FENCE:
        raise CuratedError(f"{path}:1: the file must start with a '+++' front-matter line",
                           hint="see curated/README.md for the format")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == FENCE)
    except StopIteration:
        raise CuratedError(f"{path}:1: the front matter opened here is never closed with '+++'",
                           hint="add a line '+++' after the last key") from None
    try:
        meta = tomllib.loads("\n".join(lines[1:end]))
    except tomllib.TOMLDecodeError as exc:
        line = _toml_line(exc)
        where = f"{path}:{line + 1}" if line else str(path)
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        if "Illegal character" in message:
            message += " (a control character: remove it)"
        raise CuratedError(f"{where}: front matter is not valid TOML: {message}",
                           hint='strings need quotes: title = "…"') from exc
    return meta, lines, end


def front_matter_line(lines: list[str], end: int, key: str) -> int:
    """The line number of `key` in the front matter (1 when it is not there)."""
    for i in range(1, end):
        if re.match(rf"\s*{re.escape(key)}\s*=", lines[i]):
            return i + 1
    return 1


def parse_excerpt(path: Path, section_ids: set[str] | None = None) -> CuratedExcerpt:
    """Parse one excerpt file; CuratedError names the path, the line and what is valid."""
    meta, lines, end = read_front_matter(path)

    def key_line(key: str) -> int:
        return front_matter_line(lines, end, key)

    problems: list[str] = []
    for key in REQUIRED:
        if key not in meta:
            problems.append(f"{path}:{end + 1}: missing required key '{key}'")
    for key in meta:
        if key not in KNOWN:
            problems.append(f"{path}:{key_line(key)}: unknown key '{key}'; valid: "
                            + ", ".join(sorted(KNOWN)))
    for key in ("title", "url", "source", "section", "author", "note", "week", "image",
                "image_alt"):
        if key in meta and not (isinstance(meta[key], str) and clean_text(meta[key]).strip()):
            problems.append(f"{path}:{key_line(key)}: '{key}' must be a non-empty string")
    url = meta.get("url")
    if isinstance(url, str) and not re.match(r"^https?://[^\s/]+", url):
        problems.append(f"{path}:{key_line('url')}: url {url!r} must be an absolute http(s) URL")
    for key in ("url", "image"):
        value = meta.get(key)
        if isinstance(value, str) and (clean_text(value) != value
                                       or any(c.isspace() for c in value.strip())):
            problems.append(f"{path}:{key_line(key)}: {key} must not hold spaces or control "
                            "characters (percent-encode them: %20)")
    image = meta.get("image")
    if isinstance(image, str) and not image.startswith("https://"):
        problems.append(f"{path}:{key_line('image')}: image must be an absolute https URL")
    week = meta.get("week")
    if isinstance(week, str) and week.strip():
        try:
            parse_week(week)
        except UsageError:
            # A week no issue ever has would keep the excerpt out of every issue, silently.
            problems.append(f"{path}:{key_line('week')}: week {week!r} is not an ISO week; "
                            "valid: the form 2026-W48")
    section = meta.get("section")
    if section_ids is not None and isinstance(section, str) and section not in section_ids:
        problems.append(f"{path}:{key_line('section')}: section {section!r} is not configured; "
                        f"valid: {', '.join(sorted(section_ids))}")
    for key in ("added", "published"):
        if key in meta and _as_datetime(meta[key]) is None:
            problems.append(f"{path}:{key_line(key)}: '{key}' must be a TOML date or date-time "
                            "(e.g. 2026-11-23 or 2026-11-23T09:00:00Z)")
    tags = meta.get("tags", [])
    if not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        problems.append(f"{path}:{key_line('tags')}: tags must be an array of strings")
    order = meta.get("order")
    if order is not None and (isinstance(order, bool) or not isinstance(order, int)):
        problems.append(f"{path}:{key_line('order')}: order must be an integer")
    if not isinstance(meta.get("primary", False), bool):
        problems.append(f"{path}:{key_line('primary')}: primary must be true or false")
    body = "\n".join(lines[end + 1:]).strip()
    if not body:
        problems.append(f"{path}:{end + 2}: the excerpt (the text after the front matter) is empty")
    if problems:
        raise CuratedError("\n".join(problems), hint="see curated/README.md for the format")

    excerpt = markdown_text(body)
    return CuratedExcerpt(
        path=path,
        slug=path.stem,
        title=_one_line(meta["title"]),
        url=meta["url"].strip(),
        source=_one_line(meta["source"]),
        section=meta["section"],
        added=_as_datetime(meta["added"]),  # type: ignore[arg-type]
        excerpt=excerpt,
        author=_one_line(meta.get("author")),
        published=_as_datetime(meta.get("published")),
        note=_cleaned(meta.get("note")),
        tags=tuple(_one_line(t) for t in tags),
        order=order,
        week=meta.get("week"),
        image=image,
        image_alt=_cleaned(meta.get("image_alt")),
        primary=meta.get("primary", False),
    )


def _cleaned(value: str | None) -> str | None:
    return defuse_script_urls(strip_markup(clean_text(value))) if value is not None else None


def _one_line(value: str | None) -> str | None:
    """A title, source or author as plain text: like a feed's, markup typed into it is
    read as HTML and only its text kept."""
    if value is None:
        return None
    return " ".join(defuse_script_urls(strip_markup(clean_text(value))).split())


def excerpt_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.md")
                  if not p.name.startswith("_") and p.name.lower() != "readme.md")


def load_excerpts(folder: Path, section_ids: set[str] | None = None) -> list[CuratedExcerpt]:
    """Every excerpt in the folder, in the editor's order. All broken files reported at once."""
    excerpts: list[CuratedExcerpt] = []
    problems: list[str] = []
    for path in excerpt_files(folder):
        try:
            excerpts.append(parse_excerpt(path, section_ids))
        except CuratedError as exc:
            problems.append(exc.message)
    if problems:
        raise CuratedError("\n".join(problems), hint="see curated/README.md for the format")
    return sorted(excerpts, key=lambda e: e.sort_key)


def load_intro(folder: Path, week: str) -> str | None:
    """The editor's intro for `week` as plain text paragraphs, if the file exists."""
    path = folder / "_intros" / f"{week}.md"
    if not path.is_file():
        return None
    text = markdown_text(_read_utf8(path))
    return text or None


# --------------------------------------------------------------------------- writing

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


def _free_path(folder: Path, stem: str) -> Path:
    path = folder / f"{stem}.md"
    number = 2
    while path.exists():
        path = folder / f"{stem}-{number}.md"
        number += 1
    return path


def write_excerpt(folder: Path, section_ids: set[str], *, title: str, url: str, source: str,
                  section: str, quote: str, added: datetime, author: str | None = None,
                  published: date | None = None, note: str | None = None,
                  image: str | None = None, image_alt: str | None = None,
                  tags: tuple[str, ...] = (), week: str | None = None,
                  order: int | None = None) -> Path:
    """Write a new excerpt file, folder/<date>-<slug>.md (never over another one), and return
    its path. It is read back at once: a file this writes is a file `parse_excerpt` takes.
    `week` pins it to one issue (`digest pick`)."""
    lines = [FENCE, f"title = {_toml_string(title)}", f"url = {_toml_string(url)}",
             f"source = {_toml_string(source)}"]
    if author:
        lines.append(f"author = {_toml_string(author)}")
    if published:
        lines.append(f"published = {published.isoformat()}")
    lines.append(f"section = {_toml_string(section)}")
    if note and note.strip():
        lines.append(f"note = {_toml_string(' '.join(note.split()))}")
    if image:
        lines.append(f"image = {_toml_string(image)}")
        lines.append(f"image_alt = {_toml_string(image_alt or title)}")
    if tags:
        lines.append("tags = [" + ", ".join(_toml_string(t) for t in tags) + "]")
    lines.append(f"added = {added.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}")
    if order is not None:
        lines.append(f"order = {int(order)}")
    if week:
        lines.append(f"week = {_toml_string(week)}")
    lines += [FENCE, _quote_block(quote), ""]
    folder.mkdir(parents=True, exist_ok=True)
    path = _free_path(folder, f"{added.astimezone(UTC):%Y-%m-%d}-{slugify(title)}")
    atomic_write_text(path, "\n".join(lines))
    try:
        parse_excerpt(path, section_ids)
    except CuratedError:
        path.unlink(missing_ok=True)
        raise
    return path
