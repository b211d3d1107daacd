"""What the web side reads and changes in the state: readers named by the ref a link carries
(tokens.reader_ref), and which issues were sent (the public archive).

Each call opens its own connection: views run them in a worker thread (run_in_threadpool), and
SQLite connections do not cross threads. The SQL itself lives in pipeline/state/.
"""

from __future__ import annotations

from ..config import Config
from ..models import Subscriber
from ..state import issues
from ..state import subscribers as subs
from ..state.db import Database
from ..state.forget import is_forgotten
from ..tokens import Keys, read_reader_token, reader_ref
from .security import MAX_PATH_TOKEN


def _open(config: Config) -> Database:
    """A connection for one request. `create_app` migrated the database (and replayed the
    suppression log) before the first request: no request takes the write lock to ask."""
    return Database.open(config.db_path, migrate=False)


def claim(keys: Keys, purpose: str, token: str) -> tuple[str, str] | None:
    """(ref, issue or stamp) of a genuine, unexpired reader token for `purpose`."""
    if len(token) > MAX_PATH_TOKEN:
        return None
    return read_reader_token(keys, purpose, token)


def load(config: Config, ref: str) -> tuple[Subscriber, str] | None:
    """(the reader, their status stamp), or None when no reader has `ref`."""
    with _open(config) as db:
        return subs.get_by_ref(db, ref)


def set_status(config: Config, ref: str, status: str, only_from: tuple[str, ...],
               stamp: str | None = None, *, detail: str | None = None,
               issue_id: str | None = None) -> tuple[bool, str] | None:
    """(changed, the reader's stamp afterwards), None when no reader has `ref`. Acts on that
    row only: an unsubscribe never revives a bounce (`only_from`), a resubscribe only undoes
    the unsubscribe its token was made after (`stamp`)."""
    with _open(config) as db:
        changed = subs.set_status_by_ref(db, ref, status, only_from, stamp, source="web",
                                         detail=detail, issue_id=issue_id)
        found = subs.get_by_ref(db, ref)
    return None if changed is None or found is None else (changed, found[1])


def confirm(config: Config, ref: str, link_stamp: str) -> tuple[str, Subscriber | None]:
    """subscribers.confirm_by_ref: ('activated' | 'already' | 'stale' | 'unknown', reader)."""
    with _open(config) as db:
        return subs.confirm_by_ref(db, ref, link_stamp)


def register(config: Config, email: str, name: str | None) -> tuple[Subscriber, str]:
    """A signup: (the reader, their stamp); a new address is added as pending."""
    with _open(config) as db:
        found = subs.get_by_ref(db, reader_ref(email))
        if found is None or is_forgotten(found[0]):  # forgotten: the address comes back
            subs.add(db, email, name, status=subs.SubscriberStatus.PENDING, source="web")
            found = subs.get_by_ref(db, reader_ref(email))
    assert found is not None
    return found


def sent_weeks(config: Config) -> dict[str, str | None]:
    """The weeks the database knows as sent, and when (the public archive lists them)."""
    with _open(config) as db:
        return issues.sent(db)
