"""What the inbound stage decides about one message or one webhook event: frozen values only.

`Verdict` is the decision about a message read from a mailbox (classify.py); `Event` is one
event of an ESP webhook (webhooks/). Both use the same kinds, so the state layer applies them
through one path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["hard", "soft", "complaint", "unsubscribe", "auto-reply", "not-bounce"]
KINDS: tuple[Kind, ...] = ("hard", "soft", "complaint", "unsubscribe", "auto-reply", "not-bounce")


@dataclass(frozen=True)
class Failure:
    """One recipient a bounce reports on. `reason_code` is Sisimai's reason name
    (reasons.REASONS), `kind` its hard/soft flag (or "not-bounce" for a delivery report)."""

    recipient: str
    kind: Kind
    reason_code: str
    status: str | None = None  # enhanced status code, "5.1.1"
    diagnostic: str = ""  # the remote server's words, one line, at most 300 characters
    action: str = ""  # RFC 3464 Action: failed, delayed, delivered…
    alias: str | None = None  # its other address in the report (Original-Recipient, when
    # Final-Recipient is what an alias expanded it to, or the reverse)


@dataclass(frozen=True)
class Verdict:
    """The decision about one message.

    kind: the message's kind. For a bounce naming several recipients it is "hard" only when
    every recipient failed hard (in doubt, soft); `failures` gives each recipient its own.
    recipients: the readers the message is about (bounced, complaining, unsubscribing); for a
    bounce each failed recipient, followed by its other address in the report when it gives
    one (Original-Recipient beside Final-Recipient).
    status: the enhanced status code of the first failure, when there is one.
    reason: short and human, ending with Sisimai's reason name in parentheses.
    reason_code: Sisimai's reason name ("userunknown"…; "feedback" for a complaint,
    "vacation" for an auto-reply, "" when there is none).
    message_id: the Message-ID of this message (idempotence); original_message_id: the
    Message-ID of our message it answers (bounced, complained about), when it shows.
    verp_token: the token of our VERP return path the message came back to, raw.
    unsubscribe_token: the reader token the message carries: an unsubscribe request's, else
    the one in the List-Unsubscribe of our original the bounce or complaint returns (it names
    the reader when a feedback loop redacts the address). Both unverified: the caller checks
    them (verp.verify_verp, tokens.read_reader_token).
    failures: per recipient of a bounce. feedback_type: an ARF report's Feedback-Type; an
    "auth-failure" (DMARC) report is "not-bounce", never a complaint."""

    kind: Kind
    recipients: tuple[str, ...] = ()
    status: str | None = None
    reason: str = ""
    reason_code: str = ""
    message_id: str | None = None
    original_message_id: str | None = None
    verp_token: str | None = None
    unsubscribe_token: str | None = None
    failures: tuple[Failure, ...] = ()
    feedback_type: str | None = None  # an ARF report's Feedback-Type ("abuse", "auth-failure")

    def as_json(self, source: str) -> dict[str, object]:
        """The `digest inbound --json` object (PRODUCT.md), plus the extra fields."""
        return {
            "source": source, "kind": self.kind, "recipients": list(self.recipients),
            "status": self.status, "reason": self.reason, "reason_code": self.reason_code,
            "message_id": self.message_id, "original_message_id": self.original_message_id,
            "verp_token": self.verp_token, "unsubscribe_token": self.unsubscribe_token,
            "feedback_type": self.feedback_type,
        }


@dataclass(frozen=True)
class Event:
    """One event of an ESP webhook, in the same kinds as a Verdict (never "auto-reply").

    provider: "ses" | "mailgun" | "postmark" | "sendgrid"; event_id: the provider's id of the
    event (idempotence), or a digest of it when the provider gives none; message_id: the
    provider's or our Message-ID of the message concerned, when given; timestamp: seconds
    since the epoch, when given."""

    provider: str
    kind: Kind
    recipient: str
    event_id: str
    status: str | None = None
    reason: str = ""
    reason_code: str = ""
    message_id: str | None = None
    timestamp: float | None = None


@dataclass(frozen=True)
class ConfirmSubscription:
    """An SNS SubscriptionConfirmation: the caller fetches `subscribe_url` (already checked to
    be https on an sns.<region>.amazonaws.com host) to confirm."""

    topic_arn: str
    subscribe_url: str


WebhookResult = list[Event] | ConfirmSubscription
