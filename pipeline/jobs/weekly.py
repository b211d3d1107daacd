"""The weekly job (`digest run`, `digest schedule`): build, decide, send, report.

It reads as the pipeline: `plan_week` and `gate` decide (pure: they return values), the job
acts on what they say. A frozen or approved week is not rebuilt; a thin week (fewer than
[schedule] min_new_items new items) is skipped and its items roll over; in approval mode an
unapproved issue is never sent; every run ends with report.json and an email to the editor.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from threading import Event

from ..archive import files as archive
from ..config import Config
from ..delivery.loop import SendSummary
from ..delivery.transports import open_transport
from ..errors import CheckFailed, PipelineError, UsageError
from ..state import issues, ledger, subscribers
from ..state.handle import State
from ..state.statuses import IssueStatus
from ..weeks import parse_week
from . import feedback, guard, stats
from .build import BuildResult, archived_result, build, check_built
from .calendar import Decision, previous_week, send_at
from .report import DeliveryCounts, RunReport, RunStatus, log_outcome, send_to_editor
from .send import ledger_summary, send

# Named as before the move: log shippers may filter on it.
log = logging.getLogger("pipeline.weekly")


@dataclass(frozen=True)
class RunOutcome:
    build: BuildResult
    send: SendSummary | None
    ok: bool
    message: str = ""
    outbox: Path | None = None
    status: RunStatus = RunStatus.SENT
    report: RunReport | None = None  # as written to report.json
    editor: str = ""  # what became of the editor's report email


# --------------------------------------------------------------------------- decisions


@dataclass(frozen=True)
class WeekPlan:
    """Where a run starts from, decided before anything is built."""

    frozen: bool  # delivery started (ledger or archive): the archived issue, never rebuilt
    fixed: bool  # frozen or approved: the archived issue is the one to send
    late_draft: bool  # approval mode past the send time: the unapproved draft stays as it was
    waiting: bool  # approval mode: approved, but its send time has not come


def plan_week(config: Config, week: str, now: datetime, status: IssueStatus | None,
              frozen: bool) -> WeekPlan:
    approval = config.schedule.mode == "approval"
    due = now >= send_at(config, week)
    return WeekPlan(
        frozen=frozen,
        fixed=frozen or status == IssueStatus.APPROVED,
        # Past the send time, an unapproved draft is skipped as it was, not rebuilt (and its
        # feeds fetched again) first.
        late_draft=approval and status in (IssueStatus.BUILT, IssueStatus.SKIPPED) and due,
        # An approved issue goes out at its send time, not earlier: a cron line at the build
        # time must not send what the editor approved ahead of it.
        waiting=approval and status == IssueStatus.APPROVED and not frozen and not due)


@dataclass(frozen=True)
class Verdict:
    """What the job does with the built issue: send it (`status` None) or not, and why."""

    status: RunStatus | None
    message: str = ""
    skip_week: bool = False  # record the week as skipped: its items roll over

    @property
    def send(self) -> bool:
        return self.status is None


def _when(config: Config, week: str) -> str:
    return f"{send_at(config, week).astimezone(config.newsletter.tz):%A %Y-%m-%d %H:%M %Z}"


def gate(config: Config, week: str, now: datetime, plan: WeekPlan, new_items: int,
         check_ok: bool, dry_run: bool, would_get: int) -> Verdict:
    """Whether this run sends. Skips a thin week and, in approval mode, an unapproved one
    (only a draft before its send time); an approved issue waiting for its send time stays
    as it is. A dry run decides the same, and records nothing."""
    would = "dry run: would be " if dry_run else ""
    minimum = config.schedule.min_new_items
    # A thin week is skipped before its check counts: an empty issue fails the check
    # (empty-issue), but a week skipped for want of items is the expected outcome (exit 0).
    if not plan.fixed and new_items < minimum:
        return Verdict(RunStatus.SKIPPED,
                       f"{would}skipped: {new_items} new item(s), fewer than [schedule]"
                       f" min_new_items = {minimum}; they roll over to the next issue",
                       skip_week=not dry_run)
    if not check_ok:
        return Verdict(RunStatus.NOT_SENT,
                       "not sent: the issue fails its check (see `digest check`)")
    if plan.waiting:
        return Verdict(RunStatus.APPROVED,
                       f"approved, not sent yet: it goes out at {_when(config, week)}")
    if not plan.fixed and config.schedule.mode == "approval":
        when = _when(config, week)
        if now < send_at(config, week):
            return Verdict(RunStatus.DRAFT,
                           f"draft built, not sent: approve it with `digest approve {week}`"
                           f" before its send time, {when}")
        return Verdict(RunStatus.SKIPPED,
                       f"{would}skipped: not approved by its send time ({when}); its"
                       " items roll over to the next issue", skip_week=not dry_run)
    if dry_run:
        return Verdict(RunStatus.DRY_RUN,
                       f"dry run: would send to {would_get} active subscriber(s)")
    return Verdict(None)


# --------------------------------------------------------------------------- the job


def rollover_config(state: State, week: str, limit: int = 8) -> Config:
    """After skipped weeks, look back far enough that their feed items roll over."""
    config = state.config
    skipped = 0
    for _ in range(limit):
        week = previous_week(week)
        if issues.status(state.db, week) != IssueStatus.SKIPPED:
            break
        skipped += 1
    if not skipped:
        return config
    lookback = config.issue.lookback_days + 7 * skipped
    return replace(config, issue=replace(config.issue, lookback_days=lookback))


def run_job(state: State, week: str, dry_run: bool = False,
            should_stop: Callable[[], bool] | None = None, notify: bool = True,
            force_resend: bool = False) -> RunOutcome:
    """The weekly job: build, decide, send, report.

    Once delivery of a week has started, or the editor approved it, its issue is frozen: a
    re-run sends the archived issue instead of rebuilding it. A week whose delivery the
    archive records but the ledger does not (a lost database, an older backup) is not sent
    again (StaleStateError) unless `force_resend`. Every run except a dry one ends with
    report.json and an email to the editor. `should_stop` (a signal) ends the send after the
    message in flight.
    """
    config, now = state.config, state.now
    notify_editor = notify and not dry_run
    subscribers.seed(state.db, config.subscribers.seed_csv)
    frozen = guard.started(state, week)
    if frozen:
        _check_state(state, week, force_resend, notify_editor)
    plan = plan_week(config, week, now, issues.status(state.db, week), frozen)
    would_get = ledger.plan(state.db, week, sample=0)[0]  # for a dry run
    result = _built(state, week, plan, notify_editor)
    verdict = gate(config, week, now, plan, len(result.issue.items), result.check.ok, dry_run,
                   would_get)
    if verdict.skip_week:
        issues.mark_skipped(state.db, week)
    summary: SendSummary | None = None
    timings: dict[str, float] = {}
    status, message = verdict.status, verdict.message
    if verdict.send:
        summary, seconds = _send(state, week, result, should_stop, force_resend, notify)
        timings["send"] = seconds
        # Rows left (a stop signal) or failed: not done; the next run resumes without resending.
        # A complete send refreshed the static archive (jobs/send.py).
        status = (RunStatus.SENT if summary.failed == 0 and summary.remaining == 0
                  else RunStatus.PARTIAL)
        if summary.remaining and should_stop is not None and should_stop():
            message = (f"stopped by a signal with {summary.remaining} message(s) left;"
                       " the next run resumes without resending")
    assert status is not None
    report, editor = _finish(state, week, result, status, message, summary, timings,
                             notify_editor)
    outbox = config.state_dir / "outbox" if config.delivery.transport == "maildir" else None
    ok = status not in (RunStatus.NOT_SENT, RunStatus.PARTIAL)
    return RunOutcome(result, summary, ok, message, outbox if summary else None, status,
                      report, editor)


def _built(state: State, week: str, plan: WeekPlan, notify: bool) -> BuildResult:
    """The week's issue: the archived one when it may not change, else a new build (the
    editor hears of a build that fails, e.g. a malformed excerpt file: they must know)."""
    if plan.fixed or plan.late_draft:
        return archived_result(state, week)
    try:
        return build(state, week, rollover_config(state, week))
    except PipelineError as exc:
        if notify:
            _tell_editor(state, week, "not built", exc)
        raise


def _send(state: State, week: str, result: BuildResult,
          should_stop: Callable[[], bool] | None, force_resend: bool,
          notify: bool) -> tuple[SendSummary, float]:
    """Send the week; a failure (the relay went away…) still writes the report, saying how
    far the send got, before it is raised."""
    transport = open_transport(state.config)
    started = time.perf_counter()
    try:
        return (send(state, week, transport, should_stop=should_stop,
                     force_resend=force_resend),
                round(time.perf_counter() - started, 4))
    except PipelineError as exc:
        sofar = ledger_summary(state, week)
        status, message = ((RunStatus.PARTIAL, f"stopped: {exc.message}; the next run resumes")
                           if sofar.sent else
                           (RunStatus.NOT_SENT, f"not sent: {exc.message}"))
        try:
            _finish(state, week, result, status, message, sofar,
                    {"send": round(time.perf_counter() - started, 4)}, notify)
        except PipelineError as also:  # e.g. the disk is full: the first error counts
            log.warning("%s: report.json not written: %s", week, also.message)
        raise
    finally:
        transport.close()


def _check_state(state: State, week: str, force_resend: bool, notify: bool) -> None:
    """A frozen week whose ledger is behind the archive's delivery record stops the job
    before anything is built or sent; the editor is told."""
    try:
        guard.check(state, week, force_resend, command="run")
    except PipelineError as exc:
        if notify:
            _tell_editor(state, week, "not sent", exc)
        raise


def _tell_editor(state: State, week: str, what: str, exc: PipelineError) -> None:
    """The editor's report of a job stopped before its report.json (`what`: not built…)."""
    hint = f" ({exc.hint})" if exc.hint else ""
    send_to_editor(state.config, RunReport(week, status=RunStatus.NOT_SENT,
                                           message=f"{what}: {exc.message}{hint}"), state.now)


