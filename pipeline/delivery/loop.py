"""Deliver stage: the ledger-driven, resumable send of one issue.

One row per (issue, subscriber) in `deliveries`: queued → sending → sent | failed | bounced.
The parent process owns the ledger. It streams the rows from SQLite in batches (never all of
them in memory), marks a batch `sending` (one commit) and hands it to a pool slot
(transports/pool.py: one slot in-process, or N worker processes with one SMTP connection each).
A slot sends its batch one message at a time and records each outcome before it transmits the
next message: in the ledger itself (in-process), or in its append-only journal (workers), which
the parent folds into the ledger when the batch comes back and replays at the start of a run
after a crash. So at any instant at most one message per connection has been accepted by the
server without its outcome being recorded: a crash, even SIGKILL, repeats at most `connections`
messages and loses none, because `sending` rows are sent again on resume (a `sending` row that
was never transmitted is simply sent then, not duplicated)."""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Protocol

from ..errors import DeliveryError
from ..models import DeliveryResult, OutgoingMessage, Subscriber
from ..state.db import transaction, utcnow

ROW_BATCH = 500  # ledger rows read per query


class Transport(Protocol):
    def send(self, message: OutgoingMessage) -> DeliveryResult: ...

    def close(self) -> None: ...


class ServerUnavailable(DeliveryError):
    """The transport could not reach its server (refused, timed out, greeting 4xx): retried
    with backoff, then it stops the run. The message was not transmitted."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0

    def delay(self, attempt: int) -> float:
        """Exponential backoff with ±20 % jitter, so N connections do not retry in lockstep."""
        base = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempt - 1))
        return base * random.uniform(0.8, 1.2)


@dataclass(frozen=True)
class Outcome:
    """What became of one row: the last result, how many tries it took, and whether the run
    must stop (`fatal`: the server is unreachable)."""

    subscriber_id: int
    message_id: str | None
    result: DeliveryResult
    tries: int
    fatal: str | None = None
    hint: str | None = None


def transient(result: DeliveryResult) -> bool:
    """A dropped connection or a 4xx reply: worth retrying. 5xx never is."""
    return not result.ok and not result.permanent and (
        result.code is None or 400 <= result.code < 500)


def deliver_one(subscriber: Subscriber, compose: Callable[[Subscriber], OutgoingMessage],
                transport: Transport, policy: RetryPolicy,
                sleep: Callable[[float], None] = time.sleep,
                pace: Callable[[], None] | None = None) -> Outcome:
    """Compose one message and send it (see deliver_message)."""
    return deliver_message(compose(subscriber), subscriber.id, transport, policy, sleep, pace)


def deliver_message(message: OutgoingMessage, subscriber_id: int, transport: Transport,
                    policy: RetryPolicy, sleep: Callable[[float], None] = time.sleep,
                    pace: Callable[[], None] | None = None,
                    upcoming: tuple[str, str] | None = None) -> Outcome:
    """Send one message, retrying 4xx replies, dropped connections and an unreachable server
    with backoff up to `policy.max_attempts` tries. `pace` (the rate limit) is called before
    every transmission, retries included. `upcoming` (sender, recipient) of the next message
    lets an SMTP transport open its envelope in the same write as this message's end."""
    send_and_open = getattr(transport, "send_and_open", None) if upcoming else None
    tries = 0
    while True:
        tries += 1
        if pace is not None:
            pace()
        try:
            result = (send_and_open(message, upcoming) if send_and_open is not None
                      else transport.send(message))
        except ServerUnavailable as exc:
            if tries < policy.max_attempts:
                sleep(policy.delay(tries))
                continue
            return Outcome(subscriber_id, message.message_id,
                           DeliveryResult(message.recipient, False, None, exc.message),
                           tries, fatal=exc.message, hint=exc.hint)
        except DeliveryError as exc:  # e.g. the login was refused: retrying cannot help
            return Outcome(subscriber_id, message.message_id,
                           DeliveryResult(message.recipient, False, None, exc.message),
                           tries, fatal=exc.message, hint=exc.hint)
        if not transient(result) or tries >= policy.max_attempts:
            return Outcome(subscriber_id, message.message_id, result, tries)
        sleep(policy.delay(tries))


