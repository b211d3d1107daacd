"""The statuses the state database stores, as StrEnums: each compares equal to the string in
its table, and the schema's CHECK constraints (migrations.py) allow exactly these."""

from __future__ import annotations

from enum import StrEnum


class SubscriberStatus(StrEnum):
    PENDING = "pending"  # signed up on the web, not confirmed yet
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"


class IssueStatus(StrEnum):
    BUILT = "built"  # a draft
    APPROVED = "approved"  # approval mode: the editor said yes
    SENDING = "sending"  # delivery started and is not complete
    SENT = "sent"  # every queued reader got it
    SKIPPED = "skipped"  # too few new items, or not approved in time


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # handed to a transport; its outcome not recorded yet
    SENT = "sent"
    FAILED = "failed"
    BOUNCED = "bounced"  # a 5xx to RCPT: the reader is never mailed again
