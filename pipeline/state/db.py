"""The state database: one SQLite file (WAL) in the state folder, opened as a `Database`.

`Database` (sqlite-utils' handle is the model) is the only way in: the state modules (issues,
ledger, feeds, published, subscribers) are operations named after the domain that take it,
and `atomic()` groups writes into one transaction. Nothing outside pipeline/state/ runs SQL
(tests/test_layout.py holds every module to it). The schema is migrations.py.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import StateError
from ..fsutil import make_private, private_file, storage_error
from . import events, migrations

BUSY_TIMEOUT_SECONDS = 30.0
# Test-only knob: wait this long (seconds) for another program's lock instead of 30 s, so a
# test of a locked database ends quickly. Never set it in production.
BUSY_TIMEOUT_ENV = "DIGEST_TEST_BUSY_TIMEOUT_SECONDS"


def busy_timeout() -> float:
    return float(os.environ.get(BUSY_TIMEOUT_ENV) or BUSY_TIMEOUT_SECONDS)


def state_error(exc: sqlite3.Error, path: Path) -> StateError:
    """A one-line StateError for an SQLite failure on the state database: what, where, what
    to do. Decided by SQLite's own error name (Python 3.11+), else by its message."""
    name = getattr(exc, "sqlite_errorname", None) or ""
    text = str(exc)
    restore = ("restore the latest backup (README, \"Backup and restore\"), or move the file"
               " aside to start with an empty state")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return StateError(
            f"the state database {path} is locked by another program (waited {busy_timeout():g}"
            " s)", hint="close the program that holds it (an `sqlite3` shell, a backup tool"
                        " or a stuck process: `fuser -v` names it), then run the command again;"
                        " nothing was changed")
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")) or "not a database" in text \
            or "malformed" in text:
        return StateError(f"the state database {path} is damaged ({text})", hint=restore)
    if name.startswith("SQLITE_FULL") or "disk is full" in text or name == "SQLITE_IOERR_SHMSIZE" \
            or (name.startswith("SQLITE_IOERR") and _nearly_full(path.parent)):
        return StateError(f"the state database {path} cannot grow: the disk is full",
                          hint=f"free space on the disk that holds {path.parent}, then run the"
                               " command again: the ledger is intact")
    if name.startswith("SQLITE_READONLY") or "readonly" in text:
        return StateError(f"the state database {path} is read-only",
                          hint=f"make {path} and its folder writable by the user that runs"
                               " digest, then run the command again")
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
        return StateError(f"the state database {path} cannot be opened ({text})",
                          hint=f"check that {path.parent} exists and that the user that runs"
                               " digest may read and write it")
    return StateError(f"the state database {path}: {text}",
                      hint="check the disk, then run the command again; if the file is"
                           " damaged, " + restore)


def _nearly_full(folder: Path) -> bool:
    """An I/O error on a disk with (almost) no space left is the full disk (SQLite reports a
    failed write to the -shm or -wal file as SQLITE_IOERR_*, not SQLITE_FULL)."""
    try:
        return shutil.disk_usage(folder).free < 1 << 20
    except OSError:
        return False


def connect(path: Path) -> sqlite3.Connection:
    """A connection to the state database (WAL). The file and the -wal/-shm files SQLite
    makes beside it (they copy its mode) are private: 0600 in a 0700 folder."""
    try:
        private_file(path)
        for suffix in ("-wal", "-shm"):  # left by a version that made them 0644
            make_private(path.with_name(path.name + suffix))
    except OSError as exc:
        raise storage_error(exc, path, "create") from exc
    timeout = busy_timeout()
    try:
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)  # explicit BEGINs
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    except sqlite3.Error as exc:
        raise state_error(exc, path) from exc
    return conn


class Database:
    """One connection to the state database. Open it with `Database.open` (migrated), use it
    in the state modules' operations, close it (or use it as a context manager)."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._savepoints = 0
        self._after: list[Callable[[], None]] = []  # run once the transaction commits

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run `action` once the current transaction commits (at once outside one); never
        when it, or the savepoint it was asked in, rolls back."""
        if self.conn.in_transaction:
            self._after.append(action)
        else:
            action()

    @classmethod
    def open(cls, path: Path, migrate: bool = True) -> Database:
        """Connect (private file, WAL) and apply the missing migrations, unless `migrate` is
        False (a second connection to a database this process has migrated already)."""
        conn = connect(path)
        if migrate:
            try:
                migrations.migrate(conn)
                database = cls(conn, path)
                # A database restored from an older backup learns the unsubscribes, bounces
                # and complaints made since (state/events.py).
                events.replay(database)
                return database
            except sqlite3.Error as exc:
                conn.close()
                raise state_error(exc, path) from exc
            except BaseException:
                conn.close()
                raise
        return cls(conn, path)

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
                ) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> sqlite3.Cursor:
        return self.conn.executemany(sql, rows)

    @contextmanager
    def atomic(self) -> Iterator[Database]:
        """One transaction (BEGIN IMMEDIATE … COMMIT, rolled back on any exception). Inside
        another one it is a savepoint: the inner block is undone alone when it raises."""
        if self.conn.in_transaction:
            self._savepoints += 1
            name = f"digest_{self._savepoints}"
            pending = len(self._after)
            self.conn.execute(f"SAVEPOINT {name}")
            try:
                yield self
            except BaseException:
                del self._after[pending:]
                self.conn.execute(f"ROLLBACK TO {name}")
                self.conn.execute(f"RELEASE {name}")
                raise
            else:
                self.conn.execute(f"RELEASE {name}")
            finally:
                self._savepoints -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self._after.clear()
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        actions, self._after = self._after, []
        for action in actions:
            action()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
