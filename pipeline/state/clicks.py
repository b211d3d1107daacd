"""Clicks on tracked links (`[tracking] clicks`), the issues' click keys, and the totals kept
once raw clicks are dropped.

What a row holds is what tracking/classify.ClickEvent needs and no more: the issue, the link
index, the token's delivery part, when, the method and the user agent; never an IP address.
In `aggregate` the delivery part is a hash keyed with the issue's click key (`click_key`),
which is dropped once the issue's send is complete: from then on nobody, the operator
included, can tell whose click a row is. `[tracking] keep_days` after the send began, the
issue's totals are kept (`save_totals`) and its rows deleted (jobs/stats.settle).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from ..weeks import utcnow
from .db import Database


class ClickRow(NamedTuple):
    """A NamedTuple, not a dataclass: the web makes one per click and stores them as they
    are (no per-row Python work in `record`; tuples of plain values cost the GC nothing)."""

    issue_id: str
    link_index: int
    delivery: str
    at: str  # UTC, ISO 8601 with microseconds
    method: str
    user_agent: str  # at most USER_AGENT_MAX characters
    id: int | None = None
    kind: str | None = None  # 'human' | 'machine' once classified and settled
    reasons: str | None = None  # comma-separated tracking.classify.Reason values


USER_AGENT_MAX = 500


def record(db: Database, rows: Sequence[ClickRow]) -> None:
    """Store new clicks (`id` None), in one transaction (the web hands them over in batches)."""
    with db.atomic():
        db.executemany(
            "INSERT INTO clicks (issue_id, link_index, delivery, at, method, user_agent, id,"
            " kind, reasons) VALUES (?, ?, ?, ?, ?, substr(?, 1, 500), ?, ?, ?)", rows)


def wait_for_lock(db: Database, seconds: float) -> None:
    """How long this connection's writes wait for another's lock (0: fail at once)."""
    db.execute(f"PRAGMA busy_timeout={int(seconds * 1000)}")


def for_issue(db: Database, issue_id: str) -> list[ClickRow]:
    """The issue's clicks, oldest first."""
    rows = db.execute("SELECT id, issue_id, link_index, delivery, at, method, user_agent, kind,"
                      " reasons FROM clicks WHERE issue_id = ? ORDER BY at, id", (issue_id,))
    return [ClickRow(r["issue_id"], r["link_index"], r["delivery"], r["at"], r["method"],
                     r["user_agent"], r["id"], r["kind"], r["reasons"]) for r in rows]


def issues_with_clicks(db: Database) -> list[str]:
    return [r[0] for r in db.execute("SELECT DISTINCT issue_id FROM clicks ORDER BY issue_id")]


def set_classes(db: Database, classes: Iterable[tuple[int, str, str]]) -> None:
    """Keep each settled click's class and reasons: (row id, kind, reasons)."""
    with db.atomic():
        db.executemany("UPDATE clicks SET kind = ?, reasons = ? WHERE id = ?",
                       [(kind, reasons, row_id) for row_id, kind, reasons in classes])


def click_key(db: Database, issue_id: str) -> bytes:
    """The issue's random key for `aggregate` delivery hashes, made on first use (a resumed
    send gets the same one)."""
    with db.atomic():
        db.execute("INSERT OR IGNORE INTO click_keys (issue_id, key, created_at)"
                   " VALUES (?, ?, ?)", (issue_id, secrets.token_bytes(32), utcnow()))
        return bytes(db.execute("SELECT key FROM click_keys WHERE issue_id = ?",
                                (issue_id,)).fetchone()[0])


def click_keys(db: Database) -> dict[str, bytes]:
    return {r[0]: bytes(r[1]) for r in db.execute("SELECT issue_id, key FROM click_keys")}


def drop_key(db: Database, issue_id: str) -> bool:
    with db.atomic():
        return db.execute("DELETE FROM click_keys WHERE issue_id = ?",
                          (issue_id,)).rowcount > 0


def save_totals(db: Database, issue_id: str, stats: dict[str, Any]) -> int:
    """Keep the issue's totals (stats.WeekStats.to_json) and delete its raw clicks, in one
    transaction; returns the rows deleted."""
    with db.atomic():
        db.execute("INSERT INTO click_totals (issue_id, stats_json, saved_at) VALUES (?, ?, ?)"
                   " ON CONFLICT(issue_id) DO UPDATE SET stats_json = excluded.stats_json,"
                   " saved_at = excluded.saved_at",
                   (issue_id, json.dumps(stats, sort_keys=True), utcnow()))
        return db.execute("DELETE FROM clicks WHERE issue_id = ?", (issue_id,)).rowcount


def totals(db: Database) -> dict[str, dict[str, Any]]:
    """The kept totals of the issues whose raw clicks were dropped, by week."""
    return {r[0]: json.loads(r[1])
            for r in db.execute("SELECT issue_id, stats_json FROM click_totals")}


def forget(db: Database, deliveries: Iterable[str]) -> int:
    """Delete the clicks of these delivery parts (a reader's ref, or their hashes); returns
    how many. Inside the caller's transaction when there is one."""
    parts = list(dict.fromkeys(deliveries))
    deleted = 0
    for start in range(0, len(parts), 500):
        chunk = parts[start:start + 500]
        marks = ",".join("?" * len(chunk))
        deleted += db.execute(f"DELETE FROM clicks WHERE delivery IN ({marks})",
                              chunk).rowcount
    return deleted
