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

from ..compose import address_header, ascii_address, header_safe, list_id
from ..config import Config
from ..errors import PipelineError
from ..models import DeliveryResult, OutgoingMessage, Subscriber
from ..render import environment
from ..run import make_transport
from ..tokens import binding, sign, sign_expiring

log = logging.getLogger(__name__)


def base_url(config: Config) -> str:
    return config.newsletter.base_url.rstrip("/")


def confirm_url(config: Config, key: bytes, subscriber: Subscriber,
                now: datetime | None = None) -> str:
    seconds = config.web.confirm_expiry_hours * 3600
    token = sign_expiring(key, "confirm", str(subscriber.id), binding(subscriber.email),
                          seconds, now=(now or datetime.now(tz=UTC)).timestamp())
    return f"{base_url(config)}/confirm/{token}"


def unsubscribe_url(config: Config, key: bytes, subscriber: Subscriber) -> str:
    # The same kind of token as an issue's, with no issue: it never expires either.
    return f"{base_url(config)}/u/{sign(key, 'unsubscribe', str(subscriber.id), '')}"


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
    return OutgoingMessage(issue_id=kind, subscriber_id=subscriber.id, sender=sender,
                           recipient=ascii_address(subscriber.email), message_id=mid,
                           data=msg.as_bytes())


def confirm_message(config: Config, key: bytes, subscriber: Subscriber,
                    now: datetime | None = None) -> OutgoingMessage:
    now = now or datetime.now(tz=UTC)
    return _build(config, subscriber, "confirm",
                  f"Confirm your subscription to {config.newsletter.name}",
                  {"confirm_url": confirm_url(config, key, subscriber, now),
                   "expiry_hours": config.web.confirm_expiry_hours}, now)


def welcome_message(config: Config, key: bytes, subscriber: Subscriber,
                    now: datetime | None = None) -> OutgoingMessage:
    now = now or datetime.now(tz=UTC)
    unsubscribe = unsubscribe_url(config, key, subscriber)
    return _build(config, subscriber, "welcome", f"Welcome to {config.newsletter.name}",
                  {"unsubscribe_url": unsubscribe,
                   "archive_url": f"{base_url(config)}/issues/"}, now, unsubscribe)


def deliver(config: Config, message: OutgoingMessage) -> DeliveryResult:
    """Send one message through the configured transport (Maildir or SMTP); failures are
    logged, never raised (this runs after the response)."""
    try:
        transport = make_transport(config)
        try:
            result = transport.send(message)
        finally:
            transport.close()
    except (PipelineError, OSError) as exc:
        # After the response: nobody to tell but the log. A pending reader can sign up again.
        result = DeliveryResult(message.recipient, False, None, str(exc))
    if not result.ok:
        log.warning("%s mail to subscriber %s not sent: %s %s", message.issue_id,
                    message.subscriber_id, result.code, result.detail)
    return result
