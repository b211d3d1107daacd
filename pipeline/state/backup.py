"""`digest backup`: a consistent copy of the state (database and signing key) while the
scheduler, a send or the web process may be running.

The database is copied with SQLite's online backup API in one step: the copy is one
consistent snapshot (a read transaction, which under WAL never blocks the writers), so no state
lock is needed and a running send goes on. The copy is switched to a rollback journal, so it is
one self-contained file, checked (`PRAGMA quick_check`) and renamed into place. Backups hold
every address and the key that signs unsubscribe links: folders 0700, files 0600.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..config import Config
from ..errors import StateError
from ..fsutil import (
    PRIVATE_DIR,
    PRIVATE_FILE,
    atomic_write_bytes,
    make_dirs,
    private_file,
    storage_error,
)
from .db import connect, state_error
from .keys import KEY_FILE, SECRET_ENV

BACKUPS_DIR = "backups"


@dataclass(frozen=True)
class BackupResult:
    folder: Path
    database: Path
    size: int
    subscribers: int
    deliveries: int
    key: Path | None  # None: no key file in the state folder
    key_in_env: bool  # DIGEST_SECRET is set: the key lives in the environment, not here


def default_folder(config: Config, now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return config.state_dir / BACKUPS_DIR / stamp


def backup(config: Config, folder: Path | None = None) -> BackupResult:
    """Copy the database and the key file into `folder` (default: var/backups/<UTC time>/).
    A backup already in `folder` is replaced, each file atomically."""
    source = config.db_path
    if not source.is_file():
        raise StateError(f"nothing to back up: there is no state database at {source}",
                         hint="check [state] dir in the config")
    folder = folder or default_folder(config)
    database = folder / source.name
    try:
        make_dirs(folder, PRIVATE_DIR)
        size, subscribers, deliveries = _copy_database(source, database)
        key_file = config.state_dir / KEY_FILE
        key = None
        if key_file.is_file():
            key = folder / KEY_FILE
            atomic_write_bytes(key, key_file.read_bytes(), PRIVATE_FILE, PRIVATE_DIR)
    except OSError as exc:
        raise storage_error(exc, folder, "write the backup into") from exc
    return BackupResult(folder, database, size, subscribers, deliveries, key,
                        bool(os.environ.get(SECRET_ENV)))


def _copy_database(source: Path, target: Path) -> tuple[int, int, int]:
    """Online backup of `source` into `target`; (bytes, subscribers, deliveries) copied."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    private_file(partial)
    try:
        src = connect(source)
        try:
            dst = sqlite3.connect(partial)
            try:
                src.backup(dst)  # pages=-1: every page in one step, one snapshot
                dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
                check = dst.execute("PRAGMA quick_check").fetchone()[0]
                if check != "ok":
                    raise StateError(f"the backup copy of {source} fails its check: {check}",
                                     hint="the database itself may be damaged: run"
                                          f" `sqlite3 {source} 'PRAGMA integrity_check'`")
                subscribers = _count(dst, "subscribers")
                deliveries = _count(dst, "deliveries")
            finally:
                dst.close()
        except sqlite3.Error as exc:
            raise state_error(exc, source) from exc
        finally:
            src.close()
        with open(partial, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target.stat().st_size, subscribers, deliveries


def _count(conn: sqlite3.Connection, table: str) -> int:
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.OperationalError:  # a database from before that table existed
        return 0
