"""What one inbound verdict or webhook event does to one reader (jobs/inbound.py finds the
readers): hard → bounced, complaint → complained, unsubscribe → unsubscribed, each only from
the statuses it may replace; soft → a soft_bounce event, and `[inbound] soft_bounce_limit`
of them (of different issues) within `soft_bounce_days` → bounced. Every status change goes
through state/subscribers.py, whose event keeps the source, the detail (kind, status code,
reason and the message's key: what an appeal is answered from) and the issue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..config import Config
from ..models import Subscriber
from ..state import inbound as applied_log
from ..state import subscribers
from ..state.db import Database
from ..state.handle import State
from ..state.keys import verification_keys
from ..state.statuses import SubscriberStatus as S
from ..tokens import reader_ref

# kind → (the status it sets, the statuses it may replace). A complaint is the strongest
# word: it is kept also over an unsubscribe or a bounce (the report counts it).
STOPS: dict[str, tuple[S, tuple[S, ...]]] = {
    "hard": (S.BOUNCED, (S.ACTIVE, S.PENDING)),
    "complaint": (S.COMPLAINED, (S.ACTIVE, S.PENDING, S.UNSUBSCRIBED, S.BOUNCED)),
    "unsubscribe": (S.UNSUBSCRIBED, (S.ACTIVE, S.PENDING)),
}
_MAILED = (S.ACTIVE, S.PENDING)


@dataclass(frozen=True)
class Context:
    """What applying needs, the same for every message of one command or request."""

    config: Config
    keys: tuple[bytes, ...]  # the current signing key, then the retired ones
    dry_run: bool = False

    @classmethod
    def of(cls, state: State, dry_run: bool = False) -> Context:
        return cls(state.config, verification_keys(state.config, state.key), dry_run)


@dataclass(frozen=True)
class Target:
    """One reader a message or event is about, and what it says of them."""

    reader: Subscriber
    kind: str  # hard | soft | complaint | unsubscribe
    issue_id: str | None
    status: str | None  # the enhanced status code
    reason: str


def detail(target: Target, key: str) -> str:
    """The event's detail: enough to answer "why was I removed?" and find the message."""
    code = f" {target.status}" if target.status else ""
    reason = " ".join(target.reason.split())[:200]
    return f"{target.kind}{code}: {reason} [{key}]"


def act(db: Database, ctx: Context, target: Target, source: str, key: str) -> str:
    """Apply one target (inside the caller's transaction), or in a dry run say what would
    be done; returns it in words."""
    if target.kind == "soft":
        return _soft(db, ctx, target, source, key)
    reader = target.reader
    status, allowed = STOPS[target.kind]
    if reader.status not in allowed:
        return f"{reader.email}: unchanged ({reader.status})"
    if ctx.dry_run:
        return f"{reader.email}: would become {status}"
    changed = subscribers.set_status_by_ref(db, reader_ref(reader.email), status, allowed,
                                            source=source, detail=detail(target, key),
                                            issue_id=target.issue_id)
    return f"{reader.email}: {status}" if changed else f"{reader.email}: unchanged"


def _soft(db: Database, ctx: Context, target: Target, source: str, key: str) -> str:
    reader = target.reader
    ref = reader_ref(reader.email)
    limit = ctx.config.inbound.soft_bounce_limit
    days = ctx.config.inbound.soft_bounce_days
    # Events are stamped with the wall clock (state/events.py): so is the window.
    since = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
    if ctx.dry_run:
        count = applied_log.soft_bounces_since(db, ref, since)
        return (f"{reader.email}: would count a soft bounce ({count} within {days} days so far,"
                f" limit {limit})")
    text = detail(target, key)
    applied_log.record_soft_bounce(db, ref, source=source, detail=text,
                                   issue_id=target.issue_id)
    count = applied_log.soft_bounces_since(db, ref, since)
    if count >= limit and reader.status in _MAILED:
        why = f"{count} soft bounces within {days} days (limit {limit}); the last: {text}"
        if subscribers.set_status_by_ref(db, ref, S.BOUNCED, _MAILED, source=source,
                                         detail=why, issue_id=target.issue_id):
            return f"{reader.email}: bounced ({count} soft bounces within {days} days)"
    return f"{reader.email}: soft bounce {count} of {limit} within {days} days"