def _finish(state: State, week: str, result: BuildResult, status: RunStatus, message: str,
            summary: SendSummary | None, timings: dict[str, float],
            notify: bool) -> tuple[RunReport, str]:
    """Write report.json and tell the editor."""
    config = state.config
    stored = archive.read_report(config.archive_dir, week)
    report = (RunReport.from_json(stored) if stored is not None else
              RunReport.of_build(result.issue, result.feeds, result.check, result.timings))
    report = report.finished(status=status, message=message, mode=config.schedule.mode,
                             new_items=len(result.issue.items),
                             delivery=DeliveryCounts.of(summary) if summary else None,
                             timings=timings)
    report = replace(report, results=_last_results(state, week),
                     feedback=feedback.recent(state, week))
    editor = send_to_editor(config, report, state.now) if notify else ""
    if editor:
        report = replace(report, editor_report=editor)
    archive.write_report(config.archive_dir, week, report.to_json())
    log_outcome(report)
    return report, editor


def _last_results(state: State, week: str) -> dict | None:
    """Clicks settled (kept, pruned), then last week's results for the report. Figures never
    stop the job: a failure is logged and the report goes without them."""
    try:
        stats.settle(state)
        return stats.last_results(state, week)
    except PipelineError as exc:
        log.warning("%s: last week's results left out of the report: %s", week, exc.message)
        return None


