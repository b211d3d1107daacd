"""Commands about built issues: build, check, issues list/show."""

from __future__ import annotations

import json

import click

from .app import (
    AppContext,
    echo,
    main,
    now_option,
    pass_app,
    print_build_summary,
    resolve_week,
    week_option,
    writes_state,
)

# The library is imported inside each command: `digest --help` loads none of it.



@main.command()
@week_option
@now_option
@pass_app
@writes_state
def build(app: AppContext, week: str | None, now: str | None) -> None:
    """Assemble and render the issue into issues/<week>/; send nothing."""
    from ..jobs.build import build as build_issue
    from ..weeks import parse_now

    week = resolve_week(app, week, now)
    with app.state(parse_now(now)) as state:
        result = build_issue(state, week)
    print_build_summary(result)


@main.command()
@week_option
@click.option("--links", is_flag=True,
              help="Also request every outbound link; one that fails or times out is a warning.")
@pass_app
def check(app: AppContext, week: str | None, links: bool) -> None:
    """Pre-flight checks of a built issue; exit 1 on any error.

    Errors: missing unsubscribe link, relative or non-http(s) link, image without alt text,
    leftover placeholder (TK, TODO, {{, %%), empty section, empty or over-long subject or
    preheader, encoded message over 95 KB, an item of the HTML missing from the text part.
    """
    from ..jobs.build import check_built

    week = resolve_week(app, week)
    with app.state() as state:
        report = check_built(state, week, links=links)
    for warning in report.warnings:
        echo(f"warning: {warning}")
    for error in report.errors:
        echo(f"error: {error}")
    size = report.facts.get("encoded_bytes", 0)
    if report.ok:
        echo(f"{week}: check passed ({len(report.warnings)} warning(s); "
             f"{size:,} bytes encoded)")
    else:
        echo(f"{week}: check failed with {len(report.errors)} error(s)")
        raise SystemExit(1)


@main.command()
@week_option
@click.option("--serve", is_flag=True, help="Serve the preview on 127.0.0.1 until Ctrl-C.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port for --serve (0 picks a free one).")
@click.option("--png", is_flag=True,
              help="Also save screenshots at 375 and 600 px (headless Chromium).")
@pass_app
def preview(app: AppContext, week: str | None, serve: bool, port: int, png: bool) -> None:
    """Write issues/<week>/preview.html (the email at 600 and 375 px, and its text part)."""
    from ..archive import files as archive
    from ..jobs.build import load_rendered
    from ..mail.preview import preview_server, screenshots, write_preview

    config = app.config
    week = resolve_week(app, week)
    rendered = load_rendered(config, week)
    folder = archive.issue_dir(config.archive_dir, week)
    with app.state() as state:
        key = state.key
    path = write_preview(config, rendered, key, folder)
    echo(f"Preview: {path}")
    if png:
        for shot in screenshots(config, rendered, key, folder):
            layout = (f"overflows: {shot.scroll_width}px wide" if shot.overflows
                      else "no horizontal scrolling")
            echo(f"  {shot.width}px {shot.scheme}: {shot.path} ({layout}; lowest text "
                 f"contrast {shot.min_contrast}:1)")
            for src in shot.images_outside:
                echo(f"    image outside the viewport: {src}")
    if serve:
        server = preview_server(path.parent, "127.0.0.1", port)
        host, bound = server.server_address[:2]
        echo(f"Serving at http://{host}:{bound}/preview.html (Ctrl-C to stop)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()


@main.group()
def issues() -> None:
    """List and show built issues."""


@issues.command("list")
@pass_app
def issues_list(app: AppContext) -> None:
    """Every built issue, oldest first, with its status."""
    from ..archive import files as archive
    from ..state import issues as issue_table

    with app.state() as state:
        statuses = issue_table.statuses(state.db)
    found = archive.list_issues(app.config.archive_dir)
    if not found:
        echo("No issue has been built yet: run `digest build`.")
    for issue in found:
        echo(f"{issue.id}  #{issue.number:<4} {statuses.get(issue.id, 'built'):<9} "
             f"{len(issue.items):>2} items  {issue.subject}")


@issues.command("show")
@click.argument("week")
@click.option("--json", "as_json", is_flag=True, help="Print issue.json as it is stored.")
@pass_app
def issues_show(app: AppContext, week: str, as_json: bool) -> None:
    """Show one built issue: subject, sections and items."""
    from ..archive import files as archive
    from ..weeks import parse_week

    parse_week(week)
    issue = archive.read_issue(app.config.archive_dir, week)
    if as_json:
        echo(json.dumps(issue.to_json(), ensure_ascii=False, indent=2))
        return
    echo(f"{issue.id} · #{issue.number} · {issue.date.isoformat()}")
    echo(f"Subject:   {issue.subject}")
    echo(f"Preheader: {issue.preheader}")
    for section in issue.sections:
        echo(f"\n{section.title}")
        for item in section.items:
            echo(f"  [{item.kind}] {item.title}\n      {item.url}  ({item.source})")
    echo(f"\nFiles: {archive.issue_dir(app.config.archive_dir, week)}")
