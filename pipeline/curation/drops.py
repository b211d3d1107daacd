"""The editor's vetoes: curated/_drops/<week>.txt, one canonical URL per line, optionally followed
by two spaces, `#` and the reason:

    # digest drop: items kept out of 2026-W48 (canonical URL, then an optional "# reason")
    https://example.com/posts/hype-piece  # off topic
    https://blog.example.org/salary-survey

Blank lines and lines starting with `#` are comments. A URL is compared by its canonical form
(identity.canonical_url: tracking parameters, `www.`, AMP variants and http/https folded), so
an item that comes back from another feed under a variant of the URL stays out too. Read and
written here only; the writes are atomic and, in jobs/edits.py, under the state lock."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import CuratedError
from ..fsutil import atomic_write_text
from ..identity import canonical_url
from ..safetext import clean_text
from ..weeks import parse_week

FOLDER = "_drops"
HEADER = "# digest drop: items kept out of {week} (canonical URL, then an optional \"# reason\")"
_URL = re.compile(r"^https?://[^\s/]+\S*$")
REASON_MAX = 200


@dataclass(frozen=True)
class Drops:
    """A week's vetoes: canonical URL → reason ('' when none), in the file's order."""

    week: str
    reasons: dict[str, str]

    @property
    def urls(self) -> frozenset[str]:
        return frozenset(self.reasons)

    def __contains__(self, url: str) -> bool:
        return canonical_url(url) in self.reasons


def drops_path(folder: Path, week: str) -> Path:
    return folder / FOLDER / f"{week}.txt"


def one_line_reason(reason: str | None) -> str:
    """A reason as the file keeps it: plain, one line, at most REASON_MAX characters."""
    text = " ".join(clean_text(reason or "").split())
    return text[:REASON_MAX]


def parse_drops(text: str, path: Path, week: str) -> Drops:
    """The vetoes in `text`; CuratedError names the file and line of every bad one."""
    reasons: dict[str, str] = {}
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        url, _, rest = stripped.partition(" ")
        rest = rest.strip()
        if not _URL.match(url):
            problems.append(f"{path}:{number}: {url!r} is not an absolute http(s) URL")
            continue
        if rest and not rest.startswith("#"):
            problems.append(f"{path}:{number}: after the URL only a comment may follow "
                            f"('  # reason'), not {rest[:40]!r}")
            continue
        reasons[canonical_url(url)] = one_line_reason(rest.lstrip("#"))
    if problems:
        raise CuratedError("\n".join(problems),
                           hint="one URL per line, optionally followed by '  # reason'")
    return Drops(week, reasons)


def load_drops(folder: Path, week: str) -> Drops:
    """The week's vetoes; none when the file does not exist."""
    parse_week(week)
    path = drops_path(folder, week)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Drops(week, {})
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CuratedError(f"{path}:{line}: not UTF-8 text (byte {exc.start})",
                           hint="save the file as UTF-8") from exc
    return parse_drops(text, path, week)


def _line_url(line: str) -> str | None:
    """The canonical URL a line of the file names, if it names one."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    url = stripped.split()[0]
    return canonical_url(url) if _URL.match(url) else None


def _line(url: str, reason: str) -> str:
    return f"{url}  # {reason}" if reason else url


def add_drops(folder: Path, week: str, urls: list[str], reason: str | None) -> Drops:
    """Append `urls` (as canonical URLs) with `reason`; a URL already there keeps its line,
    which takes the new reason when one is given. The editor's own lines and comments stay as
    they are. Returns the week's vetoes after the change."""
    path = drops_path(folder, week)
    current = load_drops(folder, week)
    text = one_line_reason(reason)
    lines = path.read_text(encoding="utf-8-sig").splitlines() if path.exists() else [
        HEADER.format(week=week)]
    wanted = list(dict.fromkeys(canonical_url(u) for u in urls))
    for number, line in enumerate(lines):
        url = _line_url(line)
        if url in wanted:
            if text:
                lines[number] = _line(url, text)
            wanted.remove(url)
    lines += [_line(url, text) for url in wanted if url not in current.reasons]
    return _write(path, week, lines)


def remove_drops(folder: Path, week: str, urls: list[str]) -> Drops:
    """Take `urls` out of the week's vetoes (every line naming one of them)."""
    path = drops_path(folder, week)
    load_drops(folder, week)  # a damaged file is reported, not rewritten
    if not path.exists():
        return Drops(week, {})
    gone = {canonical_url(u) for u in urls}
    lines = [line for line in path.read_text(encoding="utf-8-sig").splitlines()
             if _line_url(line) not in gone]
    return _write(path, week, lines)


def _write(path: Path, week: str, lines: list[str]) -> Drops:
    text = "\n".join(lines) + "\n"
    atomic_write_text(path, text)
    return parse_drops(text, path, week)
