"""Hearing back: inbound mail (`digest inbound`, its LMTP server) and ESP webhook events
(`digest serve`) turned into state operations, through one path.

For each message: classify it (inbound.classify); find whom it is about: the reader a VERP
token or an unsubscribe token names when it verifies (a token that does not verify is
ignored), else the readers the bounce or complaint names by address; an unsubscribe request
acts only through a verified token (anyone can write From: someone-else). Then act
(inbound_actions.py): hard → bounced, soft → counted (the limit makes it bounced), complaint
→ complained, unsubscribe → unsubscribed, auto-reply and not-bounce → nothing. A message or
event is applied once: its key (Message-ID, else a digest of its bytes; the provider's event
id) is kept with what was done, in the same transaction."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from email.utils import parseaddr
from typing import Any, BinaryIO

from ..config import Config
from ..config.inbound import envelope_sender, verp_template
from ..inbound import Event, InboundMessage, SourceProblem, Verdict, classify, read_sources
from ..inbound.verp import verify_verp
from ..models import Subscriber
from ..state import inbound as applied_log
from ..state import subscribers
from ..state.db import Database
from ..tokens import Keys, read_reader_token, reader_ref
from .inbound_actions import Context, Target, act

log = logging.getLogger("pipeline.inbound")
MAIL_SOURCE = "inbound"
_OUR_MESSAGE_ID = re.compile(r"^<?(\d{4})-w(\d{2})\.[0-9a-f]{20}@([^>\s]+)>?$", re.IGNORECASE)
_NOT_ACTED = {"auto-reply": "nothing to do: an automatic reply",
              "not-bounce": "nothing to do: not a bounce, complaint or unsubscribe request"}

__all__ = ["Context", "Result", "handle_events", "handle_message", "handle_sources",
           "own_addresses"]


@dataclass(frozen=True)
class Result:
    """What became of one message or webhook event."""

    source: str  # where it came from: a path, "mbox:3", "-", "lmtp", "webhook:ses"
    kind: str
    recipients: tuple[str, ...]
    status: str | None
    reason: str
    key: str  # what makes it unique (idempotence); named in every event's detail
    actions: tuple[str, ...]  # what was done (or, in a dry run, would be done), per reader
    duplicate: bool = False  # applied before: nothing done now
    verdict: Verdict | None = None
    event: Event | None = None

    @property
    def action(self) -> str:
        return "; ".join(self.actions)

    def as_json(self) -> dict[str, Any]:
        """PRODUCT.md's object ({source, kind, recipients, status, reason}) and then more."""
        data: dict[str, Any] = {"source": self.source, "kind": self.kind,
                                "recipients": list(self.recipients), "status": self.status,
                                "reason": self.reason}
        if self.verdict is not None:
            extra = self.verdict.as_json(self.source)
            data.update({k: v for k, v in extra.items() if k not in data})
        if self.event is not None:
            data.update({"provider": self.event.provider, "event_id": self.event.event_id,
                         "reason_code": self.event.reason_code,
                         "message_id": self.event.message_id})
        data.update({"key": self.key, "action": self.action, "duplicate": self.duplicate})
        return data


def own_addresses(config: Config) -> tuple[str, ...]:
    """The newsletter's own addresses: never a bounced reader; the unsubscribe mailbox is
    among them (compose.py writes `mailto:unsubscribe@<From domain>`)."""
    newsletter = config.newsletter
    found = [parseaddr(newsletter.from_address)[1], f"unsubscribe@{newsletter.sender_domain}"]
    if newsletter.reply_to:
        found.append(parseaddr(newsletter.reply_to)[1])
    if config.delivery.return_path:
        found.append(envelope_sender(config.delivery.return_path, found[0]))
    return tuple(dict.fromkeys(address.lower() for address in found if address))


def message_key(verdict: Verdict, raw: bytes, envelope_to: str | None = None) -> str:
    """What makes a message the same message: its Message-ID (the same bounce read twice,
    from two folders or after a crash), else a digest of its bytes; with its envelope
    recipient when one is known (LMTP: one message to two recipients is two deliveries)."""
    key = (f"mid:{verdict.message_id}" if verdict.message_id
           else "sha256:" + hashlib.sha256(raw).hexdigest())
    return f"{key} to:{envelope_to.strip().lower()}" if envelope_to else key


def our_issue(message_id: str | None, config: Config) -> str | None:
    """The week of one of our Message-IDs (compose._message_id: `<week.digest@domain>`)."""
    found = _OUR_MESSAGE_ID.match((message_id or "").strip())
    if found and found.group(3).lower() == config.newsletter.sender_domain:
        return f"{found.group(1)}-W{found.group(2)}"
    return None


# --------------------------------------------------------------------------- whom


def _reader_by_ref(db: Database, ref: str) -> Subscriber | None:
    found = subscribers.get_by_ref(db, ref)
    return found[0] if found else None


def _reader_by_address(db: Database, address: str) -> Subscriber | None:
    address = address.strip()
    return _reader_by_ref(db, reader_ref(address)) if "@" in address else None


def _verified(keys: Keys, verdict: Verdict) -> tuple[tuple[str, str] | None, list[str]]:
    """((ref, issue) of a token that verifies, or None; notes on tokens that do not)."""
    notes = []
    if verdict.verp_token:
        claim = verify_verp(keys, verdict.verp_token)
        if claim is not None:
            return claim, notes
        notes.append("the VERP token does not verify: ignored")
    if verdict.unsubscribe_token:
        claim = read_reader_token(keys, "unsubscribe", verdict.unsubscribe_token)
        if claim is not None:
            return claim, notes
        notes.append("the unsubscribe token does not verify: ignored")
    return None, notes


