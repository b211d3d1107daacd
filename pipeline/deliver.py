"""Deliver stage: the ledger-driven send of one issue.

One row per (issue, subscriber) in `deliveries`: queued → sending → sent | failed | bounced.
Each message is marked `sending` and committed before it goes out and `sent` right after the
server accepted it, so a crash repeats at most the messages in flight and loses none.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from .models import DeliveryResult, OutgoingMessage, Subscriber
from .store import transaction, utcnow


class Transport(Protocol):
    def send(self, message: OutgoingMessage) -> DeliveryResult: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SendSummary:
    issue_id: str
    sent: int
    failed: int
    bounced: int
    already_sent: int
    remaining: int


def enqueue(conn: sqlite3.Connection, issue_id: str) -> int:
    """Queue every active subscriber who has no row for this issue yet. Returns rows added."""
    with transaction(conn):
        cursor = conn.execute(
            "INSERT OR IGNORE INTO deliveries (issue_id, subscriber_id, status, updated_at)"
            " SELECT ?, id, 'queued', ? FROM subscribers WHERE status = 'active'",
            (issue_id, utcnow()))
    return cursor.rowcount


def pending(conn: sqlite3.Connection, issue_id: str, resend_failed: bool = False,
            max_attempts: int = 5) -> Iterator[Subscriber]:
    """Rows still to send: queued, or `sending` left by a crash; failed ones on request.
    Only subscribers still active: an unsubscribe mid-send is honoured."""
    statuses = ("queued", "sending", "failed") if resend_failed else ("queued", "sending")
    marks = ",".join("?" * len(statuses))
    rows = conn.execute(
        f"SELECT s.id, s.email, s.name, s.status FROM deliveries d"
        f" JOIN subscribers s ON s.id = d.subscriber_id"
        f" WHERE d.issue_id = ? AND d.status IN ({marks}) AND s.status = 'active'"
        f" AND (d.status != 'failed' OR d.attempts < ? OR ?)"
        f" ORDER BY d.subscriber_id", (issue_id, *statuses, max_attempts, resend_failed)
    ).fetchall()
    for row in rows:
        yield Subscriber(id=row[0], email=row[1], name=row[2], status=row[3])


def mark(conn: sqlite3.Connection, issue_id: str, subscriber_id: int, status: str,
         result: DeliveryResult | None = None, message_id: str | None = None) -> None:
    with transaction(conn):
        conn.execute(
            "UPDATE deliveries SET status = ?, updated_at = ?,"
            " attempts = attempts + CASE WHEN ? = 'sending' THEN 1 ELSE 0 END,"
            " last_code = COALESCE(?, last_code), last_error = COALESCE(?, last_error),"
            " message_id = COALESCE(?, message_id)"
            " WHERE issue_id = ? AND subscriber_id = ?",
            (status, utcnow(), status, result.code if result else None,
             (result.detail or None) if result and not result.ok else None, message_id,
             issue_id, subscriber_id))


def counts(conn: sqlite3.Connection, issue_id: str) -> dict[str, int]:
    rows = conn.execute("SELECT status, count(*) FROM deliveries WHERE issue_id = ?"
                        " GROUP BY status", (issue_id,)).fetchall()
    return {row[0]: row[1] for row in rows}


def send_issue(conn: sqlite3.Connection, issue_id: str, transport: Transport,
               compose: Callable[[Subscriber], OutgoingMessage],
               resend_failed: bool = False, max_attempts: int = 5,
               on_progress: Callable[[DeliveryResult], None] | None = None) -> SendSummary:
    """Send the issue to every queued subscriber through `transport`; resumable."""
    before = counts(conn, issue_id).get("sent", 0)
    enqueue(conn, issue_id)
    sent = failed = bounced = 0
    for subscriber in list(pending(conn, issue_id, resend_failed, max_attempts)):
        message = compose(subscriber)
        mark(conn, issue_id, subscriber.id, "sending", message_id=message.message_id)
        result = transport.send(message)
        if result.ok:
            mark(conn, issue_id, subscriber.id, "sent", result)
            sent += 1
        elif result.permanent:
            mark(conn, issue_id, subscriber.id, "bounced", result)
            conn.execute("UPDATE subscribers SET status = 'bounced', updated_at = ?"
                         " WHERE id = ?", (utcnow(), subscriber.id))
            bounced += 1
        else:
            mark(conn, issue_id, subscriber.id, "failed", result)
            failed += 1
        if on_progress:
            on_progress(result)
    remaining = sum(1 for _ in pending(conn, issue_id))
    return SendSummary(issue_id, sent, failed, bounced, before, remaining)
