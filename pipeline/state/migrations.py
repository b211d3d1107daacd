"""The state database's schema as numbered migrations, and `migrate`.

A schema change is a new entry at the end of MIGRATIONS; `migrate` applies the missing ones,
each in a transaction, so an old state folder upgrades itself (PRAGMA user_version counts them).
"""

from __future__ import annotations

import sqlite3

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
    # 4: no trigger calls a function only digest registers, so a row written by the `sqlite3`
    # shell or another tool no longer fails with "no such function". The state layer writes
    # `ref` itself (subscribers.py) and gives any row that lacks one its ref when it opens the
    # database (fill_refs); an address changed without its ref loses the stale ref. The stamp
    # needs only SQLite's own functions: subscribers_on_status stays.
    """
    DROP TRIGGER subscribers_on_insert;
    DROP TRIGGER subscribers_on_email;
    CREATE TRIGGER subscribers_stamp_on_insert AFTER INSERT ON subscribers
        WHEN NEW.status_stamp IS NULL
    BEGIN
        UPDATE subscribers SET status_stamp = lower(hex(randomblob(8))) WHERE id = NEW.id;
    END;
    CREATE TRIGGER subscribers_ref_on_email AFTER UPDATE OF email ON subscribers
        WHEN NEW.email IS NOT OLD.email AND NEW.ref IS OLD.ref
    BEGIN
        UPDATE subscribers SET ref = NULL WHERE id = NEW.id;
    END;
    """,
    # 5: what happened to each reader (state/events.py): one row per change of status (and
    # per soft bounce), with who made it and why; `state_meta` holds small facts about the
    # database itself (how much of the suppression log it has seen). Readers known before
    # get their history as far as the subscribers table tells it.
    """
    CREATE TABLE subscriber_events (
        id INTEGER PRIMARY KEY,
        ref TEXT NOT NULL,
        at TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('subscribed', 'confirmed', 'unsubscribed',
            'bounced', 'complained', 'soft_bounce')),
        status TEXT,
        previous TEXT,
        source TEXT NOT NULL,
        detail TEXT,
        issue_id TEXT
    );
    CREATE INDEX subscriber_events_ref ON subscriber_events(ref, id);
    CREATE INDEX subscriber_events_at ON subscriber_events(at);
    CREATE TABLE state_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO subscriber_events (ref, at, kind, status, previous, source)
        SELECT ref, coalesce(confirmed_at, created_at), 'confirmed', 'active', NULL, source
        FROM subscribers WHERE ref IS NOT NULL AND (confirmed_at IS NOT NULL
            OR status IN ('active', 'unsubscribed', 'bounced', 'complained'));
    INSERT INTO subscriber_events (ref, at, kind, status, previous, source)
        SELECT ref, created_at, 'subscribed', 'pending', NULL, source
        FROM subscribers WHERE ref IS NOT NULL AND status = 'pending';
    INSERT INTO subscriber_events (ref, at, kind, status, previous, source)
        SELECT ref, coalesce(unsubscribed_at, updated_at), status, status, 'active',
            'migration'
        FROM subscribers WHERE ref IS NOT NULL
            AND status IN ('unsubscribed', 'bounced', 'complained');
    """,
    # 6: click tracking (state/clicks.py). A click row names the issue, the link (its index
    # in the link table), the delivery part of its token (a keyed hash in
    # `aggregate`, the reader's ref in `per_reader`), when, the method and the user agent: no
    # IP address, no other header. Rows of an issue are deleted `[tracking] keep_days` after
    # its send began, once its totals are kept in click_totals; click_keys holds each
    # issue's random key for the aggregate hashes until its send is complete. One index
    # only: every click is an insert, `forget` (by delivery) is rare and may scan.
    """
    CREATE TABLE clicks (
        id INTEGER PRIMARY KEY,
        issue_id TEXT NOT NULL,
        link_index INTEGER NOT NULL,
        delivery TEXT NOT NULL,
        at TEXT NOT NULL,
        method TEXT NOT NULL,
        user_agent TEXT NOT NULL DEFAULT '',
        kind TEXT CHECK (kind IN ('human', 'machine')),
        reasons TEXT
    );
    CREATE INDEX clicks_issue ON clicks(issue_id, at);
    CREATE TABLE click_keys (issue_id TEXT PRIMARY KEY, key BLOB NOT NULL,
                             created_at TEXT NOT NULL);
    CREATE TABLE click_totals (issue_id TEXT PRIMARY KEY, stats_json TEXT NOT NULL,
                               saved_at TEXT NOT NULL);
    """,
    # 7: inbound (issue 12): every bounce, complaint, unsubscribe mail or webhook event applied,
    # keyed by its Message-ID, content digest or provider event id, so none is applied twice
    # and an appeal can be answered (state/inbound.py); the Mailgun webhook tokens already
    # used (replays refused across restarts), pruned by age.
    """
    CREATE TABLE inbound_applied (
        key TEXT PRIMARY KEY,
        at TEXT NOT NULL,
        source TEXT NOT NULL,
        kind TEXT NOT NULL,
        recipients TEXT NOT NULL,
        status TEXT,
        reason TEXT,
        action TEXT
    );
    CREATE INDEX inbound_applied_at ON inbound_applied(at);
    CREATE TABLE webhook_tokens (
        provider TEXT NOT NULL,
        token TEXT NOT NULL,
        seen_at REAL NOT NULL,
        PRIMARY KEY (provider, token)
    );
    CREATE INDEX webhook_tokens_seen ON webhook_tokens(seen_at);
    CREATE INDEX subscriber_events_issue ON subscriber_events(issue_id, kind);
    """,
]



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
    # Migration 3 computes refs and cleans names in SQL: these exist only on this connection.
    conn.create_function("reader_ref", 1, reader_ref, deterministic=True)
    conn.create_function("normalize_name", 1, normalize_name, deterministic=True)
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version >= len(MIGRATIONS):
                conn.execute("COMMIT")
                break
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={version + 1}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    fill_refs(conn)


def fill_refs(conn: sqlite3.Connection) -> int:
    """Give every subscriber without a ref (a row another tool wrote, or whose address it
    changed) the ref of their address; returns how many. One indexed query when none lacks."""
    missing = conn.execute("SELECT id, email FROM subscribers WHERE ref IS NULL").fetchall()
    if not missing:
        return 0
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany("UPDATE subscribers SET ref = ? WHERE id = ? AND ref IS NULL",
                         [(reader_ref(email), row_id) for row_id, email in missing])
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return len(missing)
