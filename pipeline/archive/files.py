"""The archive: the only writer of issues/<week>/. Every file is written atomically.

Content files (issue.json, email.mjml, email.html, email.txt) depend only on the inputs and
`--now`, so a rebuild is byte-identical; report.json may carry timings; delivery.json is the
archive's record of the week's delivery (record.py). Every file is public: 0644 in 0755
folders, whatever the umask (fsutil).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ..errors import ArchiveError, UsageError
from ..fsutil import atomic_write_json, atomic_write_text, dumps_json
from ..models import Issue, RenderedIssue

# Named as before the move: log shippers may filter on it.
log = logging.getLogger("pipeline.archive")

CONTENT_FILES = ("issue.json", "email.mjml", "email.html", "email.txt")
RECORD_FILE = "delivery.json"  # the week's delivery record (record.py)


def issue_dir(archive_dir: Path, week: str) -> Path:
    return archive_dir / week


def write_issue(archive_dir: Path, rendered: RenderedIssue, public_html: str,
                public_text: str) -> Path:
    """Write the content files of a built issue. `public_*` are the reader-neutral versions
    (no personal data) of the compiled HTML and text."""
    folder = issue_dir(archive_dir, rendered.issue.id)
    files = {
        "issue.json": dumps_json(rendered.issue.to_json()),
        "email.mjml": rendered.mjml,
        "email.html": public_html,
        "email.txt": public_text,
    }
    for name, text in files.items():
        path = folder / name
        # Skip identical content so a rebuild leaves mtimes (and static hosts' caches) alone.
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        atomic_write_text(path, text)
    return folder


def write_report(archive_dir: Path, week: str, report: dict[str, Any]) -> Path:
    path = issue_dir(archive_dir, week) / "report.json"
    atomic_write_json(path, report)
    return path


def _read_json(path: Path) -> Any:
    """The JSON in `path`; ArchiveError when it cannot be read or parsed (a truncated file)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ArchiveError(f"cannot read {path}: {exc.strerror or exc}",
                           hint="check the file's permissions and the disk") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ArchiveError(f"{path} is damaged (not valid JSON: {exc})",
                           hint="restore it from your copy of the archive") from exc


def read_report(archive_dir: Path, week: str) -> dict[str, Any] | None:
    """The week's run report; None when missing or damaged (it is rewritten by the next run)."""
    path = issue_dir(archive_dir, week) / "report.json"
    if not path.is_file():
        return None
    try:
        report = _read_json(path)
    except ArchiveError as exc:
        log.warning("%s; it is written anew", exc.message)
        return None
    return report if isinstance(report, dict) else None


def read_issue(archive_dir: Path, week: str) -> Issue:
    path = issue_dir(archive_dir, week) / "issue.json"
    if not path.is_file():
        raise UsageError(f"{path}: issue {week} has not been built",
                         hint=f"run `digest build --week {week}` first")
    try:
        return Issue.from_json(_read_json(path))
    except ArchiveError as exc:
        raise ArchiveError(exc.message, hint=_rebuild_hint(archive_dir, week)) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise ArchiveError(f"{path} is damaged (not an issue: {exc!r} is missing or wrong)",
                           hint=_rebuild_hint(archive_dir, week)) from exc


def _rebuild_hint(archive_dir: Path, week: str) -> str:
    if record_path(archive_dir, week).exists():
        return ("its delivery has started, so it is not rebuilt: restore the file from your"
                " copy of the archive (e.g. `git checkout`), then run the command again")
    return (f"rebuild it with `digest build --week {week}`, or restore it from your copy of"
            " the archive")


def record_path(archive_dir: Path, week: str) -> Path:
    return issue_dir(archive_dir, week) / RECORD_FILE


def write_delivery_record(archive_dir: Path, week: str, record: dict[str, Any]) -> None:
    atomic_write_json(record_path(archive_dir, week), record)


def read_delivery_record(archive_dir: Path, week: str) -> dict[str, Any] | None:
    """delivery.json as stored; None when the week's delivery never started. ArchiveError
    when it is damaged."""
    path = record_path(archive_dir, week)
    if not path.is_file():
        return None
    data = _read_json(path)
    if not isinstance(data, dict):
        raise ArchiveError(f"{path} is damaged (not a JSON object)",
                           hint="restore it from your copy of the archive")
    return data


def list_issues(archive_dir: Path) -> list[Issue]:
    """Every built issue in the archive, oldest first."""
    if not archive_dir.is_dir():
        return []
    issues = []
    for path in sorted(archive_dir.glob("*-W*/issue.json")):
        try:
            issues.append(Issue.from_json(json.loads(path.read_text(encoding="utf-8"))))
        except (ValueError, KeyError, TypeError):
            continue  # a damaged or foreign folder is not an issue
    return sorted(issues, key=lambda i: i.id)
