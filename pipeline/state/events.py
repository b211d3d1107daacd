"""What happened to each reader, and when: the subscriber events, and the suppression log.

Every change of a reader's status made by the state layer is kept as an event (who or what
made it, why, for which issue): `digest subscribers list` says why a reader left, the growth
figures count them, and an appeal ("I never unsubscribed") can be answered. Events name the
reader by `ref` (tokens.reader_ref of the address), like links do.

The suppression log (`var/suppressions.log`, private, append-only JSON lines) keeps every change
into or out of a status that stops mail (unsubscribed, bounced, complained) OUTSIDE the
database. The database records how much of the log it has seen (`state_meta`); a database
restored from an older backup has seen less, so the changes made since the backup are applied
again when it is next opened, and a reader who left after the backup is never mailed again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from ..fsutil import PRIVATE_FILE, storage_error
from ..weeks import utcnow
from .statuses import SubscriberStatus

if TYPE_CHECKING:  # db.py opens the database and replays the log: it imports this module
    from .db import Database

LOG_NAME = "suppressions.log"
_OFFSET_KEY = "suppressions_log_offset"
# A reader in one of these is never mailed: changes into or out of them go to the log.
STOPPED = frozenset({SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED,
                     SubscriberStatus.COMPLAINED})


class EventKind(StrEnum):
    SUBSCRIBED = "subscribed"  # a signup, pending its confirmation
    CONFIRMED = "confirmed"  # became active (confirmed, added, imported, resubscribed)
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    SOFT_BOUNCE = "soft_bounce"  # counted; no change of status by itself


_KIND_BY_STATUS = {
    SubscriberStatus.PENDING: EventKind.SUBSCRIBED,
    SubscriberStatus.ACTIVE: EventKind.CONFIRMED,
    SubscriberStatus.UNSUBSCRIBED: EventKind.UNSUBSCRIBED,
    SubscriberStatus.BOUNCED: EventKind.BOUNCED,
    SubscriberStatus.COMPLAINED: EventKind.COMPLAINED,
}


@dataclass(frozen=True)
class SubscriberEventRow:
    ref: str
    at: str  # UTC, ISO 8601
    kind: EventKind
    status: str | None  # the status after the event (None: unchanged, e.g. a soft bounce)
    previous: str | None  # the status before (None: the reader was new)
    source: str  # operator, import, web, smtp, inbound, webhook:<provider>, suppression-log
    detail: str | None = None  # the reason: an SMTP reply, a bounce's status and reason
    issue_id: str | None = None


def record(db: Database, ref: str, kind: EventKind, *, source: str,
           status: str | None = None, previous: str | None = None,
           detail: str | None = None, issue_id: str | None = None,
           at: str | None = None) -> None:
    """Keep one event (inside the caller's transaction when there is one)."""
    db.execute("INSERT INTO subscriber_events (ref, at, kind, status, previous, source, detail,"
               " issue_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               (ref, at or utcnow(), kind.value, status, previous, source,
                detail[:500] if detail else None, issue_id))


def changed(db: Database, ref: str, previous: str | None, status: str, *, source: str,
            detail: str | None = None, issue_id: str | None = None) -> None:
    """A reader's status changed from `previous` (None: a new reader) to `status`: keep the
    event, and log a change into or out of a stopped status (after the commit)."""
    if previous == status:
        return
    at = utcnow()
    record(db, ref, _KIND_BY_STATUS[SubscriberStatus(status)], source=source, status=status,
           previous=previous, detail=detail, issue_id=issue_id, at=at)
    if status in STOPPED or (previous in STOPPED):
        line = json.dumps({"ref": ref, "status": status, "at": at, "source": source},
                          ensure_ascii=True, sort_keys=True)
        db.after_commit(lambda: _append(db.path.parent / LOG_NAME, line))


