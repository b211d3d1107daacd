"""The weekly job: run."""

from __future__ import annotations

import click

from ..run import run_job
from ..weeks import parse_now
from . import AppContext, echo, main, now_option, pass_app, week_option
from .issue_cmds import print_build_summary, resolve_week


@main.command()
@week_option
@now_option
@click.option("--dry-run", is_flag=True, help="Build and check, then show who would get it.")
@pass_app
def run(app: AppContext, week: str | None, now: str | None, dry_run: bool) -> None:
    """The weekly job: fetch, build, check, send, archive. Safe to repeat."""
    moment = parse_now(now)
    week = resolve_week(app, week, now)
    outcome = run_job(app.config, week, moment, dry_run=dry_run)
    print_build_summary(app, outcome.build)
    if outcome.send is None:
        echo(f"  delivery: {outcome.message}")
    else:
        s = outcome.send
        echo(f"  delivered: {s.sent} new message(s) to subscribers"
             f" ({s.already_sent} already sent earlier, {s.failed} failed,"
             f" {s.bounced} bounced, {s.remaining} remaining)")
        if outcome.outbox:
            echo(f"  outbox: {outcome.outbox}")
    if not outcome.ok:
        raise SystemExit(1)
