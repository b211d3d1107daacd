"""What inbound mail and ESP webhooks did to the state: the messages and events applied
(idempotence, and the record an appeal is answered from), soft bounces counted, the Mailgun
tokens already used, and each issue's bounces, complaints and unsubscribes for the report.

Status changes themselves go through subscribers.py (which records the event); this module
holds only the rows that are inbound's own."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from ..weeks import utcnow
from . import events
from .db import Database


@dataclass(frozen=True)
class AppliedRow:
    key: str  # "mid:<Message-ID>", "sha256:<digest>" or "webhook:<provider>:<event id>"
    at: str
    source: str
    kind: str
    recipients: tuple[str, ...]
    status: str | None
    reason: str | None
    action: str | None


def applied(db: Database, key: str) -> AppliedRow | None:
    """The message or event `key` names, when it was applied before."""
    row = db.execute("SELECT key, at, source, kind, recipients, status, reason, action"
                     " FROM inbound_applied WHERE key = ?", (key,)).fetchone()
    if row is None:
        return None
    return AppliedRow(row["key"], row["at"], row["source"], row["kind"],
                      tuple(json.loads(row["recipients"])), row["status"], row["reason"],
                      row["action"])


def remember(db: Database, key: str, *, source: str, kind: str, recipients: Sequence[str],
             status: str | None, reason: str, action: str) -> bool:
    """Keep that `key` was applied (inside the caller's transaction); False when it already
    was (two processes reading the same message at once: the first one wins)."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO inbound_applied (key, at, source, kind, recipients, status,"
        " reason, action) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (key, utcnow(), source[:300], kind, json.dumps(list(recipients)[:50]), status,
         reason[:500], action[:500]))
    return cursor.rowcount == 1


def record_soft_bounce(db: Database, ref: str, *, source: str, detail: str,
                       issue_id: str | None) -> None:
    events.record(db, ref, events.EventKind.SOFT_BOUNCE, source=source, detail=detail,
                  issue_id=issue_id)


def soft_bounces_since(db: Database, ref: str, since: str) -> int:
    """The reader's soft bounces at or after `since` (UTC ISO 8601) and after they last became
    active, counting those of one issue once (a server's "delayed" warnings of one message
    are one bounce; without an issue, one per day)."""
    row = db.execute(
        "SELECT count(DISTINCT coalesce(issue_id, substr(at, 1, 10))) FROM subscriber_events"
        " WHERE ref = ? AND kind = 'soft_bounce' AND at >= ? AND id > coalesce("
        "(SELECT max(id) FROM subscriber_events WHERE ref = ? AND status = 'active'), 0)",
        (ref, since, ref)).fetchone()
    return int(row[0])


def last_issue_sent(db: Database, subscriber_id: int) -> str | None:
    """The last issue the ledger delivered to this reader (a bounce that names no issue is
    counted against it)."""
    row = db.execute("SELECT issue_id FROM deliveries WHERE subscriber_id = ? AND status = 'sent'"
                     " ORDER BY updated_at DESC, issue_id DESC LIMIT 1",
                     (subscriber_id,)).fetchone()
    return row[0] if row else None


def issue_events(db: Database, issue_id: str) -> dict[str, int]:
    """Readers per event kind recorded for an issue ({"bounced": 3, "soft_bounce": 5, …}):
    each reader counted once per kind."""
    rows = db.execute("SELECT kind, count(DISTINCT ref) FROM subscriber_events"
                      " WHERE issue_id = ? GROUP BY kind", (issue_id,))
    return {row[0]: int(row[1]) for row in rows}


def token_seen(db: Database, provider: str, token: str, now: float, keep_seconds: float) -> bool:
    """True when the provider's webhook token was used before; else remember it (inside the
    caller's transaction, so a request that fails later does not spend it). Tokens older than
    `keep_seconds` are forgotten: the signed timestamp refuses them by then anyway."""
    db.execute("DELETE FROM webhook_tokens WHERE seen_at < ?", (now - keep_seconds,))
    cursor = db.execute("INSERT OR IGNORE INTO webhook_tokens (provider, token, seen_at)"
                        " VALUES (?, ?, ?)", (provider, token, now))
    return cursor.rowcount == 0
