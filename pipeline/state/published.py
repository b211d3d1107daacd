"""The de-dup history (`published` table): every item of every earlier issue, by canonical URL,
GUID and title fingerprint. It is derived data: `rebuild_history` recreates it from the archive
(issues/*/issue.json) after the state folder was lost or copied from elsewhere."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..archive import files as archive
from ..identity import history_keys
from ..models import Issue, Item
from .db import Database


def item_keys(item: Item, guid: str | None = None) -> list[str]:
    """The keys one published item is remembered by (as issues.record_built stores them)."""
    keys = history_keys(item.url, guid, item.title)
    if item.kind == "curated":
        # An excerpt is identified by its file: the editor may quote one article many times
        # (one item, a passage per file). Its URL and title keep a feed's copy of the article
        # out of later issues.
        return [*(f"curated:{p.id.removeprefix('c-')}" for p in item.passages), *keys]
    return keys


def keys_except(db: Database, issue_id: str) -> set[str]:
    """Every key published by an issue other than `issue_id` (what a new build must skip)."""
    rows = db.execute("SELECT key FROM published WHERE issue_id != ?", (issue_id,))
    return {row[0] for row in rows}


def remember(db: Database, issue: Issue, guids: Mapping[str, str] | None = None) -> None:
    """The issue's items replace what it published before (inside the caller's transaction).
    `guids`: the feed GUID of an item, by URL."""
    guids = guids or {}
    db.execute("DELETE FROM published WHERE issue_id = ?", (issue.id,))
    for item in issue.items:
        db.executemany("INSERT OR IGNORE INTO published (key, issue_id, item_id)"
                       " VALUES (?, ?, ?)",
                       [(key, issue.id, item.id) for key in item_keys(item, guids.get(item.url))])


def forget(db: Database, issue_id: str) -> None:
    """A skipped week's items leave the history, so the next issue can carry them."""
    db.execute("DELETE FROM published WHERE issue_id = ?", (issue_id,))


def rebuild_history(db: Database, archive_dir: Path) -> int:
    """Replace the `published` table with the items of every issue in the archive, oldest
    first (so a key belongs to the issue that first carried it). GUIDs are not in issue.json:
    a rebuilt history knows items by URL and title. Returns the number of keys."""
    # A skipped week's files stay in the archive, but its items rolled over: not published.
    issues = [issue for issue in archive.list_issues(archive_dir)
              if (archive.read_report(archive_dir, issue.id) or {}).get("status") != "skipped"]
    with db.atomic():
        db.execute("DELETE FROM published")
        for issue in issues:
            for item in issue.items:
                db.executemany("INSERT OR IGNORE INTO published (key, issue_id, item_id)"
                               " VALUES (?, ?, ?)",
                               [(key, issue.id, item.id) for key in item_keys(item)])
    return db.execute("SELECT count(*) FROM published").fetchone()[0]
