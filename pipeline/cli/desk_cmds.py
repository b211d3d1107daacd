"""The editor's desk: candidates, pick, drop, and the desk page itself."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from .app import AppContext, echo, info, main, now_option, pass_app, resolve_week, week_option

if TYPE_CHECKING:
    from ..issue.candidates import CandidateRow
    from ..jobs.edits import EditResult

# The library is imported inside each command: `digest --help` loads none of it.


@main.command()
@week_option
@now_option
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON array of rows (id, url, title, source, section, score, "
                   "keywords, status, in_draft, reason, duplicates…).")
@pass_app
def candidates(app: AppContext, week: str | None, now: str | None, as_json: bool) -> None:
    """List the week's feed items that could go in, ranked, with why and whether the draft has
    them. Reads the stored feed entries (`digest fetch` refreshes them): no network."""
    from ..jobs.desk import load_review
    from ..weeks import parse_now

    week = resolve_week(app, week, now)
    with app.state(parse_now(now)) as state:
        week_review = load_review(state, week)
    rows = week_review.review.rows
    if as_json:
        echo(json.dumps([row.to_json() for row in rows], ensure_ascii=False, indent=2))
        return
    included = sum(1 for row in rows if row.in_draft)
    echo(f"{week}: {len(rows)} candidate(s), {included} in the draft"
         + (" (delivery has started: the issue can no longer change)"
            if week_review.frozen else ""))
    for row in rows:
        echo(_row_line(row))
    if not rows:
        echo("  none: `digest fetch` stores the feeds' newest entries (nothing is fetched here)")


def _row_line(row: CandidateRow) -> str:
    mark = {"picked": "P", "included": "✓", "dropped": "✗", "out": "·"}[row.status]
    entry = row.entry
    lines = [f"{row.rank:>3} {row.id}  {mark} {row.score:6.3f}  {row.section or '-':<12} "
             f"{entry.title}", f"{'':>15}{entry.feed_name} · {entry.url}"]
    why = []
    if row.keywords:
        why.append("keywords: " + ", ".join(row.keywords))
    if row.copies:
        why.append("also in: " + ", ".join(c.source for c in row.copies))
    if row.reason:
        why.append(("vetoed: " if row.status == "dropped" else "out: ") + row.reason)
    elif row.status == "dropped":
        why.append("vetoed")
    if why:
        lines.append(f"{'':>15}" + "; ".join(why))
    return "\n".join(lines)


def _print_edit(app: AppContext, result: EditResult) -> None:
    echo(result.message)
    for note in result.notes:
        info(app, f"  {note}")


@main.command()
@click.argument("item")
@week_option
@click.option("--section", help="Section id (default: the section its keywords match).")
@click.option("--note", help="Your one-line comment, shown under the excerpt (\"\" removes it).")
@click.option("--order", type=int, help="Its place among the excerpts: lower comes first.")
@now_option
@pass_app
def pick(app: AppContext, item: str, week: str | None, section: str | None, note: str | None,
         order: int | None, now: str | None) -> None:
    """Put ITEM (a candidate's id, or its URL) into the week's issue as an excerpt file in the
    curated folder, pinned to the week; an item already picked gets the new section, note or
    order. Refused (exit 2) once the week's delivery has started."""
    from ..jobs.edits import pick as pick_item
    from ..weeks import parse_now

    week = resolve_week(app, week, now)
    with app.state(parse_now(now)) as state:
        result = pick_item(state, week, item, section=section, note=note, order=order)
    _print_edit(app, result)


@main.command()
@click.argument("item")
@week_option
@click.option("--reason", help="Why, kept after the URL in curated/_drops/<week>.txt.")
@click.option("--undo", is_flag=True, help="Lift the veto instead.")
@now_option
@pass_app
def drop(app: AppContext, item: str, week: str | None, reason: str | None, undo: bool,
         now: str | None) -> None:
    """Keep ITEM (a candidate's id, or a URL) out of the week's issue: its canonical URL goes
    into curated/_drops/<week>.txt, so it stays out under any feed or URL variant. Refused
    (exit 2) once the week's delivery has started."""
    from ..jobs.edits import drop as drop_item
    from ..weeks import parse_now

    week = resolve_week(app, week, now)
    with app.state(parse_now(now)) as state:
        result = drop_item(state, week, item, reason=reason, undo=undo)
    _print_edit(app, result)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on; any but loopback needs [desk] password_hash_env.")
@click.option("--port", default=8090, show_default=True, type=click.IntRange(1, 65535),
              help="TCP port to listen on.")
@now_option
@pass_app
def desk(app: AppContext, host: str, port: int, now: str | None) -> None:
    """Serve the editor's desk: the week's candidates beside the issue as it will be, pick,
    drop, note, reorder, the preview at 375 and 600 px, the checks, Approve."""
    from ..web.desk import desk_password_hash, serve_desk
    from ..weeks import parse_now

    config = app.config
    password_hash = desk_password_hash(config, host)  # refuses an open non-loopback desk
    pinned = parse_now(now) if now else None
    info(app, f"the editor's desk on http://{host}:{port}/"
              + (" (login required)" if password_hash else " (loopback, no login)")
              + "; Ctrl-C stops")
    serve_desk(config, host, port, password_hash, pinned)
