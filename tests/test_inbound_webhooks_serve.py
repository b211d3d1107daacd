"""The ESP webhooks on the real `digest serve` (a subprocess), over HTTP: Amazon SES through
SNS (signed with a certificate served by a local HTTP server standing in for
sns.<region>.amazonaws.com: DIGEST_TEST_SNS_SERVER), Mailgun, Postmark and SendGrid, each
with correctly and wrongly signed requests. A refused request changes nothing; a provider
whose keys are not set has no route."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from .conftest import free_port
from .test_web_support import web_newsletter

FIXTURES = Path(__file__).parent / "fixtures" / "inbound" / "webhooks"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-bounces"
CERT_PATH = "/SimpleNotificationService-0123456789abcdef.pem"
CERT_URL = f"https://sns.eu-west-1.amazonaws.com{CERT_PATH}"
SUBSCRIBE_URL = ("https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn="
                 f"{TOPIC}&Token=2336412f37fb687f5d51e6e2425f004aed")
MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
POSTMARK = ("postmark-hook", "s3cret-webhook-password")
READERS = ("jane@example.com", "richard@example.com", "alice@example.com", "john@example.com",
           "bounced@test.com", "complainer@test.com", "leaver@test.com", "blocked@test.com")
CONFIG = f"""
[inbound.webhooks]
mailgun_signing_key_env = "TEST_MAILGUN_SIGNING_KEY"
postmark_username_env = "TEST_POSTMARK_USER"
postmark_password_env = "TEST_POSTMARK_PASSWORD"
sendgrid_public_key_env = "TEST_SENDGRID_PUBLIC_KEY"
ses_topic_arns = ["{TOPIC}"]
"""


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


class Hooks:
    """A newsletter serving every webhook, its readers, and the keys that sign for them."""

    def __init__(self, root: Path, cli, serve, http_server, monkeypatch, extra: str = CONFIG):
        now = datetime.now(UTC)
        self.sns_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                       .public_key(self.sns_key.public_key()).serial_number(7)
                       .not_valid_before(now - timedelta(days=1))
                       .not_valid_after(now + timedelta(days=30))
                       .sign(self.sns_key, hashes.SHA256()))
        self.sns_server = http_server
        http_server.serve_bytes(CERT_PATH, certificate.public_bytes(serialization.Encoding.PEM),
                                "application/x-pem-file")
        http_server.serve_bytes("/", b"<ConfirmSubscriptionResponse/>", "text/xml")
        self.sendgrid_key = ec.generate_private_key(ec.SECP256R1())
        public = self.sendgrid_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        host, port = http_server.server.server_address[:2]
        for variable, value in (("TEST_MAILGUN_SIGNING_KEY", MAILGUN_KEY),
                                ("TEST_POSTMARK_USER", POSTMARK[0]),
                                ("TEST_POSTMARK_PASSWORD", POSTMARK[1]),
                                ("TEST_SENDGRID_PUBLIC_KEY", base64.b64encode(public).decode()),
                                ("DIGEST_TEST_SNS_SERVER", f"{host}:{port}")):
            monkeypatch.setenv(variable, value)
        self.port = free_port()
        self.news = web_newsletter(root, self.port, extra=extra)
        for address in READERS:
            assert cli("--config", self.news.config_path, "subscribers", "add",
                       address).exit_code == 0
        self.serve = serve
        self.base = serve(self.news, self.port)

    def post(self, provider: str, body: bytes, headers: dict[str, str] | None = None,
             base: str | None = None) -> httpx.Response:
        return httpx.post(f"{base or self.base}/webhooks/{provider}", content=body,
                          headers={"Content-Type": "application/json", **(headers or {})},
                          timeout=30)

    def statuses(self) -> dict[str, str]:
        with sqlite3.connect(self.news.root / "var" / "digest.sqlite3") as conn:
            return dict(conn.execute("SELECT email, status FROM subscribers"))

    def events(self) -> list[tuple]:
        with sqlite3.connect(self.news.root / "var" / "digest.sqlite3") as conn:
            return conn.execute("SELECT ref, kind, source, detail FROM subscriber_events"
                                " ORDER BY id").fetchall()

    def fetched(self) -> list[str]:
        return [path for method, path, _ in self.sns_server.requests if method == "GET"]

    # --- signing, as each provider does

    def sns(self, kind: str, message: str, key: rsa.RSAPrivateKey | None = None,
            **extra: str) -> bytes:
        body = {"Type": kind, "MessageId": f"msg-{time.monotonic_ns()}", "TopicArn": TOPIC,
                "Message": message, "Timestamp": datetime.now(UTC).isoformat(),
                "SignatureVersion": "2", "SigningCertURL": CERT_URL, **extra}
        fields = (("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
                  if kind == "Notification" else
                  ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn",
                   "Type"))
        text = "".join(f"{name}\n{body[name]}\n" for name in fields if name in body)
        signature = (key or self.sns_key).sign(text.encode(), padding.PKCS1v15(),
                                               hashes.SHA256())
        body["Signature"] = base64.b64encode(signature).decode()
        return json.dumps(body).encode()

    @staticmethod
    def mailgun(name: str, token: str, key: str = MAILGUN_KEY,
                timestamp: float | None = None) -> bytes:
        payload = fixture(name)
        stamp = str(int(time.time() if timestamp is None else timestamp))
        signature = hmac.new(key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
        payload["signature"] = {"timestamp": stamp, "token": token, "signature": signature}
        return json.dumps(payload).encode()

    def sendgrid(self, body: bytes, key: ec.EllipticCurvePrivateKey | None = None
                 ) -> dict[str, str]:
        stamp = str(int(time.time()))
        signature = (key or self.sendgrid_key).sign(stamp.encode() + body,
                                                    ec.ECDSA(hashes.SHA256()))
        return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
                "X-Twilio-Email-Event-Webhook-Timestamp": stamp}


@pytest.fixture
def hooks(tmp_path, cli, serve, http_server, monkeypatch) -> Hooks:
    return Hooks(tmp_path / "news", cli, serve, http_server, monkeypatch)


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_ses_through_sns(hooks: Hooks) -> None:
    bounce = json.dumps(fixture("ses-bounce.json"))
    # Signed by somebody else's key: refused before anything changes.
    forged = hooks.post("ses", hooks.sns("Notification", bounce,
                                         rsa.generate_private_key(65537, 2048)))
    assert forged.status_code == 403
    assert hooks.statuses()["jane@example.com"] == "active"
    # The certificate's URL is checked before it is fetched: no request leaves for another host.
    elsewhere = json.loads(hooks.sns("Notification", bounce))
    elsewhere["SigningCertURL"] = "https://attacker.example/SimpleNotificationService-1.pem"
    assert hooks.post("ses", json.dumps(elsewhere).encode()).status_code == 403
    assert hooks.fetched() == [CERT_PATH]  # only the first, forged request's certificate

    genuine = hooks.post("ses", hooks.sns("Notification", bounce))
    assert genuine.status_code == 200, genuine.text
    assert genuine.json()["applied"] == 1
    assert hooks.statuses()["jane@example.com"] == "bounced"
    ref, kind, source, detail = hooks.events()[-1]
    assert (kind, source) == ("bounced", "webhook:ses") and "5.1.1" in detail
    complaint = hooks.post("ses", hooks.sns("Notification",
                                            json.dumps(fixture("ses-complaint.json"))))
    assert complaint.status_code == 200
    assert hooks.statuses()["richard@example.com"] == "complained"
    # The same SES event again (SNS redelivers with a new MessageId): applied once.
    before = hooks.events()
    again = hooks.post("ses", hooks.sns("Notification", bounce))
    assert again.json()["results"][0]["duplicate"] is True
    assert hooks.events() == before
    assert hooks.fetched() == [CERT_PATH]  # the certificate was cached

    # Subscription confirmation: the SubscribeURL is fetched (through the stand-in host).
    confirm = hooks.post("ses", hooks.sns("SubscriptionConfirmation", "You have chosen...",
                                          SubscribeURL=SUBSCRIBE_URL, Token="2336412f37"))
    assert confirm.status_code == 200 and confirm.json() == {"confirmed": TOPIC}
    assert hooks.fetched()[-1] == SUBSCRIBE_URL.removeprefix(
        "https://sns.eu-west-1.amazonaws.com")
    evil = hooks.post("ses", hooks.sns("SubscriptionConfirmation", "x", Token="1",
                                       SubscribeURL="https://attacker.example/confirm"))
    assert evil.status_code == 403 and len(hooks.fetched()) == 2


def test_mailgun_signed_stale_replayed_even_after_a_restart(hooks: Hooks) -> None:
    token = "c0ffee" * 8
    unsigned = json.dumps({"event-data": fixture("mailgun-complained.json")["event-data"]})
    assert hooks.post("mailgun", unsigned.encode()).status_code == 401
    wrong = hooks.post("mailgun", hooks.mailgun("mailgun-complained.json", "a" * 48,
                                                key="key-wrong"))
    stale = hooks.post("mailgun", hooks.mailgun("mailgun-complained.json", "b" * 48,
                                                timestamp=time.time() - 3600))
    assert (wrong.status_code, stale.status_code) == (403, 403)
    assert hooks.statuses()["alice@example.com"] == "active"

    body = hooks.mailgun("mailgun-failed-permanent.json", token)
    response = hooks.post("mailgun", body)
    assert response.status_code == 200, response.text
    assert hooks.statuses()["alice@example.com"] == "bounced"
    replay = hooks.post("mailgun", body)
    assert replay.status_code == 403 and "replay" in replay.json()["error"]
    # Another `digest serve` (a restart: nothing in memory) still knows the token.
    other = hooks.serve(hooks.news, free_port())
    assert hooks.post("mailgun", body, base=other).status_code == 403


def test_postmark_basic_auth(hooks: Hooks) -> None:
    body = (FIXTURES / "postmark-bounce.json").read_bytes()
    assert hooks.post("postmark", body).status_code == 401
    assert hooks.post("postmark", body, basic(POSTMARK[0], "wrong")).status_code == 403
    assert hooks.statuses()["john@example.com"] == "active"
    response = hooks.post("postmark", body, basic(*POSTMARK))
    assert response.status_code == 200, response.text
    assert hooks.statuses()["john@example.com"] == "bounced"
    assert hooks.events()[-1][2] == "webhook:postmark"


def test_sendgrid_signed_events(hooks: Hooks) -> None:
    body = (FIXTURES / "sendgrid-events.json").read_bytes()
    other = ec.generate_private_key(ec.SECP256R1())
    assert hooks.post("sendgrid", body, hooks.sendgrid(body, other)).status_code == 403
    assert hooks.post("sendgrid", body + b" ", hooks.sendgrid(body)).status_code == 403
    assert hooks.post("sendgrid", body).status_code == 401
    assert hooks.statuses()["bounced@test.com"] == "active"
    response = hooks.post("sendgrid", body, hooks.sendgrid(body))
    assert response.status_code == 200, response.text
    statuses = hooks.statuses()
    assert (statuses["bounced@test.com"], statuses["complainer@test.com"],
            statuses["leaver@test.com"], statuses["blocked@test.com"]) == (
        "bounced", "complained", "unsubscribed", "active")


def test_a_provider_without_its_keys_has_no_route(tmp_path, serve,
                                                  monkeypatch) -> None:
    monkeypatch.delenv("TEST_MAILGUN_SIGNING_KEY", raising=False)
    extra = '\n[inbound.webhooks]\nmailgun_signing_key_env = "TEST_MAILGUN_SIGNING_KEY"\n'
    port = free_port()
    news = web_newsletter(tmp_path / "news", port, extra=extra)
    base = serve(news, port)
    for provider in ("mailgun", "postmark", "sendgrid", "ses"):
        response = httpx.post(f"{base}/webhooks/{provider}", content=b"{}", timeout=30)
        assert response.status_code == 404, provider
