"""ESP webhooks: the providers' documented example payloads (tests/fixtures/inbound/webhooks),
signed for real with keys made here (a self-signed certificate for SNS, a P-256 key for
SendGrid, an HMAC key for Mailgun); wrong, stale and replayed requests are refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from pipeline.inbound import ConfirmSubscription
from pipeline.inbound.webhooks import (
    WebhookRejected,
    parse_mailgun,
    parse_postmark,
    parse_sendgrid,
    parse_sns,
)

FIXTURES = Path(__file__).parent / "fixtures" / "inbound" / "webhooks"
NOW = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-bounces"
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc123.pem"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


# --- Amazon SES through SNS ---------------------------------------------------------------

@pytest.fixture(scope="module")
def signer() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(key.public_key()).serial_number(1)
                   .not_valid_before(NOW - timedelta(days=1))
                   .not_valid_after(NOW + timedelta(days=365)).sign(key, hashes.SHA256()))
    return key, certificate.public_bytes(serialization.Encoding.PEM)


def sns_message(key: rsa.RSAPrivateKey, kind: str, message: str, version: str = "2",
                **extra: str) -> dict[str, str]:
    body = {"Type": kind, "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            "TopicArn": TOPIC, "Message": message, "Timestamp": "2026-11-30T06:59:00.000Z",
            "SignatureVersion": version, "SigningCertURL": CERT_URL, **extra}
    fields = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type") \
        if kind == "Notification" else ("Message", "MessageId", "SubscribeURL", "Timestamp",
                                        "Token", "TopicArn", "Type")
    text = "".join(f"{name}\n{body[name]}\n" for name in fields if name in body)
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    body["Signature"] = base64.b64encode(
        key.sign(text.encode(), padding.PKCS1v15(), algorithm)).decode()
    return body


def serve(certificate: bytes, fetched: list[str]):
    def fetch(url: str) -> bytes:
        fetched.append(url)
        return certificate
    return fetch


@pytest.mark.parametrize("version", ["1", "2"])
def test_ses_bounce_and_complaint_through_signed_sns(signer, version: str) -> None:
    key, certificate = signer
    fetched: list[str] = []
    bounce = sns_message(key, "Notification", json.dumps(fixture("ses-bounce.json")), version,
                         Subject="Amazon SES Email Event Notification")
    events = parse_sns(json.dumps(bounce).encode(), fetch_certificate=serve(certificate, fetched),
                       topic_arns={TOPIC}, now=NOW)
    assert fetched == [CERT_URL]
    assert [(e.provider, e.kind, e.recipient, e.status, e.reason_code) for e in events] == \
        [("ses", "hard", "jane@example.com", "5.1.1", "userunknown")]
    assert events[0].message_id == "custom-message-ID"
    complaint = sns_message(key, "Notification", json.dumps(fixture("ses-complaint.json")),
                            version)
    events = parse_sns(json.dumps(complaint).encode(), fetch_certificate=serve(certificate, []),
                       topic_arns={TOPIC}, now=NOW)
    assert [(e.kind, e.recipient) for e in events] == [("complaint", "richard@example.com")]
    transient = sns_message(key, "Notification", json.dumps(fixture("ses-transient.json")))
    events = parse_sns(json.dumps(transient).encode(), fetch_certificate=serve(certificate, []),
                       topic_arns={TOPIC}, now=NOW)
    assert [(e.kind, e.reason_code) for e in events] == [("soft", "mailboxfull")]


def test_subscription_confirmation(signer) -> None:
    key, certificate = signer
    url = ("https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn="
           f"{TOPIC}&Token=2336412f37")
    message = sns_message(key, "SubscriptionConfirmation", "You have chosen to subscribe",
                          SubscribeURL=url, Token="2336412f37")
    result = parse_sns(json.dumps(message).encode(), fetch_certificate=serve(certificate, []),
                       topic_arns={TOPIC}, now=NOW)
    assert result == ConfirmSubscription(TOPIC, url)
    evil = sns_message(key, "SubscriptionConfirmation", "x", Token="1",
                       SubscribeURL="https://attacker.example/confirm")
    with pytest.raises(WebhookRejected) as refused:
        parse_sns(json.dumps(evil).encode(), fetch_certificate=serve(certificate, []),
                  topic_arns={TOPIC}, now=NOW)
    assert refused.value.status == 403


@pytest.mark.parametrize("url", [
    "http://sns.eu-west-1.amazonaws.com/cert.pem",
    "https://sns.eu-west-1.amazonaws.com.attacker.example/cert.pem",
    "https://attacker.example/sns.eu-west-1.amazonaws.com/cert.pem",
    "https://user@sns.eu-west-1.amazonaws.com/cert.pem",
    "https://sns.eu-west-1.amazonaws.com:8443/cert.pem",
    "https://sns.eu-west-1.amazonaws.com/cert.txt",
])
def test_certificate_url_is_checked_before_any_fetch(signer, url: str) -> None:
    key, certificate = signer
    fetched: list[str] = []
    message = sns_message(key, "Notification", "{}")
    message["SigningCertURL"] = url
    with pytest.raises(WebhookRejected) as refused:
        parse_sns(json.dumps(message).encode(), fetch_certificate=serve(certificate, fetched),
                  topic_arns={TOPIC}, now=NOW)
    assert refused.value.status == 403 and fetched == []


def test_forged_tampered_or_foreign_sns_messages_are_refused(signer) -> None:
    key, certificate = signer
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = json.dumps(fixture("ses-bounce.json"))
    cases = [sns_message(other, "Notification", message)]  # signed by someone else
    tampered = sns_message(key, "Notification", message)
    tampered["Message"] = message.replace("jane@example.com", "victim@example.com")
    cases.append(tampered)
    unknown_version = sns_message(key, "Notification", message)
    unknown_version["SignatureVersion"] = "3"
    cases.append(unknown_version)
    for case in cases:
        with pytest.raises(WebhookRejected) as refused:
            parse_sns(json.dumps(case).encode(), fetch_certificate=serve(certificate, []),
                      topic_arns={TOPIC}, now=NOW)
        assert refused.value.status == 403
    # A genuine signature on a topic the operator did not subscribe proves nothing.
    with pytest.raises(WebhookRejected, match="topic"):
        parse_sns(json.dumps(sns_message(key, "Notification", message)).encode(),
                  fetch_certificate=serve(certificate, []),
                  topic_arns={"arn:aws:sns:eu-west-1:1:other"}, now=NOW)
    # An expired certificate.
    with pytest.raises(WebhookRejected, match="expired"):
        parse_sns(json.dumps(sns_message(key, "Notification", message)).encode(),
                  fetch_certificate=serve(certificate, []), topic_arns={TOPIC},
                  now=NOW + timedelta(days=400))


# --- Mailgun ------------------------------------------------------------------------------

MAILGUN_KEY = b"key-3ax6xnjp29jd6fds4gc373sgvjxteol0"


def mailgun_body(name: str, timestamp: float, token: str, key: bytes = MAILGUN_KEY) -> bytes:
    payload = fixture(name)
    signature = hmac.new(key, f"{int(timestamp)}{token}".encode(), hashlib.sha256).hexdigest()
    payload["signature"] = {"timestamp": str(int(timestamp)), "token": token,
                            "signature": signature}
    return json.dumps(payload).encode()


class Seen:
    """The caller's replay cache."""

    def __init__(self) -> None:
        self.tokens: set[str] = set()

    def __call__(self, token: str) -> bool:
        known = token in self.tokens
        self.tokens.add(token)
        return known


