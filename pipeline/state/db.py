"""The SQLite state database (WAL): subscribers, delivery ledger, issues, feed state, history.

Schema changes are numbered migrations appended to MIGRATIONS; `open_db` applies the missing
ones in a transaction, so an old state folder upgrades itself.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from ..errors import StateError
from ..fsutil import make_private, private_file, storage_error
from ..names import normalize_name
from ..tokens import reader_ref

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE subscribers (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        name TEXT,
        status TEXT NOT NULL CHECK (status IN
            ('pending', 'active', 'unsubscribed', 'bounced', 'complained')),
        source TEXT NOT NULL DEFAULT 'operator',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        confirmed_at TEXT,
        unsubscribed_at TEXT
    );
    CREATE INDEX subscribers_status ON subscribers(status);

    CREATE TABLE issues (
        id TEXT PRIMARY KEY,
        number INTEGER NOT NULL UNIQUE,
        status TEXT NOT NULL DEFAULT 'built' CHECK (status IN
            ('built', 'approved', 'sending', 'sent', 'skipped')),
        built_at TEXT NOT NULL,
        approved_at TEXT,
        sent_at TEXT
    );

    CREATE TABLE deliveries (
        issue_id TEXT NOT NULL,
        subscriber_id INTEGER NOT NULL REFERENCES subscribers(id),
        status TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'bounced')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_code INTEGER,
        last_error TEXT,
        message_id TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (issue_id, subscriber_id)
    );
    CREATE INDEX deliveries_status ON deliveries(issue_id, status);

    -- Every item ever published, keyed by canonical URL, GUID and title fingerprint, so no
    -- later issue repeats it. Rebuildable from issues/*/issue.json.
    CREATE TABLE published (
        key TEXT PRIMARY KEY,
        issue_id TEXT NOT NULL,
        item_id TEXT NOT NULL
    );

    -- Conditional GET state and the entries of the last successful parse (reused on 304).
    CREATE TABLE feed_state (
        name TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        etag TEXT,
        last_modified TEXT,
        last_status TEXT,
        last_http_status INTEGER,
        last_ok_at TEXT,
        last_new_at TEXT,
        entries_json TEXT
    );

    -- When an entry was first seen: the fallback date for entries with none or a bad one.
    CREATE TABLE entries_seen (
        feed_name TEXT NOT NULL,
        guid TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        PRIMARY KEY (feed_name, guid)
    );
    """,
    # 2: a skipped week gives its issue number back (scheduler: min_new_items, approval), so
    # readers never see a gap; only issues that can still go out own a number.
    """
    CREATE TABLE issues_v2 (
        id TEXT PRIMARY KEY,
        number INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'built' CHECK (status IN
            ('built', 'approved', 'sending', 'sent', 'skipped')),
        built_at TEXT NOT NULL,
        approved_at TEXT,
        sent_at TEXT
    );
    INSERT INTO issues_v2 (id, number, status, built_at, approved_at, sent_at)
        SELECT id, number, status, built_at, approved_at, sent_at FROM issues;
    DROP TABLE issues;
    ALTER TABLE issues_v2 RENAME TO issues;
    CREATE UNIQUE INDEX issues_number ON issues(number) WHERE status != 'skipped';
    """,
    # 3: links name a reader by `ref`, a keyless digest of the address (tokens.reader_ref),
    # not by the row id, so an old link acts on its own address after the database was
    # recreated or restored. `status_stamp` is random and renewed by every change of status:
    # a link made at one stamp (a confirmation) acts only if nothing changed since. Triggers
    # keep both filled whatever code writes the row; reader_ref() and normalize_name() are
    # Python functions `connect` registers. Names stored before names.py are normalised too.
    """
    ALTER TABLE subscribers ADD COLUMN ref TEXT;
    ALTER TABLE subscribers ADD COLUMN status_stamp TEXT;
    UPDATE subscribers SET ref = reader_ref(email), status_stamp = lower(hex(randomblob(8))),
        name = normalize_name(name);
    CREATE UNIQUE INDEX subscribers_ref ON subscribers(ref);
    CREATE TRIGGER subscribers_on_insert AFTER INSERT ON subscribers
    BEGIN
        UPDATE subscribers SET ref = coalesce(NEW.ref, reader_ref(NEW.email)),
            status_stamp = coalesce(NEW.status_stamp, lower(hex(randomblob(8))))
        WHERE id = NEW.id;
    END;
    CREATE TRIGGER subscribers_on_email AFTER UPDATE OF email ON subscribers
    BEGIN
        UPDATE subscribers SET ref = reader_ref(NEW.email) WHERE id = NEW.id;
    END;
    CREATE TRIGGER subscribers_on_status AFTER UPDATE OF status ON subscribers
        WHEN NEW.status IS NOT OLD.status
    BEGIN
        UPDATE subscribers SET status_stamp = lower(hex(randomblob(8))) WHERE id = NEW.id;
    END;
    """,
]


def utcnow() -> str:
    return datetime.now(tz=UTC).isoformat(timespec="seconds")


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
        # Used by migration 3 and its triggers (a digest SQLite does not have).
        conn.create_function("reader_ref", 1, reader_ref, deterministic=True)
        conn.create_function("normalize_name", 1, normalize_name, deterministic=True)
    except sqlite3.Error as exc:
        raise state_error(exc, path) from exc
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection, immediate: bool = True) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any exception."""
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _statements(script: str) -> list[str]:
    """Split a migration into complete SQL statements (sqlite3 decides where one ends)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements


def migrate(conn: sqlite3.Connection) -> None:
    """Apply the missing migrations. The version is read inside BEGIN IMMEDIATE, so two
    processes opening a fresh database at once never both run the same migration."""
    while True:
        with transaction(conn):
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version >= len(MIGRATIONS):
                return
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={version + 1}")


def open_db(path: Path) -> sqlite3.Connection:
    conn = connect(path)
    try:
        migrate(conn)
    except sqlite3.Error as exc:
        conn.close()
        raise state_error(exc, path) from exc
    return conn


def count_sent_messages(conn: sqlite3.Connection) -> int:
    """Messages the ledger records as delivered, over every issue."""
    return conn.execute("SELECT count(*) FROM deliveries WHERE status = 'sent'").fetchone()[0]