def _targets(db: Database, ctx: Context, verdict: Verdict) -> tuple[list[Target], list[str]]:
    """The readers a message is about, each with what happened to them; and notes."""
    claim, notes = _verified(ctx.keys, verdict)
    if verdict.kind in _NOT_ACTED:
        return [], notes
    if claim is not None:
        ref, issue = claim
        reader = _reader_by_ref(db, ref)
        if reader is None:
            return [], [*notes, "the token names no reader on file"]
        return [Target(reader, verdict.kind, issue, verdict.status, verdict.reason)], notes
    if verdict.kind == "unsubscribe":
        return [], notes
    issue = our_issue(verdict.original_message_id, ctx.config)
    targets: list[Target] = []
    failures = [f for f in verdict.failures if f.kind in ("hard", "soft")]
    named = ([(f.recipient, f.alias, f.kind, f.status,
               f"{f.diagnostic} ({f.reason_code})" if f.diagnostic else verdict.reason)
              for f in failures] if failures else
             [(address, None, verdict.kind, verdict.status, verdict.reason)
              for address in verdict.recipients])
    seen: set[int] = set()
    for address, alias, kind, status, reason in named:
        reader = _reader_by_address(db, address) or (
            _reader_by_address(db, alias) if alias else None)
        if reader is None:
            notes.append(f"{address}: no reader with this address")
        elif reader.id not in seen:
            seen.add(reader.id)
            targets.append(Target(reader, kind, issue or applied_log.last_issue_sent(
                db, reader.id), status, reason))
    return targets, notes


# --------------------------------------------------------------------------- acting


def _apply(db: Database, ctx: Context, key: str, result: Result,
           targets: Sequence[Target], notes: list[str], source: str) -> Result:
    """Act on every target and keep the key, in one transaction; or, in a dry run, say what
    would be done. A key applied before changes nothing."""
    if ctx.dry_run:
        before = applied_log.applied(db, key)
        if before is not None:
            return replace(result, duplicate=True, actions=(
                f"already applied at {before.at}: {before.action}",))
        actions = [act(db, ctx, target, source, key) for target in targets]
        return replace(result, actions=tuple(notes + actions) or (_nothing(result),))
    with db.atomic():
        before = applied_log.applied(db, key)
        if before is not None:
            return replace(result, duplicate=True, actions=(
                f"already applied at {before.at}: {before.action}",))
        actions = [act(db, ctx, target, source, key) for target in targets]
        done = replace(result, actions=tuple(notes + actions) or (_nothing(result),))
        applied_log.remember(db, key, source=result.source, kind=result.kind,
                             recipients=result.recipients, status=result.status,
                             reason=result.reason, action=done.action)
    return done


def _nothing(result: Result) -> str:
    return _NOT_ACTED.get(result.kind, "nothing to do: no reader on file named")


def handle_message(db: Database, ctx: Context, message: InboundMessage,
                   envelope_to: str | None = None) -> Result:
    """Classify one message and apply it (once)."""
    config = ctx.config
    try:
        verdict = classify(message.raw, list_addresses=own_addresses(config),
                           verp=verp_template(config.delivery.return_path),
                           envelope_to=envelope_to)
    except Exception as exc:  # noqa: BLE001 - one unreadable message never stops the others
        log.warning("%s: not classified: %s", message.source, exc, exc_info=True)
        return Result(message.source, "not-bounce", (), None,
                      f"could not be classified ({type(exc).__name__}): nothing done",
                      "sha256:" + hashlib.sha256(message.raw).hexdigest(), ("nothing done",))
    key = message_key(verdict, message.raw, envelope_to)
    targets, notes = _targets(db, ctx, verdict)
    reason = verdict.reason
    if verdict.kind == "unsubscribe" and not targets:
        reason += ("; no verifiable token: nobody is unsubscribed (the link at the bottom of"
                   " every issue works)")
    result = Result(message.source, verdict.kind, verdict.recipients, verdict.status, reason,
                    key, (), verdict=verdict)
    return _apply(db, ctx, key, result, targets, notes, MAIL_SOURCE)


def handle_sources(db: Database, ctx: Context, paths: Iterable[str],
                   stdin: BinaryIO | None = None) -> Iterator[Result | SourceProblem]:
    """Every message of every source, applied one by one (each in its own transaction: a
    crash keeps what was applied, and the next run skips it)."""
    for item in read_sources(paths, stdin):
        yield item if isinstance(item, SourceProblem) else handle_message(db, ctx, item)


def handle_events(db: Database, ctx: Context, events: Sequence[Event]) -> list[Result]:
    """ESP webhook events, each applied once (by provider and event id)."""
    results = []
    for event in events:
        source = f"webhook:{event.provider}"
        key = f"{source}:{event.event_id}"
        reader = _reader_by_address(db, event.recipient)
        targets: list[Target] = []
        notes: list[str] = []
        if event.kind in _NOT_ACTED:
            pass
        elif reader is None:
            notes.append(f"{event.recipient}: no reader with this address")
        else:
            issue = our_issue(event.message_id, ctx.config) or applied_log.last_issue_sent(
                db, reader.id)
            targets.append(Target(reader, event.kind, issue, event.status, event.reason))
        result = Result(source, event.kind, (event.recipient,), event.status, event.reason,
                        key, (), event=event)
        results.append(_apply(db, ctx, key, result, targets, notes, source))
    return results
