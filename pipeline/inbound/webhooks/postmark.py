"""Postmark webhooks: protected by HTTP basic auth on the webhook URL (compared in constant
time); Bounce records by Postmark's bounce type, SpamComplaint, SubscriptionChange."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..model import Event, Kind
from .common import WebhookRejected, bounce_event, load_json, simple_event

# Postmark's bounce types (its API's BounceType): the failures, whether permanent, and whether
# Postmark says the address itself is bad; the rest are other kinds or nothing.
_BOUNCES: dict[str, tuple[bool, bool]] = {
    "HardBounce": (True, True), "BadEmailAddress": (True, True), "Transient": (False, False),
    "SoftBounce": (False, False), "DnsError": (False, False), "Blocked": (True, False),
    "DMARCPolicy": (True, False), "SpamNotification": (True, False),
    "VirusNotification": (True, False), "Unknown": (False, False),
    "SMTPApiError": (False, False), "AddressChange": (False, False),
}
_OTHERS: dict[str, Kind] = {"SpamComplaint": "complaint", "Unsubscribe": "unsubscribe",
                            "AutoResponder": "auto-reply", "ChallengeVerification": "auto-reply"}


def check_basic_auth(authorization: str | None, username: str, password: str) -> None:
    if not authorization or not authorization.lower().startswith("basic "):
        raise WebhookRejected(401, "the Postmark webhook carries no basic auth")
    try:
        given = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise WebhookRejected(401, "the Postmark webhook's basic auth is malformed") from exc
    user, _, secret = given.partition(":")
    # Digests first, so the comparison takes the same time whatever the lengths.
    same_user = hmac.compare_digest(hashlib.sha256(user.encode()).digest(),
                                    hashlib.sha256(username.encode()).digest())
    same_secret = hmac.compare_digest(hashlib.sha256(secret.encode()).digest(),
                                      hashlib.sha256(password.encode()).digest())
    if not (same_user and same_secret):
        raise WebhookRejected(403, "wrong Postmark webhook credentials")


def _timestamp(record: Mapping[str, Any]) -> float | None:
    for name in ("BouncedAt", "ReceivedAt", "ChangedAt"):
        if record.get(name):
            try:
                return datetime.fromisoformat(str(record[name])).timestamp()
            except ValueError:
                return None
    return None


def postmark_events(record: Mapping[str, Any]) -> list[Event]:
    kind = str(record.get("Type") or record.get("RecordType") or "")
    recipient = str(record.get("Email") or record.get("Recipient") or "")
    event_id = f"postmark:{record.get('ID') or record.get('MessageID')}:{kind}"
    message_id = record.get("MessageID")
    stamp = _timestamp(record)
    if record.get("RecordType") == "SubscriptionChange":
        if record.get("SuppressSending") and record.get("SuppressionReason") in \
                ("ManualSuppression", "Customer"):
            return [simple_event("postmark", "unsubscribe", recipient, event_id,
                                 "unsubscribed through Postmark", "", message_id, stamp)]
        return []
    if kind in _BOUNCES:
        permanent, bad = _BOUNCES[kind]
        return [bounce_event("postmark", recipient, event_id, permanent=permanent,
                             address_bad=bad, diagnostic=str(record.get("Details") or ""),
                             message_id=message_id, timestamp=stamp)]
    if kind in _OTHERS:
        words = {"complaint": "spam complaint (feedback)", "unsubscribe": "unsubscribed",
                 "auto-reply": "automatic reply (vacation)"}[_OTHERS[kind]]
        code = {"complaint": "feedback", "auto-reply": "vacation"}.get(_OTHERS[kind], "")
        return [simple_event("postmark", _OTHERS[kind], recipient, event_id, words, code,
                             message_id, stamp)]
    return []


def parse_postmark(body: bytes, *, authorization: str | None, username: str,
                   password: str) -> list[Event]:
    """Check the request's Authorization header, then read the Postmark webhook record."""
    check_basic_auth(authorization, username, password)
    record = load_json(body)
    if not isinstance(record, dict):
        raise WebhookRejected(400, "a Postmark webhook body is a JSON object")
    return postmark_events(record)
