"""Delivery and the subscriber list: send, subscribers import/add/remove/list."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .. import subscribers as subs
from ..run import db, make_transport
from ..run import send as send_issue
from ..weeks import parse_now
from . import AppContext, echo, main, pass_app, week_option
from .issue_cmds import resolve_week


@main.command()
@week_option
@click.option("--resend-failed", is_flag=True, help="Retry messages that failed earlier.")
@pass_app
def send(app: AppContext, week: str | None, resend_failed: bool) -> None:
    """Deliver a built issue to every active subscriber; resumes where it stopped."""
    week = resolve_week(app, week)
    transport = make_transport(app.config)
    try:
        summary = send_issue(app.config, week, parse_now(None), transport, resend_failed)
    finally:
        transport.close()
    echo(f"{week}: {summary.sent} sent, {summary.failed} failed, {summary.bounced} bounced, "
         f"{summary.remaining} remaining ({summary.already_sent} sent before)")
    if summary.failed:
        raise SystemExit(1)


@main.group()
def subscribers() -> None:
    """Manage the subscriber list (SQLite in the state folder)."""


@subscribers.command("import")
@click.argument("csv_file", type=click.Path(path_type=Path))
@pass_app
def subscribers_import(app: AppContext, csv_file: Path) -> None:
    """Import FILE.csv (header row with `email`, optionally `name`)."""
    conn = db(app.config)
    try:
        report = subs.import_csv(conn, csv_file)
    finally:
        conn.close()
    echo(f"{csv_file}: {report.added} added, {report.updated} updated, "
         f"{report.unchanged} unchanged, {len(report.kept)} kept as they were, "
         f"{len(report.rejected)} rejected")
    for line, email, status in report.kept:
        echo(f"  line {line}: {email} stays {status} (an import never re-subscribes)")
    for line, reason in report.rejected:
        echo(f"  line {line}: rejected: {reason}")


@subscribers.command("add")
@click.argument("email")
@click.option("--name", help="The subscriber's name (used in the greeting).")
@pass_app
def subscribers_add(app: AppContext, email: str, name: str | None) -> None:
    """Add one active subscriber."""
    conn = db(app.config)
    try:
        subscriber, outcome = subs.add(conn, email, name)
    finally:
        conn.close()
    echo(f"{subscriber.email}: {outcome} ({subscriber.status})")


@subscribers.command("remove")
@click.argument("email")
@pass_app
def subscribers_remove(app: AppContext, email: str) -> None:
    """Unsubscribe one address (kept on file so no import brings it back)."""
    conn = db(app.config)
    try:
        subscriber = subs.remove(conn, email)
    finally:
        conn.close()
    echo(f"{subscriber.email}: {subscriber.status}")


@subscribers.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON array instead of a table.")
@click.option("--status", type=click.Choice(subs.STATUSES), help="Only this status.")
@pass_app
def subscribers_list(app: AppContext, as_json: bool, status: str | None) -> None:
    """List subscribers."""
    conn = db(app.config)
    try:
        rows = subs.list_subscribers(conn, status)
    finally:
        conn.close()
    if as_json:
        echo(json.dumps([{"email": s.email, "name": s.name, "status": s.status} for s in rows],
                        ensure_ascii=False, indent=2))
        return
    for s in rows:
        echo(f"{s.email:<40} {s.status:<13} {s.name or ''}")
    echo(f"{len(rows)} subscriber(s)")
