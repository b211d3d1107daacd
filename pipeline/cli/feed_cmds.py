"""Feeds and the editor's excerpts: fetch, curate add, curate list."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from .app import AppContext, echo, main, now_option, pass_app, writes_state

if TYPE_CHECKING:
    from ..models import FeedReport

# The library is imported inside each command: `digest --help` loads none of it.


@main.command()
@now_option
@pass_app
@writes_state
def fetch(app: AppContext, now: str | None) -> None:
    """Fetch every feed and print a table of their health.

    Conditional: a feed unchanged since the last fetch answers 304 and its stored entries are
    reused. Status is ok, not_modified, stale (no new item for [fetch] stale_weeks), failed or
    gone (HTTP 410)."""
    from ..jobs.build import Timings, fetch_and_parse
    from ..weeks import parse_now

    with app.state(parse_now(now)) as state:
        _, reports = fetch_and_parse(state, Timings())
    echo(feed_table(reports))


def feed_table(reports: list[FeedReport]) -> str:
    """The per-feed health table (also what `digest run -v` may print)."""
    width = max([4, *(len(r.name) for r in reports)])
    width = min(width, 40)
    lines = [f"{'feed':<{width}}  {'status':<12} {'http':>4} {'entries':>7} {'new':>5} "
             f"{'bytes':>9} {'secs':>6}  error / note"]
    for r in reports:
        detail = "; ".join(d for d in (r.error, r.note) if d)
        lines.append(f"{r.name[:width]:<{width}}  {r.status:<12} {r.http_status or '':>4} "
                     f"{r.entries:>7} {r.new:>5} {r.bytes:>9} {r.seconds:>6.2f}  {detail}")
    failed = [r for r in reports if r.status in ("failed", "gone")]
    lines.append(f"{len(reports)} feed(s): {len(reports) - len(failed)} ok, "
                 f"{len(failed)} failed; {sum(r.new for r in reports)} new item(s)")
    return "\n".join(lines)


@main.group()
def curate() -> None:
    """The editor's excerpts in the curated folder."""


@curate.command("list")
@pass_app
def curate_list(app: AppContext) -> None:
    """List the excerpts in the editor's order."""
    from ..curation.excerpts import load_excerpts

    config = app.config
    excerpts = load_excerpts(config.existing_curated_dir(),
                                     {s.id for s in config.sections})
    if not excerpts:
        echo(f"No excerpts in {config.curated_dir}.")
    for e in excerpts:
        echo(f"{e.added.date()}  {e.section:<12} {e.title}  ({e.source})  {e.path.name}")


@curate.command("add")
@click.argument("url")
@click.option("--title", help="The article's title (without it the page is fetched and its "
              "meta tags are read).")
@click.option("--quote", help="The passage to quote (default: the page's description).")
@click.option("--note", help="Your one-line comment, shown under the excerpt.")
@click.option("--section", help="Section id (default: guessed from the section keywords).")
@now_option
@pass_app
@writes_state
def curate_add(app: AppContext, url: str, title: str | None, quote: str | None,
               note: str | None, section: str | None, now: str | None) -> None:
    """Add an excerpt file for URL to the curated folder."""
    from ..curation.add import add_excerpt
    from ..curation.excerpts import parse_excerpt
    from ..weeks import parse_now

    path = add_excerpt(app.config, url, title=title, quote=quote, note=note, section=section,
                       now=parse_now(now))
    excerpt = parse_excerpt(path, {s.id for s in app.config.sections})
    echo(f"Added {path}")
    echo(f"  {excerpt.title} ({excerpt.source}) → {excerpt.section}")
