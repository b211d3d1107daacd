"""Pools of delivery slots for loop.send_issue: one slot in-process, or N worker processes.

Composing MIME and talking SMTP hold the GIL, so parallel connections need processes: each
worker (forked, so it inherits the prepared Composer and the DKIM key without pickling) owns one
SMTP connection. It receives a batch of rows over a pipe and records each outcome in its own
journal (journal.py) before it transmits the next message (batch.deliver_batch);
the parent, which owns the SQLite ledger, folds the batch in when it comes back. A worker dies
with its parent (PR_SET_PDEATHSIG): after a SIGKILL of `digest send` no orphan keeps sending
beside the next run. The rate limit is one token bucket in shared memory, so it holds across
all workers.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from ..models import OutgoingMessage, Subscriber
from ..state import ledger
from ..state.db import Database
from . import journal
from .batch import BatchReport, RetryPolicy, deliver_batch
from .transports.base import Transport

Compose = Callable[[Subscriber], OutgoingMessage]
Ledger = Callable[[], Database]  # opens this process's own connection to the ledger


class Pacer:
    """At most `rate` transmissions per second, shared by every process that holds it: the
    next free moment lives in a multiprocessing.Value (CLOCK_MONOTONIC is system-wide)."""

    def __init__(self, rate: float, shared: Any = None) -> None:
        self.interval = 1.0 / rate
        self._next = shared if shared is not None else multiprocessing.Value("d", 0.0)

    def __call__(self) -> None:
        with self._next.get_lock():
            now = time.monotonic()
            at = max(now, self._next.value)
            self._next.value = at + self.interval
        if at > now:
            time.sleep(at - now)


def make_pacer(rate: float) -> Pacer | None:
    return Pacer(rate) if rate > 0 else None


class LocalPool:
    """One slot, in this process: the Maildir outbox, or SMTP over a single connection."""

    size = 1

    def __init__(self, transport: Transport, compose: Compose, policy: RetryPolicy,
                 ledger: Ledger, issue_id: str, rate: float = 0.0) -> None:
        self.transport = transport
        self.compose = compose
        self.policy = policy
        self.issue_id = issue_id
        self.pace = make_pacer(rate)
        self._ledger = ledger
        self._db: Database | None = None
        self._ready: list[tuple[int, BatchReport]] = []

    def submit(self, slot: int, batch: list[Subscriber]) -> None:
        if self._db is None:
            self._db = self._ledger()
        db = self._db
        report = deliver_batch(batch, self.compose, self.transport, self.policy,
                               lambda outcome: ledger.record(db, self.issue_id, outcome), True,
                               self.pace)
        self._ready.append((slot, report))

    def wait(self, timeout: float | None) -> list[tuple[int, BatchReport]]:
        ready, self._ready = self._ready, []
        return ready

    def settled(self, slot: int) -> None:
        pass  # each outcome was committed as it came

    def close(self) -> None:
        if self._db is not None:  # the transport belongs to the caller
            self._db.close()
            self._db = None


def _die_with_parent(parent_pid: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _worker(pipe: Connection, make_transport: Callable[[], Transport], compose: Compose,
            policy: RetryPolicy, journal_file: Path, pace: Pacer | None,
            parent_pid: int) -> None:
    _die_with_parent(parent_pid)
    # Ctrl-C and SIGTERM reach the whole process group: the parent decides, the worker
    # finishes its batch and reports it (it dies with the parent in any case).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    transport = make_transport()
    log = journal.Journal(journal_file)
    try:
        while True:
            try:
                job = pipe.recv()
            except (EOFError, OSError):
                return
            if job is None:
                return
            batch = [Subscriber(*row) for row in job]
            pipe.send(deliver_batch(batch, compose, transport, policy, log, False, pace))
    finally:
        transport.close()
        log.close()


class ProcessPool:
    """`size` worker processes, each with its own transport (one SMTP connection)."""

    def __init__(self, size: int, make_transport: Callable[[], Transport], compose: Compose,
                 policy: RetryPolicy, journal_dir: Path, issue_id: str,
                 rate: float = 0.0) -> None:
        context = multiprocessing.get_context("fork")
        pace = Pacer(rate, context.Value("d", 0.0)) if rate > 0 else None
        self.size = size
        self._pipes: list[Connection] = []
        self._procs: list[Any] = []
        self._busy: dict[int, list[Subscriber]] = {}  # slot → its batch
        self._journals = [journal.journal_path(journal_dir, issue_id, i) for i in range(size)]
        for i in range(size):
            parent_end, child_end = context.Pipe()
            proc = context.Process(target=_worker, name=f"digest-send-{i}", daemon=True,
                                   args=(child_end, make_transport, compose, policy,
                                         self._journals[i], pace, os.getpid()))
            proc.start()
            child_end.close()
            self._pipes.append(parent_end)
            self._procs.append(proc)

    def submit(self, slot: int, batch: list[Subscriber]) -> None:
        self._busy[slot] = batch
        self._pipes[slot].send([(s.id, s.email, s.name, s.status) for s in batch])

    def wait(self, timeout: float | None) -> list[tuple[int, BatchReport]]:
        slot_of = {id(self._pipes[slot]): slot for slot in self._busy}
        ready = wait([self._pipes[slot] for slot in self._busy], timeout)
        reports = []
        for pipe in ready:
            slot = slot_of[id(pipe)]
            self._busy.pop(slot)
            try:
                report = pipe.recv()
            except (EOFError, OSError):
                self._procs[slot].join(timeout=5)
                detail = f"delivery worker {slot} died (exit {self._procs[slot].exitcode})"
                # Its journal holds what it sent; the rest of its batch stays `sending`.
                report = BatchReport(tuple(journal.read(self._journals[slot])), False, (),
                                     detail, "see the error printed above")
            reports.append((slot, report))
        return reports

    def settled(self, slot: int) -> None:
        journal.empty(self._journals[slot])

    def close(self) -> None:
        for pipe in self._pipes:
            try:
                pipe.send(None)
            except OSError:
                pass
        for proc in self._procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for pipe in self._pipes:
            pipe.close()
        for path in self._journals:  # every batch was folded in (else a crash leaves them)
            if path.exists() and path.stat().st_size == 0:
                path.unlink()


def open_pool(transport: Transport, compose: Compose, policy: RetryPolicy, ledger: Ledger,
              journal_dir: Path, issue_id: str, rate: float = 0.0):
    """N processes when the transport declares several connections, else one local slot."""
    connections = transport.capabilities.connections
    if connections > 1:
        return ProcessPool(connections, transport.clone, compose, policy, journal_dir, issue_id,
                           rate)
    return LocalPool(transport, compose, policy, ledger, issue_id, rate)
