"""Compose stage: the compiled issue + one subscriber → one OutgoingMessage.

MJML is compiled once per issue (render stage); here only per-reader tokens are substituted,
escaped for HTML, then the MIME message is built: multipart/alternative, text first, HTML last,
quoted-printable, with the headers bulk senders need (RFC 8058 one-click unsubscribe, List-Id).
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, parseaddr

from .config import Config
from .models import OutgoingMessage, RenderedIssue, Subscriber
from .render import TOKENS
from .tokens import sign

_TOKEN_RE = re.compile("|".join(re.escape(t) for t in TOKENS.values()))
_HEADER_UNSAFE = re.compile(r"[\r\n\x00-\x1f\x7f]+")


def header_safe(value: str) -> str:
    """No CR/LF or control characters from content ever reach a header."""
    return _HEADER_UNSAFE.sub(" ", value).strip()


@dataclass(frozen=True)
class Links:
    unsubscribe: str
    unsubscribe_mailto: str
    web: str


def web_url(config: Config, week: str) -> str:
    return f"{config.newsletter.base_url.rstrip('/')}/issues/{week}/"


def reader_links(config: Config, key: bytes, subscriber: Subscriber | None, week: str) -> Links:
    base = config.newsletter.base_url.rstrip("/")
    if subscriber is None:  # the public (archive) version: no personal link
        return Links(f"{base}/unsubscribe", f"mailto:unsubscribe@{config.newsletter.sender_domain}",
                     web_url(config, week))
    token = sign(key, "unsubscribe", str(subscriber.id), week)
    return Links(
        unsubscribe=f"{base}/u/{token}",
        unsubscribe_mailto=(f"mailto:unsubscribe@{config.newsletter.sender_domain}"
                            f"?subject=unsubscribe%20{token}"),
        web=web_url(config, week),
    )


def greeting(subscriber: Subscriber | None) -> str:
    if subscriber and subscriber.name:
        return f"Hi {subscriber.name.split()[0]},"
    return "Hi there,"


def personalise(rendered: RenderedIssue, values: dict[str, str]) -> tuple[str, str]:
    """(html, text) with every token replaced: HTML-escaped in the HTML, raw in the text."""
    by_token = {TOKENS[name]: value for name, value in values.items()}
    html_out = _TOKEN_RE.sub(lambda m: html.escape(by_token[m.group(0)], quote=True),
                             rendered.html)
    text_out = _TOKEN_RE.sub(lambda m: by_token[m.group(0)], rendered.text)
    return html_out, text_out


def token_values(subscriber: Subscriber | None, links: Links) -> dict[str, str]:
    return {
        "unsubscribe_url": links.unsubscribe,
        "web_url": links.web,
        "greeting": greeting(subscriber),
        "email": subscriber.email if subscriber else "",
    }


def public_version(config: Config, key: bytes, rendered: RenderedIssue) -> tuple[str, str]:
    """The reader-neutral HTML and text, as archived and shown on the web."""
    links = reader_links(config, key, None, rendered.issue.id)
    return personalise(rendered, token_values(None, links))


def message_id(config: Config, week: str, subscriber_key: str) -> str:
    """Stable per (issue, subscriber): a resend after a crash carries the same Message-ID, so
    receiving servers can fold the duplicate."""
    digest = hashlib.sha256(f"{week}\x1f{subscriber_key}".encode()).hexdigest()[:20]
    return f"<{week}.{digest}@{config.newsletter.sender_domain}>"


def list_id(config: Config) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", config.newsletter.name.lower()).strip("-")
    return f"{header_safe(config.newsletter.name)} <{slug}.{config.newsletter.sender_domain}>"


def build_message(config: Config, rendered: RenderedIssue, subscriber: Subscriber,
                  key: bytes, now: datetime, recipient: str | None = None,
                  subject_prefix: str = "") -> OutgoingMessage:
    """One personalised message. `recipient` overrides the To address (test copies)."""
    week = rendered.issue.id
    links = reader_links(config, key, subscriber, week)
    html_body, text_body = personalise(rendered, token_values(subscriber, links))
    to_address = recipient or subscriber.email
    sender_name, sender_address = parseaddr(config.newsletter.from_address)

    msg = EmailMessage(policy=SMTP)
    msg["From"] = formataddr((header_safe(sender_name), sender_address))
    msg["To"] = formataddr((header_safe(subscriber.name or ""), header_safe(to_address)))
    msg["Subject"] = header_safe(subject_prefix + rendered.issue.subject)
    msg["Date"] = format_datetime(now)
    mid = message_id(config, week, f"{subscriber.id}:{to_address}")
    msg["Message-ID"] = mid
    if config.newsletter.reply_to:
        msg["Reply-To"] = header_safe(config.newsletter.reply_to)
    msg["List-Id"] = list_id(config)
    msg["List-Unsubscribe"] = f"<{links.unsubscribe}>, <{links.unsubscribe_mailto}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["List-Archive"] = f"<{config.newsletter.base_url.rstrip('/')}/issues/>"
    msg["Precedence"] = "bulk"
    msg["X-Digest-Issue"] = week
    msg.set_content(text_body, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html_body, subtype="html", charset="utf-8", cte="quoted-printable")
    return OutgoingMessage(issue_id=week, subscriber_id=subscriber.id, sender=sender_address,
                           recipient=to_address, message_id=mid, data=msg.as_bytes())
