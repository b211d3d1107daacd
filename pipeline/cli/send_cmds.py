"""Delivery and the subscriber list: send, subscribers import/add/remove/list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..state.statuses import SubscriberStatus
from .app import (
    AppContext,
    echo,
    force_resend_option,
    main,
    pass_app,
    resolve_week,
    week_option,
    writes_state,
)
from .signals import stop_on_signals

if TYPE_CHECKING:
    from ..state.handle import State

# The library is imported inside each command: `digest --help` loads none of it.


@main.command()
@week_option
@click.option("--to", "to_address", metavar="EMAIL",
              help="Send one test copy to EMAIL only (subject prefixed \"[TEST] \"); the "
                   "ledger is not touched.")
@click.option("--dry-run", is_flag=True,
              help="Show who would get the issue (count and first addresses); send nothing.")
@click.option("--resend-failed", is_flag=True,
              help="Also retry messages that failed earlier (bounced addresses never are).")
@force_resend_option
@pass_app
@writes_state
def send(app: AppContext, week: str | None, to_address: str | None, dry_run: bool,
         resend_failed: bool, force_resend: bool) -> None:
    """Deliver a built issue to every active subscriber; resumes where it stopped.

    Every message is recorded in the ledger (var/digest.sqlite3): after a crash or Ctrl-C,
    run it again and it sends only what is left. Exits 1 when messages failed or the server
    could not be reached, and when the archive (issues/<week>/delivery.json) records more of
    the week's delivery than the ledger does (a lost database, an older backup): restore the
    latest backup, or pass --force-resend.
    """
    from ..weeks import parse_now

    week = resolve_week(app, week)
    with app.state(parse_now(None)) as state:
        _send(state, week, to_address, dry_run, resend_failed, force_resend)


def _send(state: State, week: str, to_address: str | None, dry_run: bool,
          resend_failed: bool, force_resend: bool) -> None:
    from ..delivery.transports import open_transport
    from ..jobs.send import failed_waiting, send, send_plan, send_test_copy
    from .progress import SendProgress

    if dry_run:
        subject, count, first = send_plan(state, week, resend_failed,
                                          force_resend=force_resend)
        echo(f"{week}: would send \"{subject}\" to {count} subscriber(s)"
             + (":" if first else ""))
        for address in first:
            echo(f"  {address}")
        if count > len(first):
            echo(f"  … and {count - len(first)} more")
        return
    transport = open_transport(state.config)
    try:
        if to_address:
            outcome = send_test_copy(state, week, to_address, transport)
            result = outcome.result
            if not result.ok:
                echo(f"{week}: test copy to {result.recipient} not sent: {result.detail}",
                     err=True)
                raise SystemExit(1)
            echo(f"{week}: test copy sent to {result.recipient} ({outcome.message_id})")
            return
        progress = SendProgress(f"sending {week}")
        try:
            with stop_on_signals() as stop:
                summary = send(state, week, transport, resend_failed, on_progress=progress,
                               on_start=progress.start, should_stop=stop.is_set,
                               force_resend=force_resend)
        finally:
            progress.stop()
    finally:
        transport.close()
    echo(f"{week}: {summary.sent} sent, {summary.failed} failed, {summary.bounced} bounced, "
         f"{summary.remaining} remaining ({summary.already_sent} sent before)")
    if not resend_failed:
        _say_failed(week, summary.failed, failed_waiting(state, week))
    if summary.remaining and stop.is_set():
        echo("stopped by a signal after the messages in flight; `digest send` resumes")
    if summary.failed:
        raise SystemExit(1)


def _say_failed(week: str, failed_now: int, waiting: int) -> None:
    """After a plain send: the messages that failed (earlier, or in this run) and how to
    retry them; a plain send never does."""
    earlier = waiting - failed_now
    retry = f"`digest send --week {week} --resend-failed` retries them"
    if earlier > 0:
        echo(f"{week}: {earlier} message(s) failed earlier and were not retried: {retry}")
    if failed_now > 0:
        echo(f"{week}: {failed_now} message(s) failed now: {retry}")


@main.group()
def subscribers() -> None:
    """Manage the subscriber list (SQLite in the state folder)."""


@subscribers.command("import")
@click.argument("csv_file", type=click.Path(path_type=Path))
@pass_app
@writes_state
def subscribers_import(app: AppContext, csv_file: Path) -> None:
    """Import FILE.csv: a header row with an email column, optionally name and status.

    Reads the exports of Mailchimp, Substack, Buttondown and listmonk as they come. Rows the
    file marks unsubscribed, cleaned, bounced, blocklisted or complained are recorded so,
    never as active. One transaction: an interrupted import changes nothing. Rejected rows are
    listed with their line (the header is line 1).
    """
    from ..state import subscribers as subs

    with app.state() as state:
        report = subs.import_csv(state.db, csv_file)
    echo(f"{csv_file}: {report.added} added, {report.updated} updated, "
         f"{report.unchanged} unchanged, {len(report.kept)} kept as they were, "
         f"{len(report.rejected)} rejected")
    echo(f"  read: {', '.join(report.columns)}")
    for status, outcomes in report.by_status.items():
        words = ", ".join(f"{label!r} {count}" for label, count in report.labels[status].items()
                          if label)
        done = ", ".join(f"{count} {outcome}" for outcome, count in outcomes.items())
        echo(f"  {status}{f' ({words})' if words else ''}: "
             f"{sum(outcomes.values())} row(s): {done}")
    for line, email, status in report.kept:
        echo(f"  line {line}: {email} stays {status} (an import never re-subscribes)")
    for line, email, was, now in report.suppressed:
        echo(f"  line {line}: {email} was {was}, now {now} (as the file says)")
    for line, reason in report.rejected:
        echo(f"  line {line}: rejected: {reason}")


@subscribers.command("add")
@click.argument("email")
@click.option("--name", help="The subscriber's name (used in the greeting).")
@click.option("--force", is_flag=True,
              help="Re-activate an address that unsubscribed, bounced or complained (only "
                   "with the reader's consent).")
@pass_app
@writes_state
def subscribers_add(app: AppContext, email: str, name: str | None, force: bool) -> None:
    """Add one active subscriber.

    An address that unsubscribed, bounced or complained stays as it is unless --force is
    given: the reader said no, and mailing them again hurts the sender's reputation.
    """
    from ..state import subscribers as subs

    with app.state() as state:
        subscriber, outcome = subs.add(state.db, email, name, revive=force)
    echo(f"{subscriber.email}: {outcome} ({subscriber.status})")


@subscribers.command("remove")
@click.argument("email")
@pass_app
@writes_state
def subscribers_remove(app: AppContext, email: str) -> None:
    """Unsubscribe one address (kept on file so no import brings it back)."""
    from ..state import subscribers as subs

    with app.state() as state:
        subscriber = subs.remove(state.db, email)
    echo(f"{subscriber.email}: {subscriber.status}")


@subscribers.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON array instead of a table.")
@click.option("--status", type=click.Choice([s.value for s in SubscriberStatus]),
              help="Only this status.")
@pass_app
def subscribers_list(app: AppContext, as_json: bool, status: str | None) -> None:
    """List subscribers, and why each one who left did (with --json: every field and
    timestamp, and "reason": kind, source, detail, at, issue_id)."""
    from ..state import subscribers as subs

    with app.state() as state:
        rows = list(subs.iter_rows(state.db, status, reasons=True))
    if as_json:
        echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        line = f"{printable(row['email']):<40} {row['status']:<13} {printable(row['name'] or '')}"
        reason = row["reason"]
        if reason:
            detail = f": {reason['detail']}" if reason["detail"] else ""
            line += printable(f"  ({reason['source']}, {reason['at'][:10]}{detail})"[:160])
        echo(line.rstrip())
    echo(f"{len(rows)} subscriber(s)")


def printable(text: str) -> str:
    """`text` safe for a terminal: control and format characters (ESC sequences, CR, BEL,
    bidi overrides…) are shown escaped, as Python writes them (\\x1b, \\u202e), so a
    name cannot move the cursor, recolour the screen or reorder the line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
