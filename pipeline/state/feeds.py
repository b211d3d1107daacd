"""Feed state in SQLite: conditional-GET validators, the entries of the last full parse (reused
on a 304), when each entry was first seen (the date of entries without a plausible one, and what
counts as "new"), and when a feed last had something new (stale feeds)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ..feeds.fetch import Validators
from ..feeds.parse import PARSER_VERSION
from ..models import Entry, FetchResult


@dataclass(frozen=True)
class FeedState:
    name: str
    url: str
    etag: str | None
    last_modified: str | None
    last_new_at: datetime | None
    entries_json: str | None


def load_states(conn: sqlite3.Connection) -> dict[str, FeedState]:
    rows = conn.execute("SELECT name, url, etag, last_modified, last_new_at, entries_json"
                        " FROM feed_state")
    return {row[0]: FeedState(row[0], row[1], row[2], row[3],
                              datetime.fromisoformat(row[4]) if row[4] else None, row[5])
            for row in rows}


def _signature(excerpt_words: int) -> str:
    # Stored entries are only as good as the parser and the settings that made them; the
    # signature leads the JSON so checking it needs no decoding.
    return f'{{"signature": "p{PARSER_VERSION}-w{excerpt_words}", "entries": '


def encode_entries(entries: list[Entry], excerpt_words: int) -> str:
    return (_signature(excerpt_words)
            + json.dumps([e.to_json() for e in entries], ensure_ascii=False) + "}")


def _usable(state: FeedState | None, url: str, excerpt_words: int) -> bool:
    return (state is not None and state.url == url
            and (state.entries_json or "").startswith(_signature(excerpt_words)))


def stored_entries(state: FeedState | None, url: str, excerpt_words: int) -> list[Entry] | None:
    """The entries kept from the last full fetch of `url`, if they are still usable."""
    if not _usable(state, url, excerpt_words):
        return None
    return [Entry.from_json(e) for e in json.loads(state.entries_json)["entries"]]


def validators(state: FeedState | None, url: str, excerpt_words: int) -> Validators | None:
    """ETag/Last-Modified to send, only when a 304 could be answered from stored entries."""
    if not _usable(state, url, excerpt_words) or not (state.etag or state.last_modified):
        return None
    return Validators(state.etag, state.last_modified)


def date_by_first_seen(conn: sqlite3.Connection, feed_name: str, entries: list[Entry],
                       now: datetime) -> tuple[list[Entry], int]:
    """Entries without a plausible date get the time they were first seen; entries never seen
    before are recorded as seen `now`. Returns the entries and how many are new."""
    seen = dict(conn.execute("SELECT guid, first_seen FROM entries_seen WHERE feed_name = ?",
                             (feed_name,)).fetchall())
    stamp = now.isoformat()
    fresh = [(feed_name, e.guid, stamp) for e in entries if e.guid not in seen]
    if fresh:
        conn.executemany("INSERT OR IGNORE INTO entries_seen (feed_name, guid, first_seen)"
                         " VALUES (?, ?, ?)", fresh)
    dated = []
    for entry in entries:
        if not entry.dated:
            first = seen.get(entry.guid)
            entry = replace(entry, published=datetime.fromisoformat(first) if first else now)
        dated.append(entry)
    return dated, len(fresh)


def record_fetch(conn: sqlite3.Connection, name: str, url: str, result: FetchResult,
                 status: str, new: int, now: datetime, entries_json: str | None) -> None:
    """Remember one feed's fetch. Validators and entries change only with a full 200 parse
    (a 304 may refresh the validators); a failure keeps what the last success left."""
    headers = {k.lower(): v for k, v in result.headers.items()}
    etag = headers.get("etag")
    last_modified = headers.get("last-modified")
    ok = status in ("ok", "not_modified")
    stamp = now.isoformat()
    conn.execute(
        """
        INSERT INTO feed_state (name, url, etag, last_modified, last_status, last_http_status,
                                last_ok_at, last_new_at, entries_json)
        VALUES (:name, :url, :etag, :last_modified, :status, :http, :ok_at, :new_at, :entries)
        ON CONFLICT(name) DO UPDATE SET
            url = excluded.url,
            etag = CASE WHEN :full THEN excluded.etag
                        WHEN :ok THEN coalesce(excluded.etag, etag) ELSE etag END,
            last_modified = CASE WHEN :full THEN excluded.last_modified
                        WHEN :ok THEN coalesce(excluded.last_modified, last_modified)
                        ELSE last_modified END,
            last_status = excluded.last_status,
            last_http_status = excluded.last_http_status,
            last_ok_at = coalesce(excluded.last_ok_at, last_ok_at),
            last_new_at = CASE WHEN :new > 0 OR last_new_at IS NULL OR url != excluded.url
                               THEN excluded.last_new_at ELSE last_new_at END,
            entries_json = CASE WHEN :full THEN excluded.entries_json ELSE entries_json END
        """,
        {"name": name, "url": url, "etag": etag if ok else None,
         "last_modified": last_modified if ok else None, "status": status,
         "http": result.http_status, "ok_at": stamp if ok else None,
         "new_at": stamp if ok else None, "entries": entries_json,
         "full": entries_json is not None, "ok": ok, "new": new})


def stale_since(state: FeedState | None, url: str, now: datetime, weeks: int
                ) -> datetime | None:
    """When the feed at `url` last had a new entry, if that is `weeks` or more ago."""
    if state is None or state.url != url or state.last_new_at is None:
        return None
    return state.last_new_at if now - state.last_new_at >= timedelta(weeks=weeks) else None
