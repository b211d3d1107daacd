"""Amazon SES notifications through Amazon SNS.

An SNS message is trusted when (1) its SigningCertURL is https on an sns.<region>.amazonaws.com
host, checked before anything is fetched, (2) its signature verifies against that certificate
(SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA) over the fields SNS signs, and (3) its topic
is one the operator subscribed: anyone can create an SNS topic and point it at a public URL, so
a genuine signature alone proves nothing about who sent it."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ..model import ConfirmSubscription, Event, WebhookResult
from .common import WebhookRejected, bounce_event, load_json, simple_event

_SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?$")
_SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token",
                                 "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token",
                                "TopicArn", "Type"),
}
_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
# SES permanent bounce sub-types that say the address itself is bad ("General" is SES's
# "remove the recipient's address from your list").
_BAD_ADDRESS = frozenset({"general", "noemail", "suppressed", "onaccountsuppressionlist"})


def check_sns_url(url: str, *, certificate: bool) -> str:
    """`url` when it is an https URL on an SNS host (a .pem path for a certificate);
    WebhookRejected(403) otherwise. Called before any fetch."""
    parts = urlsplit(url or "")
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or parts.username or parts.password or parts.port not in \
            (None, 443) or not _SNS_HOST.match(host) or \
            (certificate and not parts.path.endswith(".pem")):
        what = "SigningCertURL" if certificate else "SubscribeURL"
        raise WebhookRejected(403, f"{what} {url!r} is not an https URL on an "
                                   "sns.<region>.amazonaws.com host")
    return url


def _string_to_sign(message: dict[str, Any]) -> bytes:
    fields = _SIGNED_FIELDS.get(str(message.get("Type")))
    if fields is None:
        raise WebhookRejected(400, f"unknown SNS message type {message.get('Type')!r}")
    lines = []
    for name in fields:
        if name in message and message[name] is not None:
            lines.append(f"{name}\n{message[name]}\n")
        elif name != "Subject":
            raise WebhookRejected(403, f"the SNS message lacks the signed field {name}")
    return "".join(lines).encode("utf-8")


def _verify(message: dict[str, Any], certificate_pem: bytes, now: datetime) -> None:
    algorithm = _HASHES.get(str(message.get("SignatureVersion")))
    if algorithm is None:
        raise WebhookRejected(403, "unknown SNS SignatureVersion "
                                   f"{message.get('SignatureVersion')!r} (1 and 2 are valid)")
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem)
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
    except ValueError as exc:
        raise WebhookRejected(403, f"unusable SNS certificate or signature: {exc}") from exc
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise WebhookRejected(403, "the SNS signing certificate is expired or not yet valid")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise WebhookRejected(403, "the SNS signing certificate does not hold an RSA key")
    try:
        key.verify(signature, _string_to_sign(message), padding.PKCS1v15(), algorithm())
    except InvalidSignature as exc:
        raise WebhookRejected(403, "the SNS signature does not verify") from exc


def _timestamp(value: object) -> float | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def ses_events(notification: dict[str, Any]) -> list[Event]:
    """The events of one SES notification (or SES event-publishing record)."""
    kind = notification.get("notificationType") or notification.get("eventType")
    mail = notification.get("mail") or {}
    common = mail.get("commonHeaders") or {}
    message_id = common.get("messageId") or mail.get("messageId")
    events: list[Event] = []
    if kind == "Bounce":
        bounce = notification.get("bounce") or {}
        permanent = bounce.get("bounceType") == "Permanent"
        bad = str(bounce.get("bounceSubType", "")).lower() in _BAD_ADDRESS
        for item in bounce.get("bouncedRecipients") or ():
            address = str(item.get("emailAddress", ""))
            events.append(bounce_event(
                "ses", address, f"{bounce.get('feedbackId', '')}:{address.lower()}",
                permanent=permanent, address_bad=bad, status=str(item.get("status") or ""),
                diagnostic=str(item.get("diagnosticCode") or ""), message_id=message_id,
                timestamp=_timestamp(bounce.get("timestamp"))))
    elif kind == "Complaint":
        complaint = notification.get("complaint") or {}
        feedback = complaint.get("complaintFeedbackType") or "abuse"
        if feedback == "not-spam":
            return []
        for item in complaint.get("complainedRecipients") or ():
            address = str(item.get("emailAddress", ""))
            events.append(simple_event(
                "ses", "complaint", address, f"{complaint.get('feedbackId', '')}:{address.lower()}",
                f"spam complaint, {feedback} report (feedback)", "feedback", message_id,
                _timestamp(complaint.get("timestamp"))))
    return events


def parse_sns(body: bytes, *, fetch_certificate: Callable[[str], bytes],
              topic_arns: Collection[str], now: datetime | None = None) -> WebhookResult:
    """Verify an SNS POST and read it: the SES events of a Notification, a
    ConfirmSubscription to act on, or [] for an UnsubscribeConfirmation.

    fetch_certificate(url) returns the PEM certificate at a URL already checked by
    check_sns_url (the caller fetches and may cache it); topic_arns: the topics subscribed."""
    message = load_json(body)
    if not isinstance(message, dict):
        raise WebhookRejected(400, "an SNS message is a JSON object")
    url = check_sns_url(str(message.get("SigningCertURL", "")), certificate=True)
    _verify(message, fetch_certificate(url), now or datetime.now(UTC))
    topic = str(message.get("TopicArn", ""))
    if topic not in topic_arns:
        raise WebhookRejected(403, f"SNS topic {topic!r} is not one this newsletter subscribed",
                              "add it to the configured topic ARNs if it is yours")
    kind = message.get("Type")
    if kind == "SubscriptionConfirmation":
        return ConfirmSubscription(topic, check_sns_url(str(message.get("SubscribeURL", "")),
                                                        certificate=False))
    if kind != "Notification":
        return []
    notification = load_json(str(message.get("Message", "")).encode("utf-8"))
    if not isinstance(notification, dict):
        raise WebhookRejected(400, "the SNS Message is not an SES notification")
    return ses_events(notification)