@dataclass(frozen=True)
class BatchReport:
    """What a slot did with one batch. `recorded`: the outcomes are in the ledger already
    (else in the slot's journal, for the parent to fold in). `unsent`: rows not attempted
    because the slot had to stop (`fatal`: the server is unreachable)."""

    outcomes: tuple[Outcome, ...]
    recorded: bool = False
    unsent: tuple[int, ...] = ()
    fatal: str | None = None
    hint: str | None = None


class Pool(Protocol):
    """Slots that each deliver one batch of rows at a time (transports/pool.py)."""

    size: int

    def submit(self, slot: int, batch: list[Subscriber]) -> None: ...

    def wait(self, timeout: float | None) -> list[tuple[int, BatchReport]]: ...

    def settled(self, slot: int) -> None: ...  # the slot's outcomes are committed

    def close(self) -> None: ...


@dataclass(frozen=True)
class SendSummary:
    issue_id: str
    sent: int
    failed: int
    bounced: int
    already_sent: int
    remaining: int


# Readers with no ledger row get the issue only until its delivery is complete: one who joins
# later gets the next issue, and re-running a sent week sends nothing new.
_NOT_SENT = "NOT EXISTS (SELECT 1 FROM issues WHERE id = ? AND status = 'sent')"


def enqueue(conn: sqlite3.Connection, issue_id: str) -> int:
    """Queue every active subscriber who has no row for this issue yet, unless the issue is
    sent already. Returns rows added."""
    with transaction(conn):
        cursor = conn.execute(
            "INSERT OR IGNORE INTO deliveries (issue_id, subscriber_id, status, updated_at)"
            f" SELECT ?, id, 'queued', ? FROM subscribers WHERE status = 'active' AND {_NOT_SENT}",
            (issue_id, utcnow(), issue_id))
    return cursor.rowcount


def _statuses(resend_failed: bool) -> tuple[str, ...]:
    return ("queued", "sending", "failed") if resend_failed else ("queued", "sending")


