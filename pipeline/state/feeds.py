"""Feed state in SQLite (`feed_state`, `entries_seen`): conditional-GET validators, the entries
of the last full parse, when each entry was first seen, and when a feed last had something
new. What they mean is feeds/cache.py."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from ..feeds.cache import FeedState
from ..models import FetchResult
from .db import Database


def load_states(db: Database) -> dict[str, FeedState]:
    rows = db.execute("SELECT name, url, etag, last_modified, last_new_at, entries_json"
                      " FROM feed_state")
    return {row[0]: FeedState(row[0], row[1], row[2], row[3],
                              datetime.fromisoformat(row[4]) if row[4] else None, row[5])
            for row in rows}


def first_seen(db: Database, feed_name: str, guids: Iterable[str], now: datetime
               ) -> tuple[dict[str, str], int]:
    """When each entry of the feed was first seen (GUID → ISO time), after recording the
    GUIDs never seen before as seen `now`; and how many those are (the feed's new items)."""
    seen = dict(db.execute("SELECT guid, first_seen FROM entries_seen WHERE feed_name = ?",
                           (feed_name,)).fetchall())
    stamp = now.isoformat()
    fresh = [(feed_name, guid, stamp) for guid in guids if guid not in seen]
    if fresh:
        db.executemany("INSERT OR IGNORE INTO entries_seen (feed_name, guid, first_seen)"
                       " VALUES (?, ?, ?)", fresh)
    return seen, len(fresh)


def record_fetch(db: Database, name: str, url: str, result: FetchResult,
                 status: str, new: int, now: datetime, entries_json: str | None) -> None:
    """Remember one feed's fetch. Validators and entries change only with a full 200 parse
    (a 304 may refresh the validators); a failure keeps what the last success left."""
    headers = {k.lower(): v for k, v in result.headers.items()}
    etag = headers.get("etag")
    last_modified = headers.get("last-modified")
    ok = status in ("ok", "not_modified")
    stamp = now.isoformat()
    db.execute(
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
