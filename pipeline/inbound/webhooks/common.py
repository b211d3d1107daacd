"""What the four webhook parsers share: the rejection, JSON reading, and one bounce event
judged by Sisimai's reasons (reasons.py) like a bounce read from a mailbox."""

from __future__ import annotations

import json
from typing import Any

from ...errors import PipelineError
from .. import reasons
from ..dsn import smtp_command
from ..model import Event, Kind

# Seconds a signed request stays acceptable (Mailgun and SendGrid sign a timestamp).
MAX_AGE = 300.0


class WebhookRejected(PipelineError):
    """A webhook request that must not be acted on; `status` is the HTTP status to answer."""

    def __init__(self, status: int, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


def check_fresh(provider: str, timestamp: str, now: float) -> None:
    """WebhookRejected(403) unless the signed `timestamp` is within MAX_AGE of `now`."""
    try:
        age = abs(now - float(timestamp))
    except ValueError as exc:
        raise WebhookRejected(403, f"the {provider} timestamp {timestamp!r} is not a number") \
            from exc
    if age > MAX_AGE:
        raise WebhookRejected(403, f"the {provider} timestamp is {age:.0f} s away from now "
                                   f"(at most {MAX_AGE:.0f} s)")


def load_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookRejected(400, f"the body is not JSON: {exc}") from exc


# Reasons whose words say the failure is not the address's: soft whatever the provider says.
_NOT_THE_ADDRESS = frozenset({
    "mailboxfull", "mesgtoobig", "exceedlimit", "spamdetected", "virusdetected", "blocked",
    "policyviolation", "securityerror", "toomanyconn", "systemerror", "systemfull",
    "networkerror", "expired", "contenterror", "norelaying", "mailererror", "syntaxerror"})


def bounce_event(provider: str, recipient: str, event_id: str, *, permanent: bool,
                 address_bad: bool, status: str = "", diagnostic: str = "",
                 message_id: str | None = None, timestamp: float | None = None) -> Event:
    """A bounce event, judged like a bounce read from a mailbox (Sisimai's reasons), with one
    difference: when the provider itself calls a permanent failure a bad address
    (`address_bad`), it is hard unless the server's words name a reason that is not the
    address's (a full mailbox, a block, spam…). A mailbox parser must guess at what an ESP
    knows: which SMTP command failed, whether the address was suppressed for bouncing."""
    status = reasons.refine_status(status, diagnostic)
    reply = reasons.find_reply(diagnostic)
    reason = reasons.decide(reasons.Diagnosis(
        status=status, diagnostic=diagnostic, command=smtp_command(diagnostic),
        action="failed" if permanent else "delayed", reply=reply))
    flag = reasons.hard_or_soft(reason, status, reply)
    if permanent and address_bad and reason not in _NOT_THE_ADDRESS and flag != "hard":
        reason, flag = "userunknown", "hard"
    kind: Kind = "hard" if permanent and flag == "hard" else "soft"
    return Event(provider=provider, kind=kind, recipient=recipient.strip().lower(),
                 event_id=event_id, status=status or None,
                 reason=reasons.describe(reason, diagnostic), reason_code=reason,
                 message_id=message_id, timestamp=timestamp)


def simple_event(provider: str, kind: Kind, recipient: str, event_id: str, reason: str,
                 reason_code: str = "", message_id: str | None = None,
                 timestamp: float | None = None) -> Event:
    return Event(provider=provider, kind=kind, recipient=recipient.strip().lower(),
                 event_id=event_id, reason=reason, reason_code=reason_code,
                 message_id=message_id, timestamp=timestamp)
