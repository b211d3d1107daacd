"""The archive: the only writer of issues/<week>/. Every file is written atomically.

Content files (issue.json, email.mjml, email.html, email.txt) depend only on the inputs and
`--now`, so a rebuild is byte-identical; report.json may carry timings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import UsageError
from .fsutil import atomic_write_json, atomic_write_text, dumps_json
from .models import Issue, RenderedIssue

CONTENT_FILES = ("issue.json", "email.mjml", "email.html", "email.txt")


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


def read_report(archive_dir: Path, week: str) -> dict[str, Any] | None:
    path = issue_dir(archive_dir, week) / "report.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def read_issue(archive_dir: Path, week: str) -> Issue:
    path = issue_dir(archive_dir, week) / "issue.json"
    if not path.is_file():
        raise UsageError(f"{path}: issue {week} has not been built",
                         hint=f"run `digest build --week {week}` first")
    return Issue.from_json(json.loads(path.read_text(encoding="utf-8")))


def list_issues(archive_dir: Path) -> list[Issue]:
    """Every built issue in the archive, oldest first."""
    if not archive_dir.is_dir():
        return []
    issues = []
    for path in sorted(archive_dir.glob("*-W*/issue.json")):
        try:
            issues.append(Issue.from_json(json.loads(path.read_text(encoding="utf-8"))))
        except (ValueError, KeyError):
            continue  # a half-written or foreign folder is not an issue
    return sorted(issues, key=lambda i: i.id)
