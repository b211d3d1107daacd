"""What is remembered of a feed between runs, and what it is good for (pure; the rows are in
state/feeds.py): conditional-GET validators, the entries of the last full parse (reused on a
304), when each entry was first seen (the date of entries without a plausible one), and when a
feed last had something new (stale feeds)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ..models import Entry
from .fetch import Validators
from .parse import PARSER_VERSION


@dataclass(frozen=True)
class FeedState:
    name: str
    url: str
    etag: str | None
    last_modified: str | None
    last_new_at: datetime | None
    entries_json: str | None


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


def date_by_first_seen(entries: list[Entry], seen: Mapping[str, str], now: datetime
                       ) -> list[Entry]:
    """Entries without a plausible date get the time they were first seen (`seen`: GUID →
    ISO time; an entry never seen before is seen `now`)."""
    dated = []
    for entry in entries:
        if not entry.dated:
            first = seen.get(entry.guid)
            entry = replace(entry, published=datetime.fromisoformat(first) if first else now)
        dated.append(entry)
    return dated


def stale_since(state: FeedState | None, url: str, now: datetime, weeks: int
                ) -> datetime | None:
    """When the feed at `url` last had a new entry, if that is `weeks` or more ago."""
    if state is None or state.url != url or state.last_new_at is None:
        return None
    return state.last_new_at if now - state.last_new_at >= timedelta(weeks=weeks) else None
