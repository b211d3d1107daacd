"""The subscriber list: validated, normalised, unique without regard to case.

Every row carries `ref` (tokens.reader_ref of its address, what links name a reader by),
written here with the address, and `status_stamp` (renewed by a trigger at every change of
status).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..models import Subscriber
from ..names import normalize_name as clean_name  # called by every path that stores a name
from ..tokens import reader_ref
from ..weeks import utcnow
from . import events
from .csvimport import CsvRow, parse_export
from .db import Database
from .statuses import SubscriberStatus

STATUSES = tuple(s.value for s in SubscriberStatus)
# An import never brings these back: the reader or their server said no.
STICKY = (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED)


def normalize_email(address: str) -> str:
    """The normalised address, or UsageError saying why it is not valid."""
    address = (address or "").strip()
    if "\r" in address or "\n" in address:
        raise UsageError("an email address cannot contain line breaks")
    # email_validator costs ~25 ms to import: only commands that take an address pay it.
    from email_validator import EmailNotValidError, validate_email

    try:
        # No SMTPUTF8: every relay must be able to take the address (IDN domains are fine,
        # compose writes them in IDNA).
        result = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise UsageError(f"{address!r} is not a valid email address: {exc}") from exc
    return result.normalized


def _row(row: sqlite3.Row) -> Subscriber:
    return Subscriber(id=row["id"], email=row["email"], name=row["name"], status=row["status"])


def get(db: Database, email: str) -> Subscriber | None:
    row = db.execute("SELECT * FROM subscribers WHERE email = ?", (email,)).fetchone()
    return _row(row) if row else None


def get_by_id(db: Database, subscriber_id: int) -> Subscriber | None:
    row = db.execute("SELECT * FROM subscribers WHERE id = ?", (subscriber_id,)).fetchone()
    return _row(row) if row else None


def add(db: Database, email: str, name: str | None = None, status: str = "active",
        source: str = "operator", revive: bool = True) -> tuple[Subscriber, str]:
    """Insert or update one subscriber. Returns (subscriber, what happened): 'added',
    'updated', 'unchanged' or 'kept <status>' when a sticky status (unsubscribed, bounced,
    complained) was not overridden because `revive` is False."""
    email = normalize_email(email)
    with db.atomic():
        outcome = _upsert(db, email, clean_name(name), status, source, revive, utcnow())
    subscriber = get(db, email)
    assert subscriber is not None
    return subscriber, outcome


def _upsert(db: Database, email: str, name: str | None, status: str, source: str,
            revive: bool, now: str) -> str:
    """`add` inside the caller's transaction; `email` already normalised."""
    if status not in STATUSES:
        raise ValueError(status)
    existing = get(db, email) or _forgotten(db, email, revive)
    if existing is None:
        ref = reader_ref(email)
        db.execute(
            "INSERT INTO subscribers (email, ref, name, status, source, created_at, updated_at,"
            " confirmed_at, unsubscribed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (email, ref, name, status, source, now, now,
             now if status == "active" else None, now if status == "unsubscribed" else None))
        events.changed(db, ref, None, status, source=source)
        return "added"
    if existing.status in STICKY and not revive:
        return f"kept {existing.status}"
    if existing.status == status and (name is None or name == existing.name):
        return "unchanged"
    db.execute(
        "UPDATE subscribers SET status = ?, name = COALESCE(?, name), updated_at = ?,"
        " confirmed_at = CASE WHEN ? = 'active' THEN ? ELSE confirmed_at END"
        " WHERE id = ?", (status, name, now, status, now, existing.id))
    events.changed(db, reader_ref(email), existing.status, status, source=source)
    return "updated"


def _forgotten(db: Database, email: str, revive: bool) -> Subscriber | None:
    """The row `digest subscribers forget` left of this address (state/forget.py: its ref,
    unsubscribed), given its address back when the reader comes back (`revive`)."""
    row = db.execute("SELECT * FROM subscribers WHERE ref = ?", (reader_ref(email),)).fetchone()
    if row is None:
        return None
    if revive:
        db.execute("UPDATE subscribers SET email = ? WHERE id = ?", (email, row["id"]))
        db.execute("UPDATE subscribers SET ref = ? WHERE id = ?", (row["ref"], row["id"]))
    return _row(row)


def set_status(db: Database, subscriber_id: int, status: str, *, source: str = "operator",
               detail: str | None = None, issue_id: str | None = None) -> bool:
    """Change a subscriber's status; True if it changed. `source`, `detail` and `issue_id`
    are kept with the event (who, why, which issue)."""
    if status not in STATUSES:
        raise ValueError(status)
    with db.atomic():
        return _set_status(db, subscriber_id, status, utcnow(), source=source, detail=detail,
                           issue_id=issue_id)


