"""The archive's own record of a week's delivery, `issues/<week>/delivery.json`, kept outside
the state database so that losing the database (or restoring an older backup) never sends a
week again.

It holds no personal data (the archive is public): when delivery started, when the last send
ended, how many messages had been sent, and whether everyone got the issue. It is written
atomically after the rows are queued and before the first message is handed to a transport,
rewritten every few seconds while the send runs, and when the send ends (done, stopped or
failed). A send then compares it with the ledger (`problem`; jobs/guard.py asks): a week
whose delivery started is never sent from a ledger that knows less than the archive.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import ArchiveError, PipelineError, StaleStateError
from ..models import DeliveryResult
from ..weeks import utcnow
from . import files as archive

PROGRESS_EVERY_SECONDS = 2.0
SENT_STATUSES = ("sent", "partial")  # report.json statuses of a week whose send began

# Named as before the move: log shippers may filter on it.
log = logging.getLogger("pipeline.sendrecord")


@dataclass(frozen=True)
class SendRecord:
    week: str
    started_at: str | None  # None: derived from an older report.json (see files.py)
    updated_at: str | None
    ended_at: str | None  # None while a send runs, or when it was killed
    sent: int  # messages accepted so far, as the ledger counted them
    complete: bool  # every reader queued for the week got it
    forced_at: str | None = None  # the last `--force-resend`

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SendRecord:
        sent = data["sent"]
        if not isinstance(sent, int) or isinstance(sent, bool) or sent < 0:
            raise ValueError(f"sent must be a count, not {sent!r}")
        return cls(week=str(data["week"]), started_at=data.get("started_at"),
                   updated_at=data.get("updated_at"), ended_at=data.get("ended_at"),
                   sent=sent, complete=bool(data.get("complete")),
                   forced_at=data.get("forced_at"))


def load(archive_dir: Path, week: str) -> SendRecord | None:
    """What the archive knows of the week's delivery: delivery.json, else (an archive written
    before delivery.json existed) report.json's outcome of a run that sent messages; None when
    delivery never started. ArchiveError when delivery.json is damaged."""
    data = archive.read_delivery_record(archive_dir, week)
    if data is not None:
        try:
            return SendRecord.from_json(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ArchiveError(f"{archive.record_path(archive_dir, week)} is damaged ({exc!r})",
                               hint="it records that the delivery of this week started;"
                                    " restore it from your copy of the archive") from exc
    report = archive.read_report(archive_dir, week) or {}
    delivery = report.get("delivery")
    if report.get("status") not in ("sent", "partial") or not isinstance(delivery, dict):
        return None
    sent = sum(v for k, v in delivery.items()
               if k in ("sent", "already_sent") and isinstance(v, int))
    return SendRecord(week, None, None, None, sent, report.get("status") == "sent")


def delivered_weeks(archive_dir: Path) -> list[str]:
    """Weeks whose delivery started as the archive knows it: a delivery record (written before
    the first message, also by a bare `digest send`), or, for weeks sent before records
    existed, a report.json that says so (an unreadable report is skipped)."""
    weeks = {path.parent.name for path in archive_dir.glob(f"*/{archive.RECORD_FILE}")}
    for report_path in sorted(archive_dir.glob("*/report.json")):
        report = archive.read_report(archive_dir, report_path.parent.name) or {}
        delivery = report.get("delivery")
        delivered = isinstance(delivery, dict) and any(
            isinstance(delivery.get(k), int) and delivery[k] > 0
            for k in ("sent", "already_sent"))
        if delivered or report.get("status") in SENT_STATUSES:
            weeks.add(report_path.parent.name)
    return sorted(weeks)


def problem(record: SendRecord | None, ledger_knows: bool, ledger_sent: int) -> str | None:
    """Why the ledger must not be trusted to send this week, or None. `ledger_knows`: the
    ledger has rows for the week (or marks it sent); `ledger_sent`: its messages sent."""
    if record is None:
        return None
    recorded = f"records that its delivery started ({record.sent} message(s) sent)"
    if not ledger_knows:
        return f"{recorded}, but the state database has no delivery for it"
    if ledger_sent < record.sent:
        return f"{recorded}, but the state database counts only {ledger_sent}"
    return None


def stale_state_error(week: str, record_path: Path, db_path: Path, why: str,
                      command: str) -> StaleStateError:
    return StaleStateError(
        f"issue {week}: {record_path} {why}: {db_path} looks lost or restored from an older"
        " backup, and sending now would mail readers a second time",
        hint=f"restore the latest backup (`digest backup` copies; README, \"Backup and"
             f" restore\") and run again; or, knowing readers may get it twice,"
             f" `digest {command} --week {week} --force-resend`")


class Recorder:
    """Keeps delivery.json up to date during one send. `write` stores a record (the archive);
    `ledger_sent` counts the ledger's sent rows (outcomes are folded in before progress is
    reported, so the count is exact)."""

    def __init__(self, week: str, previous: SendRecord | None, forced: bool,
                 write: Callable[[SendRecord], None], ledger_sent: Callable[[], int]) -> None:
        self.week = week
        self.previous = previous
        self.forced = forced
        self._write = write
        self._ledger_sent = ledger_sent
        self.record: SendRecord | None = None
        self._written = 0.0

    def start(self) -> None:
        """Before the first message: must be durable, so a failure stops the send."""
        now = utcnow()
        sent = self._ledger_sent()
        previous = self.previous
        if previous is not None and not self.forced:
            sent = max(sent, previous.sent)
        self.record = SendRecord(
            self.week, (previous.started_at if previous else None) or now, now, None, sent,
            False, now if self.forced else (previous.forced_at if previous else None))
        self._write(self.record)
        self._written = time.monotonic()

    def first(self, on_start: Callable[[int], None] | None) -> Callable[[int], None]:
        """loop.send_issue's `on_start` (called once the rows are queued, before the first
        message is handed out): record the start, then call `on_start`."""
        def hook(total: int) -> None:
            self.start()
            if on_start is not None:
                on_start(total)
        return hook

    def then(self, on_progress: Callable[[DeliveryResult], None] | None
             ) -> Callable[[DeliveryResult], None]:
        """loop.send_issue's `on_progress`: keep the record current, then `on_progress`."""
        def hook(result: DeliveryResult) -> None:
            self.progress(result)
            if on_progress is not None:
                on_progress(result)
        return hook

    def progress(self, result: DeliveryResult) -> None:
        if self.record is None or time.monotonic() - self._written < PROGRESS_EVERY_SECONDS:
            return
        self._update(ended=False, complete=False)

    def end(self, complete: bool) -> None:
        """When the send ends: done, stopped by a signal, or failed."""
        if self.record is not None:
            self._update(ended=True, complete=complete)

    def _update(self, ended: bool, complete: bool) -> None:
        assert self.record is not None
        now = utcnow()
        try:
            sent = max(self.record.sent, self._ledger_sent())
        except Exception:  # noqa: BLE001 - the ledger failed: keep the last count
            sent = self.record.sent
        self.record = replace(self.record, updated_at=now, ended_at=now if ended else None,
                              sent=sent, complete=complete)
        self._written = time.monotonic()
        try:
            self._write(self.record)
        except PipelineError as exc:  # the record at start holds; the send goes on
            log.warning("%s: delivery record not updated: %s", self.week, exc.message)
