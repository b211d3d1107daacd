"""The state folder itself: backup."""

from __future__ import annotations

from pathlib import Path

import click

from .app import AppContext, echo, main, pass_app


@main.command()
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=Path))
@pass_app
def backup(app: AppContext, path: Path | None) -> None:
    """Copy the state (database and signing key) into PATH, a folder.

    PATH defaults to var/backups/<UTC time>/. Safe while `digest schedule`, a send or
    `digest serve` runs: the database is copied as one consistent snapshot (SQLite's online
    backup) and nothing waits for the state lock. To restore, see README, "Backup and
    restore".
    """
    from ..state.backup import backup as write_backup

    result = write_backup(app.config, path)
    echo(f"backup written to {result.folder}")
    echo(f"  {result.database.name}: {result.size:,} bytes, {result.subscribers} subscriber(s),"
         f" {result.deliveries} delivery row(s)")
    if result.key is not None:
        echo(f"  {result.key.name}: the key that signs unsubscribe and confirmation links")
    if result.key_in_env:
        echo("  DIGEST_SECRET is set: the signing key lives in the environment, not in this"
             " backup; keep it with the backup")
    elif result.key is None:
        echo("  no signing key file in the state folder (none made yet)")
    echo("  it holds every address: keep it private, and copy it off this machine")