def pending(conn: sqlite3.Connection, issue_id: str, resend_failed: bool = False,
            batch: int = ROW_BATCH) -> Iterator[Subscriber]:
    """Rows still to send, streamed by subscriber id: queued, or `sending` left by a crash;
    failed ones on request. Only subscribers still active: an unsubscribe mid-send is honoured.
    Each batch is fetched whole, so the caller may write between batches."""
    statuses = _statuses(resend_failed)
    marks = ",".join("?" * len(statuses))
    last = -1
    while True:
        rows = conn.execute(
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


def count_pending(conn: sqlite3.Connection, issue_id: str, resend_failed: bool = False) -> int:
    statuses = _statuses(resend_failed)
    return conn.execute(
        f"SELECT count(*) FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id"
        f" WHERE d.issue_id = ? AND d.status IN ({','.join('?' * len(statuses))})"
        f" AND s.status = 'active'", (issue_id, *statuses)).fetchone()[0]


def plan(conn: sqlite3.Connection, issue_id: str, resend_failed: bool = False,
         sample: int = 5) -> tuple[int, list[str]]:
    """(how many would get the issue now, the first few addresses), touching nothing."""
    statuses = _statuses(resend_failed)
    where = (f" FROM subscribers s LEFT JOIN deliveries d ON d.subscriber_id = s.id"
             f" AND d.issue_id = ? WHERE s.status = 'active'"
             f" AND ((d.status IS NULL AND {_NOT_SENT})"
             f" OR d.status IN ({','.join('?' * len(statuses))}))")
    args = (issue_id, issue_id, *statuses)
    count = conn.execute("SELECT count(*)" + where, args).fetchone()[0]
    first = [r[0] for r in conn.execute("SELECT s.email" + where + " ORDER BY s.id LIMIT ?",
                                        (*args, sample))]
    return count, first


def counts(conn: sqlite3.Connection, issue_id: str) -> dict[str, int]:
    rows = conn.execute("SELECT status, count(*) FROM deliveries WHERE issue_id = ?"
                        " GROUP BY status", (issue_id,)).fetchall()
    return {row[0]: row[1] for row in rows}


def _status(outcome: Outcome) -> str:
    if outcome.result.ok:
        return "sent"
    return "bounced" if outcome.result.permanent else "failed"


_UPDATE = ("UPDATE deliveries SET status = ?, attempts = attempts + ?, last_code = ?,"
           " last_error = ?, message_id = COALESCE(?, message_id), updated_at = ?"
           " WHERE issue_id = ? AND subscriber_id = ? AND status = 'sending'")


def _apply(conn: sqlite3.Connection, issue_id: str, outcomes: list[Outcome] | tuple[Outcome, ...],
           now: str) -> None:
    """Outcomes → ledger, inside the caller's transaction. Only rows still `sending` change,
    so replaying a journal that was already folded in changes nothing."""
    for o in outcomes:
        status = _status(o)
        r = o.result
        error = None if r.ok or not r.detail else r.detail[:500]
        cursor = conn.execute(_UPDATE, (status, o.tries, r.code, error, o.message_id, now,
                                        issue_id, o.subscriber_id))
        if status == "bounced" and cursor.rowcount:  # a 5xx to RCPT: never mailed again
            conn.execute("UPDATE subscribers SET status = 'bounced', updated_at = ?"
                         " WHERE id = ? AND status = 'active'", (now, o.subscriber_id))


def record(conn: sqlite3.Connection, issue_id: str, outcome: Outcome) -> None:
    """Commit one row's outcome (the in-process slot, before it transmits the next message)."""
    with transaction(conn):
        _apply(conn, issue_id, (outcome,), utcnow())


def fold(conn: sqlite3.Connection, issue_id: str, outcomes: list[Outcome] | tuple[Outcome, ...],
         unsent: list[int] | tuple[int, ...] = ()) -> None:
    """A batch's journaled outcomes, and its rows never attempted, in one transaction."""
    if not outcomes and not unsent:
        return
    now = utcnow()
    with transaction(conn):
        _apply(conn, issue_id, outcomes, now)
        conn.executemany("UPDATE deliveries SET status = 'queued', updated_at = ?"
                         " WHERE issue_id = ? AND subscriber_id = ? AND status = 'sending'",
                         [(now, issue_id, sid) for sid in unsent])


def replay_journals(conn: sqlite3.Connection, issue_id: str, folder: Path | None) -> int:
    """Fold in what a killed run recorded only in its workers' journals; returns outcomes."""
    from . import journal

    count = 0
    for path in journal.leftovers(folder, issue_id):
        outcomes = journal.read(path)
        fold(conn, issue_id, outcomes)
        count += len(outcomes)
        journal.empty(path)  # not unlink: this run's workers may have it open already
    return count


def claim(conn: sqlite3.Connection, issue_id: str, batch: list[Subscriber]) -> list[Subscriber]:
    """Mark a batch `sending`, keeping only readers still active now: `pending` read its rows
    up to ROW_BATCH ago, and a one-click unsubscribe (the web process) may have come since."""
    if not batch:
        return []
    marks = ",".join("?" * len(batch))
    with transaction(conn):
        active = {row[0] for row in conn.execute(
            f"SELECT id FROM subscribers WHERE status = 'active' AND id IN ({marks})",
            [s.id for s in batch])}
        kept = [s for s in batch if s.id in active]
        now = utcnow()
        conn.executemany("UPDATE deliveries SET status = 'sending', updated_at = ?"
                         " WHERE issue_id = ? AND subscriber_id = ?",
                         [(now, issue_id, s.id) for s in kept])
    return kept


def deliver_batch(batch: list[Subscriber], compose: Callable[[Subscriber], OutgoingMessage],
                  transport: Transport, policy: RetryPolicy,
                  record_outcome: Callable[[Outcome], None], recorded: bool,
                  pace: Callable[[], None] | None = None) -> BatchReport:
    """A slot's work: send each row of `batch` (already `sending`) and record its outcome
    (`record_outcome`: the ledger, or the slot's journal) before the next one goes out. Stops
    at an unreachable server; the rows left are reported `unsent`."""
    outcomes: list[Outcome] = []
    following = compose(batch[0]) if batch else None
    for index, subscriber in enumerate(batch):
        message = following
        assert message is not None
        following = compose(batch[index + 1]) if index + 1 < len(batch) else None
        upcoming = (following.sender, following.recipient) if following else None
        outcome = deliver_message(message, subscriber.id, transport, policy, pace=pace,
                                  upcoming=upcoming)
        if outcome.fatal:
            return BatchReport(tuple(outcomes), recorded, tuple(s.id for s in batch[index:]),
                               outcome.fatal, outcome.hint)
        record_outcome(outcome)
        outcomes.append(outcome)
    return BatchReport(tuple(outcomes), recorded)


def batch_size(pending_rows: int, slots: int) -> int:
    """Rows per hand-over: big enough that the parent is not the bottleneck, small enough
    that every slot gets work and a stop request is honoured within a fraction of a second."""
    return max(1, min(64, pending_rows // (slots * 4) or 1))


def send_issue(conn: sqlite3.Connection, issue_id: str, pool: Pool,
               resend_failed: bool = False,
               on_progress: Callable[[DeliveryResult], None] | None = None,
               on_start: Callable[[int], None] | None = None, *,
               should_stop: Callable[[], bool] | None = None,
               journal_dir: Path | None = None) -> SendSummary:
    """Send the issue to every queued subscriber through `pool`; resumable (see module doc).
    Raises DeliveryError when the server is unreachable, after recording what was done.
    `on_start(rows to send)` runs once the rows are queued and before any message is handed
    out (the archive's delivery record relies on it); `on_progress` after each outcome is in
    the ledger. `should_stop` (SIGTERM/SIGINT): start no new batch, finish those in flight."""
    replay_journals(conn, issue_id, journal_dir)
    before = counts(conn, issue_id).get("sent", 0)
    enqueue(conn, issue_id)
    total = count_pending(conn, issue_id, resend_failed)
    if on_start:
        on_start(total)
    size = batch_size(total, pool.size)
    rows = pending(conn, issue_id, resend_failed)
    idle = list(range(pool.size))
    busy: set[int] = set()
    tally = {"sent": 0, "failed": 0, "bounced": 0}
    fatal: BatchReport | None = None
    exhausted = False
    try:
        while True:
            if should_stop is not None and should_stop():
                exhausted = True
            while fatal is None and idle and not exhausted:
                batch = list(islice(rows, size))
                if not batch:
                    exhausted = True
                    break
                batch = claim(conn, issue_id, batch)
                if batch:
                    slot = idle.pop()
                    busy.add(slot)
                    pool.submit(slot, batch)
            if not busy:
                break
            for slot, report in pool.wait(None):
                _settle(conn, issue_id, pool, slot, report)
                busy.discard(slot)
                idle.append(slot)
                for outcome in report.outcomes:
                    tally[_status(outcome)] += 1
                    if on_progress:
                        on_progress(outcome.result)
                if report.fatal and fatal is None:
                    fatal = report
    except BaseException:
        _drain(conn, issue_id, pool, busy)
        raise
    if fatal is not None:
        raise DeliveryError(f"delivery stopped: {fatal.fatal}",
                            hint=(fatal.hint or "check [delivery.smtp] in the config") +
                            "; the ledger is intact: run `digest send` again to resume")
    remaining = count_pending(conn, issue_id)
    return SendSummary(issue_id, tally["sent"], tally["failed"], tally["bounced"], before,
                       remaining)


def _settle(conn: sqlite3.Connection, issue_id: str, pool: Pool, slot: int,
            report: BatchReport) -> None:
    if report.recorded:
        fold(conn, issue_id, (), report.unsent)
    else:
        fold(conn, issue_id, report.outcomes, report.unsent)
    pool.settled(slot)


def _drain(conn: sqlite3.Connection, issue_id: str, pool: Pool, busy: set[int],
           timeout: float = 60.0) -> None:
    """On Ctrl-C or an error: let the slots finish (and record) the batch they hold."""
    deadline = time.monotonic() + timeout
    try:
        while busy and time.monotonic() < deadline:
            for slot, report in pool.wait(max(0.0, deadline - time.monotonic())):
                busy.discard(slot)
                _settle(conn, issue_id, pool, slot, report)
    except Exception:  # noqa: BLE001 - best effort; journals are replayed next run
        pass