def events_for(db: Database, ref: str) -> list[SubscriberEventRow]:
    rows = db.execute("SELECT ref, at, kind, status, previous, source, detail, issue_id"
                      " FROM subscriber_events WHERE ref = ? ORDER BY id", (ref,))
    return [_event(row) for row in rows]


def last_reasons(db: Database) -> dict[str, SubscriberEventRow]:
    """The latest status-changing event of every reader, by ref (why a reader left)."""
    rows = db.execute(
        "SELECT ref, at, kind, status, previous, source, detail, issue_id FROM"
        " subscriber_events WHERE id IN (SELECT max(id) FROM subscriber_events"
        " WHERE status IS NOT NULL GROUP BY ref)")
    return {row["ref"]: _event(row) for row in rows}


def between(db: Database, start: datetime, end: datetime) -> Iterator[SubscriberEventRow]:
    """Events with start <= at < end (UTC), oldest first (growth per week)."""
    rows = db.execute("SELECT ref, at, kind, status, previous, source, detail, issue_id"
                      " FROM subscriber_events WHERE at >= ? AND at < ? ORDER BY at, id",
                      (_utc(start), _utc(end)))
    for row in rows:
        yield _event(row)


def _event(row) -> SubscriberEventRow:
    return SubscriberEventRow(row["ref"], row["at"], EventKind(row["kind"]), row["status"],
                              row["previous"], row["source"], row["detail"], row["issue_id"])


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- the log


def _append(path: Path, line: str) -> None:
    """One line, appended and flushed to disk (O_APPEND: whole lines, whatever else writes)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)
        try:
            os.write(fd, (line + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise storage_error(exc, path) from exc


def replay(db: Database) -> int:
    """Apply the log's lines this database has not seen (it was restored from an older
    backup, or recreated): each reader named takes the status of their latest line, unless
    their row changed later. Returns how many readers changed. Cheap when nothing is new:
    one stat and one row read."""
    path = db.path.parent / LOG_NAME
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise storage_error(exc, path) from exc
    row = db.execute("SELECT value FROM state_meta WHERE key = ?", (_OFFSET_KEY,)).fetchone()
    seen = int(row[0]) if row else 0
    if seen == size:
        return 0
    if seen > size:  # the log was replaced or cut: read it all again (re-applying is safe)
        seen = 0
    try:
        with open(path, "rb") as handle:
            handle.seek(seen)
            data = handle.read()
    except OSError as exc:
        raise storage_error(exc, path) from exc
    complete = data[:data.rfind(b"\n") + 1]  # a line cut by a crash is read next time
    latest: dict[str, dict[str, str]] = {}
    for raw in complete.splitlines():
        try:
            entry = json.loads(raw)
            latest[str(entry["ref"])] = {"status": str(entry["status"]), "at": str(entry["at"]),
                                         "source": str(entry.get("source", ""))}
        except (ValueError, KeyError, TypeError):
            continue  # a damaged line: the others still count
    changes = 0
    with db.atomic():
        for ref, entry in latest.items():
            try:
                status = SubscriberStatus(entry["status"])
            except ValueError:
                continue
            row = db.execute("SELECT status, updated_at FROM subscribers WHERE ref = ?",
                             (ref,)).fetchone()
            if row is None or row["status"] == status or row["updated_at"] > entry["at"]:
                continue
            db.execute("UPDATE subscribers SET status = ?, updated_at = ?,"
                       " unsubscribed_at = CASE WHEN ? = 'unsubscribed' THEN ?"
                       " ELSE unsubscribed_at END WHERE ref = ?",
                       (status.value, entry["at"], status.value, entry["at"], ref))
            record(db, ref, _KIND_BY_STATUS[status], source="suppression-log",
                   status=status.value, previous=row["status"],
                   detail=f"replayed: {entry['source']} at {entry['at']}")
            changes += 1
        db.execute("INSERT INTO state_meta (key, value) VALUES (?, ?) ON CONFLICT(key)"
                   " DO UPDATE SET value = excluded.value",
                   (_OFFSET_KEY, str(seen + len(complete))))
    return changes