# --------------------------------------------------------------------------- around the job


def approve(state: State, week: str) -> str:
    """`digest approve`: mark a built draft as approved for sending; returns what happened."""
    parse_week(week)
    status = issues.status(state.db, week)
    if status is None:
        raise UsageError(f"issue {week} has not been built",
                         hint=f"run `digest build --week {week}` first, review it, approve")
    if status == IssueStatus.APPROVED:
        return "already approved"
    if status in (IssueStatus.SENT, IssueStatus.SENDING):
        raise UsageError(f"issue {week} is already {status}; nothing to approve")
    if status == IssueStatus.SKIPPED:
        raise UsageError(f"issue {week} was skipped; its items roll over to the next issue",
                         hint="approve the next week's draft instead")
    if not check_built(state, week).ok:
        raise CheckFailed(f"issue {week} fails its check and cannot be approved",
                          hint=f"run `digest check --week {week}` and fix the issue")
    issues.approve(state.db, week)
    return "approved"


def scheduled(config: Config, stop: Event) -> Callable[[Decision, datetime], bool]:
    """The weekly job as `digest schedule` runs it: a State of its own at the tick's time; a
    signal (`stop`) ends its send after the message in flight. True when it went well."""
    def job(decision: Decision, now: datetime) -> bool:
        with State(config, now) as state:
            return run_job(state, decision.week, should_stop=stop.is_set).ok
    return job
