"""The issues table: the life of each week's issue, as named operations.

    record_built ─→ built ─approve─→ approved ─┐
                    │  └──────────start_delivery┴→ sending ─mark_sent─→ sent
                    └─mark_skipped─→ skipped (its items roll over; its number is given back)

A skipped or approved week that is built again is a draft again (a rebuilt issue needs a new
approval), and so is an approved week whose curation changed (`withdraw_approval`). Deciding
what may happen to a week is the jobs' business (jobs/weekly.py); these operations only record
it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..models import Issue
from ..weeks import utcnow
from . import published
from .db import Database
from .statuses import IssueStatus


def status(db: Database, week: str) -> IssueStatus | None:
    """The week's status; None when nothing was built for it."""
    row = db.execute("SELECT status FROM issues WHERE id = ?", (week,)).fetchone()
    return IssueStatus(row[0]) if row else None


def statuses(db: Database) -> dict[str, IssueStatus]:
    return {row[0]: IssueStatus(row[1]) for row in db.execute("SELECT id, status FROM issues")}


def any_known(db: Database) -> bool:
    return db.execute("SELECT 1 FROM issues LIMIT 1").fetchone() is not None


def number_for(db: Database, week: str, archived: Callable[[], Mapping[str, int]]) -> int:
    """The number this week's issue already has, else one more than any earlier issue (in the
    database, or in the archive: `archived()` maps week → number, read only when needed). A
    skipped week gave its number back (migration 2)."""
    row = db.execute("SELECT number FROM issues WHERE id = ? AND status != 'skipped'",
                     (week,)).fetchone()
    if row:
        return row[0]
    skipped = {r[0] for r in db.execute("SELECT id FROM issues WHERE status = 'skipped'")}
    known = [number for other, number in archived().items()
             if other != week and other not in skipped]
    row = db.execute("SELECT max(number) FROM issues WHERE status != 'skipped'").fetchone()
    return max([row[0] or 0, *known]) + 1


def record_built(db: Database, issue: Issue, guids: Mapping[str, str] | None = None) -> None:
    """A build of the week: its row (a skipped or approved week is a draft again, with the
    number it now has) and its items in the history, in one transaction."""
    with db.atomic():
        db.execute("INSERT INTO issues (id, number, built_at) VALUES (?, ?, ?)"
                   " ON CONFLICT(id) DO UPDATE SET built_at = excluded.built_at,"
                   " number = excluded.number, status = CASE WHEN status IN"
                   " ('skipped', 'approved') THEN 'built' ELSE status END,"
                   " approved_at = CASE WHEN status = 'approved' THEN NULL"
                   " ELSE approved_at END",
                   (issue.id, issue.number, utcnow()))
        published.remember(db, issue, guids)


def approve(db: Database, week: str) -> None:
    with db.atomic():
        db.execute("UPDATE issues SET status = 'approved', approved_at = ? WHERE id = ?",
                   (utcnow(), week))


def withdraw_approval(db: Database, week: str) -> bool:
    """An approved week is a draft again (its curation changed after the approval); True
    when it was approved."""
    with db.atomic():
        cursor = db.execute("UPDATE issues SET status = 'built', approved_at = NULL"
                            " WHERE id = ? AND status = 'approved'", (week,))
    return cursor.rowcount > 0


def mark_skipped(db: Database, week: str) -> None:
    """Skip a week: its items leave the history (`published`) so the next issue can carry them."""
    with db.atomic():
        db.execute("UPDATE issues SET status = 'skipped' WHERE id = ?", (week,))
        published.forget(db, week)


def start_delivery(db: Database, week: str) -> None:
    """The first message of the week is about to go out (a resumed send changes nothing)."""
    with db.atomic():
        db.execute("UPDATE issues SET status = 'sending' WHERE id = ?"
                   " AND status IN ('built', 'approved')", (week,))


def mark_sent(db: Database, week: str) -> None:
    """Every queued reader got the issue."""
    with db.atomic():
        db.execute("UPDATE issues SET status = 'sent', sent_at = ? WHERE id = ?"
                   " AND status != 'sent'", (utcnow(), week))


def sent(db: Database) -> dict[str, str | None]:
    """Every sent week and when its delivery completed."""
    return {row[0]: row[1]
            for row in db.execute("SELECT id, sent_at FROM issues WHERE status = 'sent'")}
