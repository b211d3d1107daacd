"""Mailgun webhooks: the body carries `signature: {timestamp, token, signature}`, the
signature being HMAC-SHA256 of timestamp+token with the webhook signing key (hex). A stale
timestamp or a token seen before (the caller's replay cache) is refused."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

from ..model import Event
from .common import WebhookRejected, bounce_event, check_fresh, load_json, simple_event


def verify_mailgun(signature: dict[str, Any], signing_key: bytes, now: float,
                   seen_token: Callable[[str], bool]) -> None:
    timestamp = str(signature.get("timestamp", ""))
    token = str(signature.get("token", ""))
    given = str(signature.get("signature", ""))
    if not (timestamp and token and given):
        raise WebhookRejected(401, "the Mailgun signature (timestamp, token, signature) is missing")
    expected = hmac.new(signing_key, (timestamp + token).encode("utf-8"), hashlib.sha256)
    if not hmac.compare_digest(expected.hexdigest(), given.lower()):
        raise WebhookRejected(403, "the Mailgun signature does not verify")
    check_fresh("Mailgun", timestamp, now)
    if seen_token(token):
        raise WebhookRejected(403, "this Mailgun token was already used (a replay)")


def mailgun_events(data: dict[str, Any]) -> list[Event]:
    event = data.get("event")
    recipient = str(data.get("recipient", ""))
    event_id = str(data.get("id", ""))
    headers = (data.get("message") or {}).get("headers") or {}
    message_id = headers.get("message-id")
    stamp = data.get("timestamp")
    timestamp = float(stamp) if isinstance(stamp, int | float) else None
    if event == "failed":
        status = data.get("delivery-status") or {}
        words = " ".join(str(status.get(name) or "") for name in ("message", "description"))
        code = str(status.get("enhanced-code") or status.get("code") or "")
        reason = str(data.get("reason", ""))
        return [bounce_event(
            "mailgun", recipient, event_id, permanent=data.get("severity") == "permanent",
            address_bad=reason in ("suppress-bounce", "bounce"), status=code if "." in code
            else "", diagnostic=f"{status.get('code') or ''} {words}".strip(),
            message_id=message_id, timestamp=timestamp)]
    if event == "complained":
        return [simple_event("mailgun", "complaint", recipient, event_id,
                             "spam complaint (feedback)", "feedback", message_id, timestamp)]
    if event == "unsubscribed":
        return [simple_event("mailgun", "unsubscribe", recipient, event_id,
                             "unsubscribed through Mailgun", "", message_id, timestamp)]
    return []


def parse_mailgun(body: bytes, *, signing_key: bytes, seen_token: Callable[[str], bool],
                  now: float | None = None) -> list[Event]:
    """Verify and read a Mailgun webhook POST (JSON). seen_token(token) answers whether the
    token was used before, and remembers it (the caller's replay cache)."""
    payload = load_json(body)
    if not isinstance(payload, dict) or not isinstance(payload.get("signature"), dict):
        raise WebhookRejected(401, "not a signed Mailgun webhook (no signature object)")
    verify_mailgun(payload["signature"], signing_key, time.time() if now is None else now,
                   seen_token)
    data = payload.get("event-data")
    if not isinstance(data, dict):
        raise WebhookRejected(400, "the Mailgun webhook has no event-data object")
    return mailgun_events(data)
