"""Changing an excerpt file in place (`digest pick` on an item already picked, the desk's note,
section and order): only the front-matter lines of the keys that change are rewritten, so the
editor's own formatting, comments and quotation stay as they were and `git diff` shows one line
per change. The result is read back with the parser; a change it would refuse is undone."""

from __future__ import annotations

import tomllib
from pathlib import Path

from ..errors import CuratedError
from ..fsutil import atomic_write_bytes
from ..models import CuratedExcerpt
from .excerpts import FENCE, _toml_string, parse_excerpt

EDITABLE = ("section", "note", "order")


def _value(key: str, value: object) -> str:
    if key == "order":
        return str(int(value))  # type: ignore[call-overload]
    return _toml_string(" ".join(str(value).split()))


def _key_span(lines: list[str], start: int, end: int, key: str) -> tuple[int, int] | None:
    """The lines [first, last) of the front matter (lines start..end) that hold `key`,
    a multi-line string or array included."""
    for first in range(start, end):
        head = lines[first].split("=", 1)[0].strip()
        if "=" not in lines[first] or head != key:
            continue
        for last in range(first + 1, end + 1):
            try:
                if key in tomllib.loads("".join(lines[first:last])):
                    return first, last
            except tomllib.TOMLDecodeError:
                continue
        return first, first + 1
    return None


def set_fields(path: Path, section_ids: set[str], changes: dict[str, object | None]
               ) -> CuratedExcerpt:
    """Set (or, with None, remove) `changes` (keys of EDITABLE) in the excerpt file at `path`
    and return it as read back. CuratedError when the file or the result does not parse."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable here: {', '.join(sorted(unknown))}")
    parse_excerpt(path, section_ids)  # a broken file is reported as it is, not edited
    original = path.read_bytes()
    lines = original.decode("utf-8-sig").splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    end = next(i for i in range(1, len(lines)) if lines[i].strip() == FENCE)
    for key, value in changes.items():
        if key == "note" and value is not None and not str(value).strip():
            value = None  # an empty note is no note
        span = _key_span(lines, 1, end, key)
        new = [] if value is None else [f"{key} = {_value(key, value)}{newline}"]
        if span is not None:
            lines[span[0]:span[1]] = new
        else:
            lines[end:end] = new
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == FENCE)
    atomic_write_bytes(path, "".join(lines).encode("utf-8"))
    try:
        return parse_excerpt(path, section_ids)
    except CuratedError:
        atomic_write_bytes(path, original)
        raise
