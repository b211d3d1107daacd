"""The delivery ledger (`deliveries`): one row per (issue, subscriber).

queued → sending → sent | failed | bounced. The send loop (delivery/loop.py) queues the
active readers, claims rows batch by batch (`sending`, one commit), and records each outcome
(`record`: one commit per message, or `fold`: a batch from a worker's journal). A `sending`
row left by a crash is sent again on resume; only rows still `sending` take an outcome, so a
journal folded in twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ..models import Outcome, Subscriber
from ..weeks import utcnow
from .db import Database
from .statuses import DeliveryStatus
from .subscribers import bounce

ROW_BATCH = 500  # ledger rows read per query


def outcome_status(outcome: Outcome) -> DeliveryStatus:
    if outcome.result.ok:
        return DeliveryStatus.SENT
    return DeliveryStatus.BOUNCED if outcome.result.permanent else DeliveryStatus.FAILED


# Readers with no ledger row get the issue only until its delivery is complete: one who joins
# later gets the next issue, and re-running a sent week sends nothing new.
_NOT_SENT = "NOT EXISTS (SELECT 1 FROM issues WHERE id = ? AND status = 'sent')"


def enqueue(db: Database, issue_id: str) -> int:
    """Queue every active subscriber who has no row for this issue yet, unless the issue is
    sent already. Returns rows added."""
    with db.atomic():
        cursor = db.execute(
            "INSERT OR IGNORE INTO deliveries (issue_id, subscriber_id, status, updated_at)"
            f" SELECT ?, id, 'queued', ? FROM subscribers WHERE status = 'active' AND {_NOT_SENT}",
            (issue_id, utcnow(), issue_id))
    return cursor.rowcount


def _statuses(resend_failed: bool) -> tuple[str, ...]:
    return ("queued", "sending", "failed") if resend_failed else ("queued", "sending")


def pending(db: Database, issue_id: str, resend_failed: bool = False,
            batch: int = ROW_BATCH) -> Iterator[Subscriber]:
    """Rows still to send, streamed by subscriber id: queued, or `sending` left by a crash;
    failed ones on request. Only subscribers still active: an unsubscribe mid-send is honoured.
    Each batch is fetched whole, so the caller may write between batches."""
    statuses = _statuses(resend_failed)
    marks = ",".join("?" * len(statuses))
    last = -1
    while True:
        rows = db.execute(
            f"SELECT s.id, s.email, s.name, s.status FROM deliveries d"
            f" JOIN subscribers s ON s.id = d.subscriber_id"
            f" WHERE d.issue_id = ? AND d.subscriber_id > ? AND d.status IN ({marks})"
            f" AND s.status = 'active' ORDER BY d.subscriber_id LIMIT ?",
            (issue_id, last, *statuses, batch)).fetchall()
        if not rows:
            return
        for row in rows:
            yield Subscriber(id=row[0], email=row[1], name=row[2], status=row[3])
        last = rows[-1][0]


def count_pending(db: Database, issue_id: str, resend_failed: bool = False) -> int:
    statuses = _statuses(resend_failed)
    return db.execute(
        f"SELECT count(*) FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id"
        f" WHERE d.issue_id = ? AND d.status IN ({','.join('?' * len(statuses))})"
        f" AND s.status = 'active'", (issue_id, *statuses)).fetchone()[0]


def plan(db: Database, issue_id: str, resend_failed: bool = False,
         sample: int = 5) -> tuple[int, list[str]]:
    """(how many would get the issue now, the first few addresses), touching nothing."""
    statuses = _statuses(resend_failed)
    where = (f" FROM subscribers s LEFT JOIN deliveries d ON d.subscriber_id = s.id"
             f" AND d.issue_id = ? WHERE s.status = 'active'"
             f" AND ((d.status IS NULL AND {_NOT_SENT})"
             f" OR d.status IN ({','.join('?' * len(statuses))}))")
    args = (issue_id, issue_id, *statuses)
    count = db.execute("SELECT count(*)" + where, args).fetchone()[0]
    first = [r[0] for r in db.execute("SELECT s.email" + where + " ORDER BY s.id LIMIT ?",
                                      (*args, sample))]
    return count, first


def counts(db: Database, issue_id: str) -> dict[str, int]:
    rows = db.execute("SELECT status, count(*) FROM deliveries WHERE issue_id = ?"
                      " GROUP BY status", (issue_id,)).fetchall()
    return {row[0]: row[1] for row in rows}


def progress(db: Database, issue_id: str) -> tuple[int, int]:
    """(ledger rows of the issue, rows still queued or in flight)."""
    rows, open_rows = db.execute(
        "SELECT count(*), coalesce(sum(status IN ('queued', 'sending')), 0)"
        " FROM deliveries WHERE issue_id = ?", (issue_id,)).fetchone()
    return rows, open_rows


def started(db: Database, issue_id: str) -> bool:
    """The ledger knows that delivery of the issue started (rows) or finished (even to no
    one: the issue is marked sent)."""
    return db.execute("SELECT 1 FROM deliveries WHERE issue_id = ? UNION ALL"
                      " SELECT 1 FROM issues WHERE id = ? AND status = 'sent' LIMIT 1",
                      (issue_id, issue_id)).fetchone() is not None


def sent_count(db: Database, issue_id: str) -> int:
    return db.execute("SELECT count(*) FROM deliveries WHERE issue_id = ? AND status = 'sent'",
                      (issue_id,)).fetchone()[0]


def send_began(db: Database, issue_id: str) -> str | None:
    """When the issue's send began (UTC, ISO 8601): its rows were queued then, and a row
    changes only later. None when it never began."""
    return db.execute("SELECT min(updated_at) FROM deliveries WHERE issue_id = ?",
                      (issue_id,)).fetchone()[0]


def sent_total(db: Database) -> int:
    """Messages the ledger records as delivered, over every issue."""
    return db.execute("SELECT count(*) FROM deliveries WHERE status = 'sent'").fetchone()[0]


_UPDATE = ("UPDATE deliveries SET status = ?, attempts = attempts + ?, last_code = ?,"
           " last_error = ?, message_id = COALESCE(?, message_id), updated_at = ?"
           " WHERE issue_id = ? AND subscriber_id = ? AND status = 'sending'")


def _apply(db: Database, issue_id: str, outcomes: Iterable[Outcome], now: str) -> None:
    """Outcomes → ledger, inside the caller's transaction. Only rows still `sending` change,
    so replaying a journal that was already folded in changes nothing."""
    for o in outcomes:
        status = outcome_status(o)
        r = o.result
        error = None if r.ok or not r.detail else r.detail[:500]
        cursor = db.execute(_UPDATE, (status, o.tries, r.code, error, o.message_id, now,
                                      issue_id, o.subscriber_id))
        if status == DeliveryStatus.BOUNCED and cursor.rowcount:  # never mailed again
            bounce(db, o.subscriber_id, now, source="smtp", issue_id=issue_id,
                   detail=f"{r.code or ''} {r.detail or ''}".strip() or None)


def record(db: Database, issue_id: str, outcome: Outcome) -> None:
    """Commit one row's outcome (the in-process slot, before it transmits the next message)."""
    with db.atomic():
        _apply(db, issue_id, (outcome,), utcnow())


