"""What the web side does to readers, named by the ref a link carries (tokens.reader_ref).

Each call opens its own connection: views run them in a worker thread (run_in_threadpool), and
SQLite connections do not cross threads. The SQL itself lives in subscribers.py.
"""

from __future__ import annotations

from ..config import Config
from ..models import Subscriber
from ..state import subscribers as subs
from ..state.db import open_db
from ..tokens import Keys, read_reader_token
from .security import MAX_PATH_TOKEN


def claim(keys: Keys, purpose: str, token: str) -> tuple[str, str] | None:
    """(ref, issue or stamp) of a genuine, unexpired reader token for `purpose`."""
    if len(token) > MAX_PATH_TOKEN:
        return None
    return read_reader_token(keys, purpose, token)


def load(config: Config, ref: str) -> tuple[Subscriber, str] | None:
    """(the reader, their status stamp), or None when no reader has `ref`."""
    conn = open_db(config.db_path)
    try:
        return subs.get_by_ref(conn, ref)
    finally:
        conn.close()


def set_status(config: Config, ref: str, status: str, only_from: tuple[str, ...],
               stamp: str | None = None) -> tuple[bool, str] | None:
    """(changed, the reader's stamp afterwards), None when no reader has `ref`. Acts on that
    row only: an unsubscribe never revives a bounce (`only_from`), a resubscribe only undoes
    the unsubscribe its token was made after (`stamp`)."""
    conn = open_db(config.db_path)
    try:
        changed = subs.set_status_by_ref(conn, ref, status, only_from, stamp)
        found = subs.get_by_ref(conn, ref)
    finally:
        conn.close()
    return None if changed is None or found is None else (changed, found[1])


def confirm(config: Config, ref: str, link_stamp: str) -> tuple[str, Subscriber | None]:
    """subscribers.confirm_by_ref: ('activated' | 'already' | 'stale' | 'unknown', reader)."""
    conn = open_db(config.db_path)
    try:
        return subs.confirm_by_ref(conn, ref, link_stamp)
    finally:
        conn.close()
