"""The weekly job and its unattended operation: run, schedule, approve."""

from __future__ import annotations

import click

from .app import (
    AppContext,
    echo,
    force_resend_option,
    main,
    now_option,
    pass_app,
    print_build_summary,
    resolve_week,
    week_option,
    writes_state,
)
from .signals import stop_on_signals

# The library is imported inside each command: `digest --help` loads none of it.


@main.command()
@week_option
@now_option
@click.option("--dry-run", is_flag=True, help="Build and check, then show who would get it.")
@force_resend_option
@pass_app
@writes_state
def run(app: AppContext, week: str | None, now: str | None, dry_run: bool,
        force_resend: bool) -> None:
    """The weekly job: fetch, build, check, send, archive. Safe to repeat.

    A week whose delivery the archive records (issues/<week>/delivery.json) but the state
    database does not is not sent again: exit 1, unless --force-resend.
    """
    from ..jobs.weekly import run_job
    from ..weeks import parse_now

    moment = parse_now(now)
    week = resolve_week(app, week, now)
    with stop_on_signals() as stop, app.state(moment) as state:
        outcome = run_job(state, week, dry_run=dry_run, should_stop=stop.is_set,
                          force_resend=force_resend)
    print_build_summary(outcome.build)
    if outcome.send is None:
        echo(f"  delivery: {outcome.message}")
    else:
        s = outcome.send
        echo(f"  delivered: {s.sent} new message(s) to subscribers"
             f" ({s.already_sent} already sent earlier, {s.failed} failed,"
             f" {s.bounced} bounced, {s.remaining} remaining)")
        if outcome.message:
            echo(f"  {outcome.message}")
        if outcome.outbox:
            echo(f"  outbox: {outcome.outbox}")
    if outcome.editor:
        echo(f"  editor's report: {outcome.editor}")
    if not outcome.ok:
        raise SystemExit(1)


@main.command()
@pass_app
def schedule(app: AppContext) -> None:
    """Stay in the foreground and run the weekly job when it is due ([schedule] in config).

    A job missed while it was down runs at once (run_missed_on_start). SIGTERM or SIGINT
    finish the message in flight and exit 0. The state lock is held only while a job runs.
    """
    from ..jobs.scheduler import ScheduleLoop
    from ..jobs.weekly import scheduled

    config = app.config
    s = config.schedule
    echo(f"digest schedule: {s.mode} mode, {s.weekday} {s.time} {config.newsletter.timezone};"
         " Ctrl-C or SIGTERM stops it", err=True)
    with stop_on_signals() as stop:
        jobs = ScheduleLoop(config, stop, scheduled(config, stop)).run_forever()
    echo(f"digest schedule stopped after {jobs} job(s)", err=True)


@main.command()
@click.argument("week")
@pass_app
@writes_state
def approve(app: AppContext, week: str) -> None:
    """Approve the built draft of WEEK (e.g. 2026-W48) for sending (approval mode)."""
    from ..jobs.calendar import send_at
    from ..jobs.weekly import approve as approve_week
    from ..weeks import parse_week

    parse_week(week)
    config = app.config
    with app.state() as state:
        outcome = approve_week(state, week)
    due = send_at(config, week).astimezone(config.newsletter.tz)
    echo(f"{week}: {outcome}; it goes out at its send time, {due:%A %Y-%m-%d %H:%M %Z}")