def test_mailgun_events() -> None:
    now = NOW.timestamp()
    seen = Seen()
    permanent = parse_mailgun(mailgun_body("mailgun-failed-permanent.json", now, "t" * 50),
                              signing_key=MAILGUN_KEY, seen_token=seen, now=now)
    assert [(e.kind, e.recipient, e.event_id) for e in permanent] == \
        [("hard", "alice@example.com", "G9Bn5sl1TC6nu79C8C0bwg")]
    temporary = parse_mailgun(mailgun_body("mailgun-failed-temporary.json", now, "u" * 50),
                              signing_key=MAILGUN_KEY, seen_token=seen, now=now)
    assert [(e.kind, e.reason_code) for e in temporary] == [("soft", "mailboxfull")]
    complained = parse_mailgun(mailgun_body("mailgun-complained.json", now, "v" * 50),
                               signing_key=MAILGUN_KEY, seen_token=seen, now=now)
    assert [(e.kind, e.recipient) for e in complained] == [("complaint", "alice@example.com")]


def test_mailgun_refuses_bad_stale_replayed_and_unsigned() -> None:
    now = NOW.timestamp()
    seen = Seen()
    cases = [
        (mailgun_body("mailgun-complained.json", now, "a" * 50, key=b"wrong"), 403),
        (mailgun_body("mailgun-complained.json", now - 3600, "b" * 50), 403),
        (json.dumps({"event-data": fixture("mailgun-complained.json")["event-data"]}).encode(),
         401),
    ]
    for body, status in cases:
        with pytest.raises(WebhookRejected) as refused:
            parse_mailgun(body, signing_key=MAILGUN_KEY, seen_token=seen, now=now)
        assert refused.value.status == status
    body = mailgun_body("mailgun-complained.json", now, "c" * 50)
    assert parse_mailgun(body, signing_key=MAILGUN_KEY, seen_token=seen, now=now)
    with pytest.raises(WebhookRejected, match="replay"):
        parse_mailgun(body, signing_key=MAILGUN_KEY, seen_token=seen, now=now)