def _set_status(db: Database, subscriber_id: int, status: str, now: str, *,
                source: str, detail: str | None = None, issue_id: str | None = None) -> bool:
    """`set_status` inside the caller's transaction."""
    row = db.execute("SELECT ref, status FROM subscribers WHERE id = ?",
                     (subscriber_id,)).fetchone()
    if row is None or row["status"] == status:
        return False
    db.execute("UPDATE subscribers SET status = ?, updated_at = ?,"
               " unsubscribed_at = CASE WHEN ? = 'unsubscribed' THEN ? ELSE unsubscribed_at END"
               " WHERE id = ?", (status, now, status, now, subscriber_id))
    if row["ref"]:
        events.changed(db, row["ref"], row["status"], status, source=source, detail=detail,
                       issue_id=issue_id)
    return True


def bounce(db: Database, subscriber_id: int, now: str, *, source: str,
           issue_id: str | None = None, detail: str | None = None) -> bool:
    """An active reader whose address bounced for good (a 5xx at RCPT, a hard bounce): never
    mailed again. Inside the caller's transaction; True if the status changed."""
    row = db.execute("SELECT status FROM subscribers WHERE id = ?", (subscriber_id,)).fetchone()
    if row is None or row["status"] != SubscriberStatus.ACTIVE:
        return False
    return _set_status(db, subscriber_id, SubscriberStatus.BOUNCED, now, source=source,
                       detail=detail, issue_id=issue_id)


def remove(db: Database, email: str) -> Subscriber:
    """Mark a subscriber unsubscribed (kept, so an import cannot bring them back)."""
    subscriber = get(db, normalize_email(email))
    if subscriber is None:
        raise UsageError(f"{email}: no such subscriber", hint="see `digest subscribers list`")
    set_status(db, subscriber.id, "unsubscribed", detail="digest subscribers remove")
    return get_by_id(db, subscriber.id)  # type: ignore[return-value]


# --------------------------------------------------------------------------- by ref
# Links name a reader by `ref` (tokens.reader_ref of the address; migration 3), never by
# row id. The stamp a link may carry is the reader's `status_stamp` when the link was made: it
# is random and renewed by every change of status, so such a link acts only if nothing
# happened since (even within the same second, even in a recreated database).


def get_by_ref(db: Database, ref: str) -> tuple[Subscriber, str] | None:
    """(the reader a link names, their current stamp), or None when no reader has `ref`."""
    row = db.execute("SELECT * FROM subscribers WHERE ref = ?", (ref,)).fetchone()
    return (_row(row), row["status_stamp"]) if row else None


def set_status_by_ref(db: Database, ref: str, status: str,
                      only_from: tuple[str, ...], stamp: str | None = None, *,
                      source: str = "web", detail: str | None = None,
                      issue_id: str | None = None) -> bool | None:
    """Change the status of the reader `ref` names, only from one of `only_from` (an
    unsubscribe never revives a bounce) and, given a `stamp`, only if their status did not
    change since. None when no reader has `ref`; else whether it changed."""
    if status not in STATUSES:
        raise ValueError(status)
    now = utcnow()
    with db.atomic():
        found = get_by_ref(db, ref)
        if found is None:
            return None
        reader, current_stamp = found
        if reader.status not in only_from or (stamp is not None and current_stamp != stamp):
            return False
        return _set_status(db, reader.id, status, now, source=source, detail=detail,
                           issue_id=issue_id)


def confirm_outcome(status: str, stamp: str, link_stamp: str) -> str:
    """What a confirmation link made at `link_stamp` may do for a reader in `status` whose
    stamp is now `stamp`: 'confirmable' for a pending reader, or an unsubscribed one who
    signed up again after unsubscribing (the link is newer than their last change);
    'already' when active; 'stale' when they unsubscribed, were removed, bounced or
    complained since the link was made."""
    if status == "active":
        return "already"
    if status == "pending" or (status == "unsubscribed" and stamp == link_stamp):
        return "confirmable"
    return "stale"


def confirm_by_ref(db: Database, ref: str,
                   link_stamp: str) -> tuple[str, Subscriber | None]:
    """Double opt-in: ('activated', reader), or confirm_outcome's 'already' or 'stale' (nothing
    changed), or ('unknown', None) when no reader has `ref`."""
    with db.atomic():  # of two clicks at once, one activates
        found = get_by_ref(db, ref)
        if found is None:
            return "unknown", None
        reader, stamp = found
        outcome = confirm_outcome(reader.status, stamp, link_stamp)
        if outcome != "confirmable":
            return outcome, reader
        now = utcnow()
        db.execute("UPDATE subscribers SET status = 'active', updated_at = ?,"
                   " confirmed_at = ? WHERE id = ?", (now, now, reader.id))
        events.changed(db, ref, reader.status, "active", source="web",
                       detail="confirmed by the reader")
    return "activated", replace(reader, status="active")


def list_subscribers(db: Database, status: str | None = None) -> list[Subscriber]:
    if status:
        rows = db.execute("SELECT * FROM subscribers WHERE status = ? ORDER BY id", (status,))
    else:
        rows = db.execute("SELECT * FROM subscribers ORDER BY id")
    return [_row(r) for r in rows]


