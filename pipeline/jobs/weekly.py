"""The weekly job (`digest run`, `digest schedule`): build, decide, send, report.

The policy the scheduler relies on lives here, on top of the orchestrator's stages (run.py):
a frozen or approved week is not rebuilt; a thin week (fewer than [schedule] min_new_items new
items) is skipped and its items roll over; in approval mode an unapproved issue is never sent;
every run ends with report.json and an email to the editor.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from ..archive import files as archive
from ..archive import record as sendrecord
from ..config import Config
from ..delivery import loop as deliver
from ..errors import PipelineError
from .build import (
    BuildResult,
    archived_result,
    build,
    build_report,
    db,
    make_transport,
    seed_subscribers,
    send,
)
from .report import complete, delivery_counts, log_outcome, send_to_editor
from .scheduler import mark_skipped, send_at, skipped_weeks_before, week_status

# Named as before the move: log shippers may filter on it.
log = logging.getLogger("pipeline.weekly")


@dataclass(frozen=True)
class RunOutcome:
    build: BuildResult
    send: deliver.SendSummary | None
    ok: bool
    message: str = ""
    outbox: Path | None = None
    status: str = "sent"  # sent | partial | draft | approved | skipped | not_sent | dry_run
    report: dict[str, Any] = field(default_factory=dict)  # as written to report.json
    editor: str = ""  # what became of the editor's report email


def rollover_config(config: Config, conn: sqlite3.Connection, week: str) -> Config:
    """After skipped weeks, look back far enough that their feed items roll over."""
    skipped = skipped_weeks_before(conn, week)
    if not skipped:
        return config
    lookback = config.issue.lookback_days + 7 * skipped
    return replace(config, issue=replace(config.issue, lookback_days=lookback))


def _skip(config: Config, week: str) -> None:
    conn = db(config)
    try:
        mark_skipped(conn, week)
    finally:
        conn.close()


def _when(config: Config, week: str) -> str:
    return f"{send_at(config, week).astimezone(config.newsletter.tz):%A %Y-%m-%d %H:%M %Z}"


def _gate(config: Config, week: str, now: datetime, result: BuildResult, fixed: bool,
          dry_run: bool, waiting: bool = False) -> tuple[str, str] | None:
    """Why this run must not send: (status, message), or None to go ahead. Skips a thin week
    and, in approval mode, an unapproved one (only a draft before its send time); an approved
    issue `waiting` for its send time stays as it is."""
    would = "dry run: would be " if dry_run else ""
    new_items, minimum = len(result.issue.items), config.schedule.min_new_items
    # A thin week is skipped before its check counts: an empty issue fails the check
    # (empty-issue), but a week skipped for want of items is the expected outcome (exit 0).
    if not fixed and new_items < minimum:
        if not dry_run:
            _skip(config, week)
        return "skipped", (f"{would}skipped: {new_items} new item(s), fewer than [schedule]"
                           f" min_new_items = {minimum}; they roll over to the next issue")
    if not result.check.ok:
        return "not_sent", "not sent: the issue fails its check (see `digest check`)"
    if waiting:
        return "approved", f"approved, not sent yet: it goes out at {_when(config, week)}"
    if fixed:
        return None
    if config.schedule.mode == "approval":
        when = _when(config, week)
        if now < send_at(config, week):
            return "draft", (f"draft built, not sent: approve it with `digest approve {week}`"
                             f" before its send time, {when}")
        if not dry_run:
            _skip(config, week)
        return "skipped", (f"{would}skipped: not approved by its send time ({when}); its"
                           " items roll over to the next issue")
    return None


def run_job(config: Config, week: str, now: datetime, dry_run: bool = False,
            should_stop: Callable[[], bool] | None = None, notify: bool = True,
            force_resend: bool = False) -> RunOutcome:
    """The weekly job: build, decide, send, report.

    Once delivery of a week has started, or the editor approved it, its issue is frozen: a
    re-run sends the archived issue instead of rebuilding it. A week whose delivery the
    archive records but the ledger does not (a lost database, an older backup) is not sent
    again (StaleStateError) unless `force_resend`. A week with fewer than [schedule]
    min_new_items new items is skipped and its items roll over; in approval mode an
    unapproved issue is never sent. Every run except a dry one ends with report.json and an
    email to the editor. `should_stop` (a signal) ends the send after the message in flight.
    """
    conn = db(config)
    try:
        seed_subscribers(conn, config)
        frozen = sendrecord.started(config, conn, week)
        if frozen:
            _check_state(config, conn, week, now, force_resend, notify and not dry_run)
        state = week_status(conn, week)
        fixed = frozen or state == "approved"
        # Approval mode, past the send time: the unapproved draft is skipped as it was, not
        # rebuilt (and fetched again) first.
        late_draft = (config.schedule.mode == "approval" and state in ("built", "skipped")
                      and now >= send_at(config, week))
        would_get = deliver.plan(conn, week, sample=0)[0]  # for a dry run
        build_config = rollover_config(config, conn, week)
    finally:
        conn.close()
    if fixed or late_draft:
        result = archived_result(config, week)
    else:
        try:
            result = build(build_config, week, now)
        except PipelineError as exc:  # e.g. a malformed excerpt file: the editor must know
            if notify and not dry_run:
                hint = f" ({exc.hint})" if exc.hint else ""
                send_to_editor(config, {"id": week, "status": "not_sent",
                                        "message": f"not built: {exc.message}{hint}"}, now)
            raise
    summary: deliver.SendSummary | None = None
    timings: dict[str, float] = {}
    # Approval mode sends an approved issue at its send time, not earlier (a cron line at the
    # build time must not send what the editor approved ahead of it).
    waiting = (config.schedule.mode == "approval" and state == "approved" and not frozen
               and now < send_at(config, week))
    gate = _gate(config, week, now, result, fixed, dry_run, waiting)
    if gate is not None:
        status, message = gate
        ok = status != "not_sent"
    elif dry_run:
        status, ok = "dry_run", True
        message = f"dry run: would send to {would_get} active subscriber(s)"
    else:
        transport = make_transport(config)
        started = time.perf_counter()
        try:
            summary = send(config, week, now, transport, should_stop=should_stop,
                           force_resend=force_resend)
        except PipelineError as exc:  # the relay went away…: say how far the send got
            sofar = _ledger_summary(config, week)
            status, message = (("partial", f"stopped: {exc.message}; the next run resumes")
                               if sofar.sent else ("not_sent", f"not sent: {exc.message}"))
            try:
                _finish(config, week, now, result, status, message, sofar,
                        {"send": round(time.perf_counter() - started, 4)}, notify)
            except PipelineError as also:  # e.g. the disk is full: the first error counts
                log.warning("%s: report.json not written: %s", week, also.message)
            raise
        finally:
            transport.close()
        timings["send"] = round(time.perf_counter() - started, 4)
        # Rows left (a stop signal) or failed: not done; the next run resumes without resending.
        ok = summary.failed == 0 and summary.remaining == 0
        status = "sent" if ok else "partial"
        if status == "sent":  # the static archive (issues/index.html, feed.xml) lists it now
            from ..archive import site

            site.write_site(config)
        message = ""
        if summary.remaining and should_stop is not None and should_stop():
            message = (f"stopped by a signal with {summary.remaining} message(s) left;"
                       " the next run resumes without resending")
    report, editor = _finish(config, week, now, result, status, message, summary, timings,
                             notify and not dry_run)
    outbox = config.state_dir / "outbox" if config.delivery.transport == "maildir" else None
    return RunOutcome(result, summary, ok, message, outbox if summary else None, status,
                      report, editor)


def _check_state(config: Config, conn: sqlite3.Connection, week: str, now: datetime,
                 force_resend: bool, notify: bool) -> None:
    """A frozen week whose ledger is behind the archive's delivery record stops the job
    before anything is built or sent; the editor is told."""
    try:
        sendrecord.check(config, conn, week, force_resend, command="run")
    except PipelineError as exc:
        if notify:
            hint = f" ({exc.hint})" if exc.hint else ""
            send_to_editor(config, {"id": week, "status": "not_sent",
                                    "message": f"not sent: {exc.message}{hint}"}, now)
        raise


def _ledger_summary(config: Config, week: str) -> deliver.SendSummary:
    """The week's whole ledger as a SendSummary (every message sent so far counts as sent)."""
    conn = db(config)
    try:
        c = deliver.counts(conn, week)
        remaining = deliver.count_pending(conn, week)
    finally:
        conn.close()
    return deliver.SendSummary(week, c.get("sent", 0), c.get("failed", 0), c.get("bounced", 0),
                               0, remaining)


def _finish(config: Config, week: str, now: datetime, result: BuildResult, status: str,
            message: str, summary: deliver.SendSummary | None, timings: dict[str, float],
            notify: bool) -> tuple[dict[str, Any], str]:
    """Write report.json and tell the editor."""
    report = archive.read_report(config.archive_dir, week) or build_report(result)
    complete(report, status=status, message=message, mode=config.schedule.mode,
             new_items=len(result.issue.items), delivery=delivery_counts(summary),
             timings=timings)
    editor = send_to_editor(config, report, now) if notify else ""
    if editor:
        report["editor_report"] = editor
    archive.write_report(config.archive_dir, week, report)
    log_outcome(report)
    return report, editor
