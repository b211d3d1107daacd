"""The de-dup history (`published` table): every item of every earlier issue, by canonical URL,
GUID and title fingerprint. It is derived data: `rebuild_history` recreates it from the archive
(issues/*/issue.json) after the state folder was lost or copied from elsewhere."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..archive import files as archive
from ..identity import history_keys
from ..models import Item
from .db import transaction


def item_keys(item: Item, guid: str | None = None) -> list[str]:
    """The keys one published item is remembered by (as run.record_issue stores them)."""
    keys = history_keys(item.url, guid, item.title)
    if item.kind == "curated":
        # An excerpt is identified by its file: the editor may quote one article many times.
        # Its URL and title keep a feed's copy of the article out of later issues.
        return [f"curated:{item.id.removeprefix('c-')}", *keys]
    return keys


def rebuild_history(conn: sqlite3.Connection, archive_dir: Path) -> int:
    """Replace the `published` table with the items of every issue in the archive, oldest
    first (so a key belongs to the issue that first carried it). GUIDs are not in issue.json:
    a rebuilt history knows items by URL and title. Returns the number of keys."""
    # A skipped week's files stay in the archive, but its items rolled over: not published.
    issues = [issue for issue in archive.list_issues(archive_dir)
              if (archive.read_report(archive_dir, issue.id) or {}).get("status") != "skipped"]
    with transaction(conn):
        conn.execute("DELETE FROM published")
        for issue in issues:
            for item in issue.items:
                conn.executemany("INSERT OR IGNORE INTO published (key, issue_id, item_id)"
                                 " VALUES (?, ?, ?)",
                                 [(key, issue.id, item.id) for key in item_keys(item)])
    return conn.execute("SELECT count(*) FROM published").fetchone()[0]