def iter_rows(db: Database, status: str | None = None,
              reasons: bool = False) -> Iterator[dict[str, Any]]:
    """Every subscriber as a dict with its timestamps, streamed (the list can be large).
    With `reasons`, a reader who left (unsubscribed, bounced, complained) also has "reason":
    the event that made them leave (kind, source, detail, at, issue_id); others None."""
    query = ("SELECT id, email, name, status, source, created_at, updated_at, confirmed_at,"
             " unsubscribed_at, ref FROM subscribers")
    why = events.last_reasons(db) if reasons else {}
    cursor = (db.execute(query + " WHERE status = ? ORDER BY id", (status,)) if status
              else db.execute(query + " ORDER BY id"))
    for row in cursor:
        data = dict(row)
        event = why.get(data.pop("ref"))
        if reasons:
            data["reason"] = ({"kind": event.kind.value, "source": event.source,
                               "detail": event.detail, "at": event.at,
                               "issue_id": event.issue_id}
                              if event is not None and data["status"] in events.STOPPED
                              else None)
        yield data


@dataclass(frozen=True)
class ImportReport:
    added: int
    updated: int
    unchanged: int
    kept: list[tuple[int, str, str]]  # (line, email, status kept)
    rejected: list[tuple[int, str]]  # (line, reason)
    # Readers already on the list whom the file marks as gone: (line, email, was, now).
    suppressed: list[tuple[int, str, str, str]] = field(default_factory=list)
    # Per status in the file: what became of its rows ({"unsubscribed": {"added": 3}}), and
    # the words the file used for it ({"unsubscribed": {"blocklisted": 3}}).
    by_status: dict[str, Counter[str]] = field(default_factory=dict)
    labels: dict[str, Counter[str]] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)  # how the header was read

    @property
    def accepted(self) -> int:
        return self.added + self.updated + self.unchanged


def _import_row(db: Database, email: str, name: str | None, status: str,
                now: str) -> tuple[str, str | None]:
    """One imported row inside the caller's transaction: (outcome, the status it replaced).
    An active row never revives a reader who said no; a pending one never demotes anybody;
    an unsubscribed, bounced or complained one is honoured, also over an active reader."""
    existing = get(db, email)
    if existing is None or status == "active":
        return _upsert(db, email, name, status, "import", False, now), None
    if status == "pending" or existing.status in STICKY:
        return "unchanged", None
    _set_status(db, existing.id, status, now, source="import")
    return "updated", existing.status


def import_csv(db: Database, path: Path) -> ImportReport:
    """Import a subscriber CSV (an email column, optionally a name and a status; the exports
    of Mailchimp, Substack, Buttondown and listmonk as they come, see csvimport.py) in ONE
    transaction: a crash or a kill leaves the list as it was. Each rejected row is reported
    with its line (the header is line 1); UsageError only when the file is unusable."""
    parsed = parse_export(path)
    rejected = list(parsed.rejected)
    valid: list[tuple[CsvRow, str]] = []
    seen: set[str] = set()
    for row in parsed.rows:
        if not row.email:
            rejected.append((row.line, "empty email"))
            continue
        try:
            email = normalize_email(row.email)
        except UsageError as exc:
            rejected.append((row.line, exc.message))
            continue
        if email.lower() in seen:
            rejected.append((row.line, f"{email}: duplicate of an earlier row"))
            continue
        seen.add(email.lower())
        valid.append((row, email))
    outcomes: Counter[str] = Counter()
    kept: list[tuple[int, str, str]] = []
    suppressed: list[tuple[int, str, str, str]] = []
    by_status: dict[str, Counter[str]] = {}
    labels: dict[str, Counter[str]] = {}
    now = utcnow()
    # One transaction for the whole file: 22,000 rows commit in well under a second (WAL), and
    # nothing is ever half imported.
    with db.atomic():
        for row, email in valid:
            outcome, replaced = _import_row(db, email, clean_name(row.name), row.status, now)
            if outcome.startswith("kept "):
                kept.append((row.line, email, outcome.removeprefix("kept ")))
                outcome = "kept"
            if replaced:
                suppressed.append((row.line, email, replaced, row.status))
            outcomes[outcome] += 1
            by_status.setdefault(row.status, Counter())[outcome] += 1
            labels.setdefault(row.status, Counter())[row.label] += 1
    return ImportReport(outcomes["added"], outcomes["updated"], outcomes["unchanged"], kept,
                        sorted(rejected), suppressed, by_status, labels, parsed.columns)


def seed(db: Database, path: Path | None) -> ImportReport | None:
    """Import [subscribers] seed_csv once, into an empty list (the bundled sample readers)."""
    if path is None or db.execute("SELECT 1 FROM subscribers LIMIT 1").fetchone() is not None:
        return None
    return import_csv(db, path)
