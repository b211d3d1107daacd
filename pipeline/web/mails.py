"""The two mails of the signup: the double opt-in confirmation and the welcome.

Rendered from templates/confirm.* and templates/welcome.* (autoescaped HTML, plain text), built
as multipart/alternative MIME here and sent through the configured transport, like an issue.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid, parseaddr

from ..config import Config
from ..config.inbound import envelope_sender
from ..delivery.batch import RetryPolicy, deliver_message
from ..delivery.transports import open_transport
from ..errors import PipelineError
from ..issue.render import environment
from ..mail.compose import address_header, ascii_address, header_safe, list_id
from ..models import DeliveryResult, OutgoingMessage, Subscriber
from ..tokens import reader_ref, reader_token

log = logging.getLogger(__name__)
# Tries per signup mail: enough for a relay's brief hiccup, and the reader can ask again.
MAIL_ATTEMPTS = 3


def base_url(config: Config) -> str:
    return config.newsletter.base_url.rstrip("/")


def confirm_url(config: Config, key: bytes, subscriber: Subscriber, stamp: str = "",
                now: datetime | None = None) -> str:
    """The double opt-in link: the reader's ref and `stamp` (their state when it was made:
    subscribers.confirm_by_ref), expiring after [web] confirm_expiry_hours."""
    expires = (now or datetime.now(tz=UTC)).timestamp() + config.web.confirm_expiry_hours * 3600
    token = reader_token(key, "confirm", reader_ref(subscriber.email), stamp, int(expires))
    return f"{base_url(config)}/confirm/{token}"


def unsubscribe_url(config: Config, key: bytes, subscriber: Subscriber) -> str:
    # The same kind of token as an issue's, with no issue: it never expires either.
    return f"{base_url(config)}/u/{reader_token(key, 'unsubscribe', reader_ref(subscriber.email))}"


def _build(config: Config, subscriber: Subscriber, kind: str, subject: str,
           context: dict[str, object], now: datetime,
           unsubscribe: str | None = None) -> OutgoingMessage:
    env = environment(config)
    values = {"newsletter": config.newsletter, "schedule": config.schedule,
              "email": subscriber.email, "name": subscriber.name, **context}
    text = env.get_template(f"{kind}.txt.j2").render(values)
    html = env.get_template(f"{kind}.html.j2").render(values)
    sender_name, sender = parseaddr(config.newsletter.from_address)
    msg = EmailMessage(policy=SMTP)
    msg["From"] = formataddr((header_safe(sender_name), sender))
    # As in an issue: the name in RFC 2047 when not ASCII, an IDN domain in IDNA (no SMTPUTF8).
    msg["To"] = address_header(subscriber.name, subscriber.email)
    msg["Subject"] = header_safe(subject)
    msg["Date"] = format_datetime(now)
    mid = make_msgid(kind, domain=config.newsletter.sender_domain)
    msg["Message-ID"] = mid
    if config.newsletter.reply_to:
        msg["Reply-To"] = header_safe(config.newsletter.reply_to)
    msg["List-Id"] = list_id(config)
    if unsubscribe:
        msg["List-Unsubscribe"] = f"<{unsubscribe}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"  # no vacation replies to a transactional mail
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return OutgoingMessage(issue_id=kind, subscriber_id=subscriber.id,
                           sender=envelope_sender(config.delivery.return_path, sender),
                           recipient=ascii_address(subscriber.email), message_id=mid,
                           data=msg.as_bytes())


def confirm_message(config: Config, key: bytes, subscriber: Subscriber, stamp: str = "",
                    now: datetime | None = None) -> OutgoingMessage:
    now = now or datetime.now(tz=UTC)
    return _build(config, subscriber, "confirm",
                  f"Confirm your subscription to {config.newsletter.name}",
                  {"confirm_url": confirm_url(config, key, subscriber, stamp, now),
                   "expiry_hours": config.web.confirm_expiry_hours}, now)


def welcome_message(config: Config, key: bytes, subscriber: Subscriber,
                    now: datetime | None = None) -> OutgoingMessage:
    now = now or datetime.now(tz=UTC)
    unsubscribe = unsubscribe_url(config, key, subscriber)
    return _build(config, subscriber, "welcome", f"Welcome to {config.newsletter.name}",
                  {"unsubscribe_url": unsubscribe,
                   "archive_url": f"{base_url(config)}/issues/"}, now, unsubscribe)


def deliver(config: Config, message: OutgoingMessage) -> DeliveryResult:
    """Send one message through the configured transport (Maildir or SMTP), retrying a 4xx
    reply or an unreachable server a few times with backoff ([delivery]
    retry_backoff_seconds). Failures are logged, never raised: this runs after the response,
    and a reader whose confirmation never arrived can simply sign up again."""
    policy = RetryPolicy(min(MAIL_ATTEMPTS, config.delivery.max_attempts),
                         config.delivery.retry_backoff_seconds)
    try:
        transport = open_transport(config)
        try:
            result = deliver_message(message, message.subscriber_id or 0, transport,
                                     policy).result
        finally:
            transport.close()
    except (PipelineError, OSError) as exc:
        result = DeliveryResult(message.recipient, False, None, str(exc))
    if not result.ok:
        log.warning("%s mail to subscriber %s not sent: %s %s", message.issue_id,
                    message.subscriber_id, result.code, result.detail)
    return result
