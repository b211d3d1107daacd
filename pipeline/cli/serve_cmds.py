"""The subscriber-facing web side (see pipeline/web) and the static archive (pipeline/site)."""

from __future__ import annotations

import click

from .app import AppContext, echo, info, main, pass_app, writes_state


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (keep 127.0.0.1 behind a reverse proxy).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535),
              help="TCP port to listen on.")
@pass_app
def serve(app: AppContext, host: str, port: int) -> None:
    """Serve the web endpoints: signup, confirm, unsubscribe and the archive."""
    from ..web import serve as serve_web

    config = app.config
    info(app, f"serving {config.newsletter.name} on http://{host}:{port}/ "
              f"(public URL {config.newsletter.base_url}); Ctrl-C stops")
    serve_web(config, host, port)


@main.command()
@pass_app
@writes_state
def site(app: AppContext) -> None:
    """Write the static archive of sent issues (index.html, feed.xml, a page per issue)."""
    from ..archive.site import write_site
    from ..state import issues

    with app.state() as state:
        written = write_site(app.config, state.key, issues.sent(state.db))
    echo(f"{app.config.archive_dir}: {len(written)} file(s) written"
         + "".join(f"\n  {p}" for p in written))
