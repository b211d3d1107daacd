"""SendGrid's signed Event Webhook: an ECDSA (P-256, SHA-256) signature, base64 DER, in
X-Twilio-Email-Event-Webhook-Signature over the X-Twilio-Email-Event-Webhook-Timestamp value
followed by the raw body; the public key is the base64 DER the SendGrid settings show."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..model import Event
from .common import WebhookRejected, bounce_event, check_fresh, load_json, simple_event

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


def load_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The verification key from its base64 DER (or PEM) form; ValueError when unusable."""
    text = text.strip()
    try:
        key = serialization.load_pem_public_key(text.encode()) if text.startswith("-----") \
            else serialization.load_der_public_key(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error) as exc:
        raise ValueError(f"not a SendGrid verification key (base64 DER): {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("the SendGrid verification key is not an ECDSA key")
    return key


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return ""


def verify_sendgrid(body: bytes, headers: Mapping[str, str], public_key: str, now: float) -> None:
    signature = _header(headers, SIGNATURE_HEADER)
    timestamp = _header(headers, TIMESTAMP_HEADER)
    if not signature or not timestamp:
        raise WebhookRejected(401, f"the request lacks {SIGNATURE_HEADER} or {TIMESTAMP_HEADER}")
    try:
        key = load_public_key(public_key)
        key.verify(base64.b64decode(signature, validate=True), timestamp.encode() + body,
                   ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, binascii.Error) as exc:
        raise WebhookRejected(403, "the SendGrid signature does not verify") from exc
    check_fresh("SendGrid", timestamp, now)


def sendgrid_events(items: list[Any]) -> list[Event]:
    events: list[Event] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        name = item.get("event")
        recipient = str(item.get("email", ""))
        event_id = str(item.get("sg_event_id") or f"{item.get('sg_message_id')}:{name}")
        message_id = item.get("smtp-id") or item.get("sg_message_id")
        stamp = item.get("timestamp")
        timestamp = float(stamp) if isinstance(stamp, int | float) else None
        reason = str(item.get("reason") or "")
        if name == "bounce":
            # type "bounce": the receiving server refused the address for good; "blocked":
            # refused for now (reputation, content).
            classification = str(item.get("bounce_classification") or "")
            events.append(bounce_event(
                "sendgrid", recipient, event_id, permanent=item.get("type", "bounce") == "bounce",
                address_bad=classification in ("", "Invalid Address"),
                status=str(item.get("status") or ""), diagnostic=reason,
                message_id=message_id, timestamp=timestamp))
        elif name == "dropped":
            lowered = reason.lower()
            if "spam reporting" in lowered:
                events.append(simple_event("sendgrid", "complaint", recipient, event_id,
                                           f"{reason} (feedback)", "feedback", message_id,
                                           timestamp))
            elif "unsubscribed" in lowered:
                events.append(simple_event("sendgrid", "unsubscribe", recipient, event_id,
                                           reason, "", message_id, timestamp))
            elif "bounced address" in lowered or "invalid" in lowered:
                events.append(bounce_event("sendgrid", recipient, event_id, permanent=True,
                                           address_bad=True, diagnostic=reason,
                                           message_id=message_id, timestamp=timestamp))
        elif name == "spamreport":
            events.append(simple_event("sendgrid", "complaint", recipient, event_id,
                                       "spam complaint (feedback)", "feedback", message_id,
                                       timestamp))
        elif name in ("unsubscribe", "group_unsubscribe"):
            events.append(simple_event("sendgrid", "unsubscribe", recipient, event_id,
                                       "unsubscribed through SendGrid", "", message_id,
                                       timestamp))
    return events


def parse_sendgrid(body: bytes, *, headers: Mapping[str, str], public_key: str,
                   now: float | None = None) -> list[Event]:
    """Verify and read a SendGrid Event Webhook POST (a JSON array of events)."""
    verify_sendgrid(body, headers, public_key, time.time() if now is None else now)
    items = load_json(body)
    if not isinstance(items, list):
        raise WebhookRejected(400, "a SendGrid Event Webhook body is a JSON array")
    return sendgrid_events(items)
