"""Clicks, growth and readers' privacy: `digest stats`, `digest subscribers forget`."""

from __future__ import annotations

from pathlib import Path

import click

from .app import AppContext, echo, main, pass_app, writes_state
from .send_cmds import subscribers


@main.command()
@click.option("--week", metavar="YYYY-Www",
              help="The issue to report (default: the latest one sent).")
@click.option("--weeks", type=click.IntRange(1, 520), default=8, show_default=True,
              help="Issues (and weeks of growth) over which rates and growth are shown.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a private report page with charts to FILE (readable offline).")
@click.option("--sponsor", metavar="YYYY-Www",
              help="Print the sponsor-ready summary of that week's sponsor block.")
@pass_app
def stats(app: AppContext, week: str | None, weeks: int, as_json: bool,
          html_file: Path | None, sponsor: str | None) -> None:
    """Clicks (human and machine), click-through per section and source, list growth.

    Machine clicks (mail security scanners, link previews, prefetches) are filtered and
    counted apart; see README, "Clicks and statistics".
    """
    import json

    from ..errors import UsageError
    from ..jobs import stats as job
    from ..stats import render_stats, report_html, sponsor_summary, stats_json, write_report
    from ..weeks import parse_week, week_id

    with app.state() as state:
        if sponsor is not None:
            parse_week(sponsor)
            found = job.issue_clicks(state, sponsor)
            summary = sponsor_summary(found.stats) if found else None
            if summary is None:
                raise UsageError(f"issue {sponsor} has no tracked sponsor link",
                                 hint="the sponsor block comes from curated/_sponsors/"
                                      f"{sponsor}.md and is counted with [tracking] clicks on")
            for line in summary.lines():
                echo(line)
            return
        if week is not None:
            parse_week(week)
        chosen = week or job.default_week(state)
        found = job.issue_clicks(state, chosen)
        if found is None:
            raise UsageError(f"issue {chosen} is not in the archive",
                             hint="`digest issues list` shows the built issues")
        history = job.history(state, chosen, weeks) or [found.stats]
        this_week = week_id(state.now, state.config.newsletter.tz)
        growth = job.growth(state, chosen if week else max(chosen, this_week), weeks)
        if html_file is not None:
            page = report_html(history, growth, f"{state.config.newsletter.name}: statistics",
                               state.now.isoformat(timespec="seconds"))
            write_report(html_file, page)
            echo(f"report written to {html_file} (private: it holds your click counts)")
        if as_json:
            data = stats_json(found.stats, growth, history)
            data.update(job.stats_json_extra(found))
            echo(json.dumps(data, indent=2, ensure_ascii=False))
        elif html_file is None:
            from rich.console import Console

            render_stats(Console(), found.stats, history, growth)
            if found.reasons:
                echo("Why clicks were machine: " + ", ".join(
                    f"{reason} {count:,}" for reason, count in found.reasons.items()))


@subscribers.command("forget")
@click.argument("email")
@pass_app
@writes_state
def subscribers_forget(app: AppContext, email: str) -> None:
    """Erase EMAIL's data everywhere (address, name, history, clicks); keep only what stops
    mail to them (the address's digest, unsubscribed). Says what it erased."""
    from ..state.forget import forget

    with app.state() as state:
        for line in forget(state.db, email).lines():
            echo(line)
