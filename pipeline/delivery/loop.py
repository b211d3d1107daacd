"""Deliver stage: the ledger-driven, resumable send of one issue.

One row per (issue, subscriber) in the ledger (state/ledger.py): queued → sending → sent |
failed | bounced. The parent process owns the ledger. It streams the rows from SQLite in
batches (never all of them in memory), marks a batch `sending` (one commit) and hands it to a
pool slot (pool.py: one slot in-process, or N worker processes with one SMTP connection each).
A slot sends its batch one message at a time and records each outcome before it transmits the
next message: in the ledger itself (in-process), or in its append-only journal (workers), which
the parent folds into the ledger when the batch comes back and replays at the start of a run
after a crash. So at any instant at most one message per connection has been accepted by the
server without its outcome being recorded: a crash, even SIGKILL, repeats at most `connections`
messages and loses none, because `sending` rows are sent again on resume (a `sending` row that
was never transmitted is simply sent then, not duplicated)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Protocol

from ..errors import DeliveryError
from ..models import DeliveryResult, Subscriber
from ..state import ledger
from ..state.db import Database
from . import journal
from .batch import BatchReport


class Pool(Protocol):
    """Slots that each deliver one batch of rows at a time (pool.py)."""

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


def replay_journals(db: Database, issue_id: str, folder: Path | None) -> int:
    """Fold in what a killed run recorded only in its workers' journals; returns outcomes."""
    count = 0
    for path in journal.leftovers(folder, issue_id):
        outcomes = journal.read(path)
        ledger.fold(db, issue_id, outcomes)
        count += len(outcomes)
        journal.empty(path)  # not unlink: this run's workers may have it open already
    return count


def batch_size(pending_rows: int, slots: int) -> int:
    """Rows per hand-over: big enough that the parent is not the bottleneck, small enough
    that every slot gets work and a stop request is honoured within a fraction of a second."""
    return max(1, min(64, pending_rows // (slots * 4) or 1))


def send_issue(db: Database, issue_id: str, pool: Pool,
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
    replay_journals(db, issue_id, journal_dir)
    before = ledger.counts(db, issue_id).get("sent", 0)
    ledger.enqueue(db, issue_id)
    total = ledger.count_pending(db, issue_id, resend_failed)
    if on_start:
        on_start(total)
    size = batch_size(total, pool.size)
    rows = ledger.pending(db, issue_id, resend_failed)
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
                batch = ledger.claim(db, issue_id, batch)
                if batch:
                    slot = idle.pop()
                    busy.add(slot)
                    pool.submit(slot, batch)
            if not busy:
                break
            for slot, report in pool.wait(None):
                _settle(db, issue_id, pool, slot, report)
                busy.discard(slot)
                idle.append(slot)
                for outcome in report.outcomes:
                    tally[ledger.outcome_status(outcome)] += 1
                    if on_progress:
                        on_progress(outcome.result)
                if report.fatal and fatal is None:
                    fatal = report
    except BaseException:
        _drain(db, issue_id, pool, busy)
        raise
    if fatal is not None:
        raise DeliveryError(f"delivery stopped: {fatal.fatal}",
                            hint=(fatal.hint or "check [delivery.smtp] in the config") +
                            "; the ledger is intact: run `digest send` again to resume")
    remaining = ledger.count_pending(db, issue_id)
    return SendSummary(issue_id, tally["sent"], tally["failed"], tally["bounced"], before,
                       remaining)


def _settle(db: Database, issue_id: str, pool: Pool, slot: int,
            report: BatchReport) -> None:
    if report.recorded:
        ledger.fold(db, issue_id, (), report.unsent)
    else:
        ledger.fold(db, issue_id, report.outcomes, report.unsent)
    pool.settled(slot)


def _drain(db: Database, issue_id: str, pool: Pool, busy: set[int],
           timeout: float = 60.0) -> None:
    """On Ctrl-C or an error: let the slots finish (and record) the batch they hold."""
    deadline = time.monotonic() + timeout
    try:
        while busy and time.monotonic() < deadline:
            for slot, report in pool.wait(max(0.0, deadline - time.monotonic())):
                busy.discard(slot)
                _settle(db, issue_id, pool, slot, report)
    except Exception:  # noqa: BLE001 - best effort; journals are replayed next run
        pass