# --- Postmark -----------------------------------------------------------------------------

def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_postmark_events_with_basic_auth() -> None:
    auth = basic("postmark", "s3cret-webhook")
    events = parse_postmark((FIXTURES / "postmark-bounce.json").read_bytes(), authorization=auth,
                            username="postmark", password="s3cret-webhook")
    assert [(e.provider, e.kind, e.recipient) for e in events] == \
        [("postmark", "hard", "john@example.com")]
    events = parse_postmark((FIXTURES / "postmark-spam-complaint.json").read_bytes(),
                            authorization=auth, username="postmark", password="s3cret-webhook")
    assert [e.kind for e in events] == ["complaint"]
    soft = fixture("postmark-bounce.json") | {"Type": "SoftBounce", "TypeCode": 4096,
                                              "Details": "smtp;452 4.2.2 mailbox full"}
    events = parse_postmark(json.dumps(soft).encode(), authorization=auth, username="postmark",
                            password="s3cret-webhook")
    assert [(e.kind, e.reason_code) for e in events] == [("soft", "mailboxfull")]
    auto = fixture("postmark-bounce.json") | {"Type": "AutoResponder", "TypeCode": 64}
    assert [e.kind for e in parse_postmark(json.dumps(auto).encode(), authorization=auth,
                                           username="postmark", password="s3cret-webhook")] \
        == ["auto-reply"]


@pytest.mark.parametrize(("authorization", "status"), [
    (None, 401), ("Bearer abc", 401), ("Basic !!!", 401),
    (basic("postmark", "wrong"), 403), (basic("other", "s3cret-webhook"), 403),
])
def test_postmark_refuses_missing_or_wrong_credentials(authorization, status: int) -> None:
    with pytest.raises(WebhookRejected) as refused:
        parse_postmark((FIXTURES / "postmark-bounce.json").read_bytes(),
                       authorization=authorization, username="postmark",
                       password="s3cret-webhook")
    assert refused.value.status == status


# --- SendGrid -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sendgrid_key() -> tuple[ec.EllipticCurvePrivateKey, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return key, base64.b64encode(public).decode()


def sendgrid_headers(key: ec.EllipticCurvePrivateKey, body: bytes, timestamp: str
                     ) -> dict[str, str]:
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp}


def test_sendgrid_signed_events(sendgrid_key) -> None:
    key, public = sendgrid_key
    body = (FIXTURES / "sendgrid-events.json").read_bytes()
    stamp = str(int(NOW.timestamp()))
    events = parse_sendgrid(body, headers=sendgrid_headers(key, body, stamp), public_key=public,
                            now=NOW.timestamp())
    assert [(e.kind, e.recipient) for e in events] == [
        ("hard", "example@test.com"),  # dropped: Bounced Address
        ("hard", "bounced@test.com"),  # bounce, Invalid Address
        ("soft", "blocked@test.com"),  # blocked: not the address
        ("complaint", "complainer@test.com"),
        ("unsubscribe", "leaver@test.com"),
        ("unsubscribe", "groupleaver@test.com"),
    ]
    assert len({event.event_id for event in events}) == len(events)


def test_sendgrid_refuses_bad_stale_and_unsigned(sendgrid_key) -> None:
    key, public = sendgrid_key
    body = (FIXTURES / "sendgrid-events.json").read_bytes()
    stamp = str(int(NOW.timestamp()))
    other = ec.generate_private_key(ec.SECP256R1())
    cases = [
        (sendgrid_headers(other, body, stamp), 403),
        (sendgrid_headers(key, body + b" ", stamp), 403),
        (sendgrid_headers(key, body, str(int(NOW.timestamp()) - 3600)), 403),
        ({}, 401),
    ]
    for headers, status in cases:
        with pytest.raises(WebhookRejected) as refused:
            parse_sendgrid(body, headers=headers, public_key=public, now=NOW.timestamp())
        assert refused.value.status == status
