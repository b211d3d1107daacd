"""Feeds and the editor's excerpts: fetch, curate list."""

from __future__ import annotations

from .. import curated
from ..run import Timings, fetch_and_parse
from . import AppContext, echo, main, pass_app


@main.command()
@pass_app
def fetch(app: AppContext) -> None:
    """Fetch every feed and print a table of their health."""
    _, reports = fetch_and_parse(app.config, Timings())
    echo(f"{'feed':<32} {'status':<12} {'http':>4} {'entries':>7} {'bytes':>9} {'secs':>6}  error")
    for r in reports:
        echo(f"{r.name[:32]:<32} {r.status:<12} {r.http_status or '':>4} {r.entries:>7} "
             f"{r.bytes:>9} {r.seconds:>6.2f}  {r.error or ''}")


@main.group()
def curate() -> None:
    """The editor's excerpts in the curated folder."""


@curate.command("list")
@pass_app
def curate_list(app: AppContext) -> None:
    """List the excerpts in the editor's order."""
    config = app.config
    excerpts = curated.load_excerpts(config.curated_dir, {s.id for s in config.sections})
    if not excerpts:
        echo(f"No excerpts in {config.curated_dir}.")
    for e in excerpts:
        echo(f"{e.added.date()}  {e.section:<12} {e.title}  ({e.source})  {e.path.name}")
