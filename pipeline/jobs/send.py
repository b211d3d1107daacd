"""Send: a checked, built issue to every active reader through the ledger (resumable), one
test copy, or the plan of a dry run. Where delivery meets the state and the archive."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..archive.site import write_site
from ..config import Config
from ..config.inbound import verp_template
from ..delivery.batch import RetryPolicy, deliver_one
from ..delivery.loop import SendSummary, send_issue
from ..delivery.pool import open_pool
from ..delivery.transports.base import Transport
from ..errors import CheckFailed, DeliveryError, PipelineError, UsageError
from ..inbound.verp import return_path, sign_verp
from ..mail.check import check_rendered
from ..mail.compose import Composer, make_composer
from ..mail.dkim import load_signer
from ..models import Outcome, Subscriber
from ..state import clicks, issues, ledger, subscribers
from ..state.db import Database
from ..state.handle import State
from ..state.statuses import IssueStatus
from . import guard
from .build import load_rendered

log = logging.getLogger("pipeline.send")


def retry_policy(config: Config) -> RetryPolicy:
    return RetryPolicy(config.delivery.max_attempts, config.delivery.retry_backoff_seconds)


def ensure_sendable(state: State, week: str) -> None:
    """`digest send` never sends a skipped week (its items rolled over to the next issue) nor,
    in approval mode, an unapproved one; a delivery already under way (as the ledger or the
    archive knows) always resumes."""
    if guard.started(state, week):
        return
    status = issues.status(state.db, week)
    if status == IssueStatus.SKIPPED:
        raise UsageError(f"issue {week} was skipped: its items roll over to the next issue,"
                         " so sending it would repeat them",
                         hint=f"`digest run --week {week}` rebuilds the week and sends it if"
                              " it is due")
    if state.config.schedule.mode == "approval" and status != IssueStatus.APPROVED:
        raise UsageError(f"issue {week} is not approved ([schedule] mode = \"approval\")",
                         hint=f"review it, then `digest approve {week}`")


def composer(state: State, week: str, subject_prefix: str = "") -> Composer:
    """The checked issue prepared for composing. CheckFailed when it fails its check."""
    config = state.config
    rendered = load_rendered(config, week, state.key)
    report = check_rendered(config, rendered, state.key)
    if not report.ok:
        raise CheckFailed(f"issue {week} fails its check: " + "; ".join(report.errors),
                          hint=f"run `digest check --week {week}` and fix the issue")
    signer = load_signer(config.delivery.dkim)
    # Aggregate click tokens hash the reader with the issue's own key: kept until the send
    # is complete (a resumed send must make the same hashes), then dropped.
    click_key = clicks.click_key(state.db, week) if config.tracking.clicks == "aggregate" \
        else None
    envelope = verp_envelope(verp_template(config.delivery.return_path), state.key, week)
    return make_composer(config, rendered, state.key, state.now, subject_prefix, signer,
                         click_key, envelope)


def verp_envelope(template: str | None, key: bytes, week: str) -> Callable[[str], str] | None:
    """reader ref → the VERP return path naming this delivery (one HMAC per message), or None
    when [delivery] return_path has no {token}."""
    if template is None:
        return None
    return lambda ref: return_path(template, sign_verp(key, ref, week))


def send(state: State, week: str, transport: Transport, resend_failed: bool = False,
         on_progress: Callable[[Any], None] | None = None, *,
         should_stop: Callable[[], bool] | None = None,
         on_start: Callable[[int], None] | None = None,
         force_resend: bool = False) -> SendSummary:
    """Deliver a built issue to every active subscriber through the ledger; resumable. With
    several SMTP connections the workers are forked here, while no SQLite connection is
    open. The archive's delivery record (archive/record.py) is written before the first
    message goes out, and the issue marked `sending`; a ledger behind the record stops the
    send (StaleStateError) unless `force_resend`."""
    config = state.config
    ensure_sendable(state, week)  # the database is migrated before any worker opens it
    previous = guard.check(state, week, force_resend)
    prepared = composer(state, week)
    state.release()  # no connection crosses the fork of the delivery workers
    journals = config.state_dir / "journal"
    pool = open_pool(transport, prepared.compose, retry_policy(config),
                     lambda: Database.open(config.db_path, migrate=False), journals, week,
                     config.delivery.rate_limit)
    try:
        record = guard.recorder(state, week, previous, force_resend)

        def started(total: int) -> None:
            issues.start_delivery(state.db, week)
            if on_start is not None:
                on_start(total)

        complete = False
        try:
            summary = send_issue(state.db, week, pool, resend_failed,
                                 record.then(on_progress), record.first(started),
                                 should_stop=should_stop, journal_dir=journals)
            complete = summary.remaining == 0 and summary.failed == 0
            if complete:
                issues.mark_sent(state.db, week)
                clicks.drop_key(state.db, week)  # no click of the week can be tied to a reader
                refresh_site(state)
            return summary
        finally:
            record.end(complete)
    finally:
        pool.close()


def refresh_site(state: State) -> list[Path]:
    """The static archive once a week is sent (whatever sent it: `digest send`, `run`,
    `schedule`): its page, the index and the feed, so the email's "view online" link works on
    a static host at once. The send is done either way: a failure here is logged, and
    `digest site` writes the archive again."""
    try:
        return write_site(state.config, state.key, issues.sent(state.db))
    except PipelineError as exc:
        log.warning("the static archive was not refreshed: %s (run `digest site`)", exc.message)
        return []


def send_test_copy(state: State, week: str, address: str, transport: Transport) -> Outcome:
    """`digest send --to`: one copy, subject prefixed "[TEST] ", personalised as the
    subscriber with that address would get it (or as a stranger). Never touches the ledger."""
    address = subscribers.normalize_email(address)
    prepared = composer(state, week, subject_prefix="[TEST] ")
    known = subscribers.get(state.db, address)
    reader = known or Subscriber(id=0, email=address, name=None, status="active")
    outcome = deliver_one(reader, lambda s: prepared.compose(s, recipient=address),
                          transport, retry_policy(state.config))
    if outcome.fatal:
        raise DeliveryError(outcome.fatal, hint=outcome.hint)
    return outcome


def send_plan(state: State, week: str, resend_failed: bool = False,
              sample: int = 5, force_resend: bool = False) -> tuple[str, int, list[str]]:
    """`digest send --dry-run`: (subject, how many would get it now, the first addresses).
    A ledger behind the archive's record stops it as it would stop the send."""
    rendered = load_rendered(state.config, week)
    guard.check(state, week, force_resend)
    count, first = ledger.plan(state.db, week, resend_failed, sample)
    return rendered.issue.subject, count, first


def failed_waiting(state: State, week: str) -> int:
    """Messages of the week that failed after every try, to readers still active: a plain
    `digest send` leaves them alone, `--resend-failed` retries them."""
    return (ledger.count_pending(state.db, week, resend_failed=True)
            - ledger.count_pending(state.db, week))


def ledger_summary(state: State, week: str) -> SendSummary:
    """The week's whole ledger as a SendSummary (every message sent so far counts as sent)."""
    counts = ledger.counts(state.db, week)
    return SendSummary(week, counts.get("sent", 0), counts.get("failed", 0),
                       counts.get("bounced", 0), 0, ledger.count_pending(state.db, week))