def fold(db: Database, issue_id: str, outcomes: Iterable[Outcome],
         unsent: Iterable[int] = ()) -> None:
    """A batch's journaled outcomes, and its rows never attempted, in one transaction."""
    outcomes, unsent = tuple(outcomes), tuple(unsent)
    if not outcomes and not unsent:
        return
    now = utcnow()
    with db.atomic():
        _apply(db, issue_id, outcomes, now)
        db.executemany("UPDATE deliveries SET status = 'queued', updated_at = ?"
                       " WHERE issue_id = ? AND subscriber_id = ? AND status = 'sending'",
                       [(now, issue_id, sid) for sid in unsent])


def claim(db: Database, issue_id: str, batch: list[Subscriber]) -> list[Subscriber]:
    """Mark a batch `sending`, keeping only readers still active now: `pending` read its rows
    up to ROW_BATCH ago, and a one-click unsubscribe (the web process) may have come since."""
    if not batch:
        return []
    marks = ",".join("?" * len(batch))
    with db.atomic():
        active = {row[0] for row in db.execute(
            f"SELECT id FROM subscribers WHERE status = 'active' AND id IN ({marks})",
            [s.id for s in batch])}
        kept = [s for s in batch if s.id in active]
        now = utcnow()
        db.executemany("UPDATE deliveries SET status = 'sending', updated_at = ?"
                       " WHERE issue_id = ? AND subscriber_id = ?",
                       [(now, issue_id, s.id) for s in kept])
    return kept
