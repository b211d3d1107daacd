"""Inbound mail as the servers and clients write it, answering a message the newsletter really
sent (its bytes, as the SMTP server or the outbox got them): an RFC 3464 delivery status
notification, an RFC 5965 ARF complaint, an RFC 3834 auto-reply, and the mail a client writes
for the `mailto:` of List-Unsubscribe. All built with the stdlib email package."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

NOW = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


def parse(raw: bytes) -> Message:
    return email.message_from_bytes(raw)


def _fields(text: str) -> list[Message]:
    return [email.message_from_string(block + "\n") for block in text.split("\n\n")]


def _report_part(subtype: str, text: str) -> MIMEBase:
    part = MIMEBase("message", subtype)
    part.set_payload(_fields(text))
    return part


def dsn(original: bytes, recipient: str, *, to: str, status: str = "5.1.1",
        diagnostic: str = "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown",
        action: str = "failed", message_id: str | None = None) -> bytes:
    """A bounce to RFC 3464 as Postfix writes one: multipart/report with a human part, the
    per-recipient delivery-status fields, and the original message; sent to `to`, the
    original's envelope sender (the VERP return path), from the null sender."""
    report = MIMEMultipart("report", report_type="delivery-status")
    report["Return-Path"] = "<>"
    report["From"] = "MAILER-DAEMON@mx.example.net (Mail Delivery System)"
    report["To"] = to
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Date"] = format_datetime(NOW)
    report["Message-ID"] = message_id or make_msgid("dsn", domain="mx.example.net")
    report["Auto-Submitted"] = "auto-replied"
    report.attach(MIMEText(
        "This is the mail system at host mx.example.net.\n\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients. It's attached below.\n\n"
        f"<{recipient}>: host mx.example.org said: {diagnostic.format(rcpt=recipient)}\n"))
    report.attach(_report_part(
        "delivery-status",
        "Reporting-MTA: dns; mx.example.net\nX-Postfix-Queue-ID: 4ABC123\n"
        f"X-Postfix-Sender: rfc822; {to}\nArrival-Date: {format_datetime(NOW)}\n\n"
        f"Final-Recipient: rfc822; {recipient}\nOriginal-Recipient: rfc822;{recipient}\n"
        f"Action: {action}\nStatus: {status}\nRemote-MTA: dns; mx.example.org\n"
        f"Diagnostic-Code: smtp; {diagnostic.format(rcpt=recipient)}"))
    report.attach(MIMEMessage(parse(original)))
    return report.as_bytes()


def arf(original: bytes, recipient: str, *, to: str = "fbl@pmcareerdigest.example.com",
        redacted: bool = False) -> bytes:
    """A feedback-loop complaint to RFC 5965 (as Yahoo's and AOL's loops send them), with the
    reported message attached (its To redacted when `redacted`)."""
    reported = parse(original)
    if redacted:
        del reported["To"]
        reported["To"] = "redacted@example.net"
    report = MIMEMultipart("report", report_type="feedback-report")
    report["From"] = "Yahoo! Mail AntiSpam Feedback <feedback@arf.mail.yahoo.com>"
    report["To"] = to
    report["Subject"] = "FW: " + str(reported["Subject"] or "")
    report["Date"] = format_datetime(NOW)
    report["Message-ID"] = make_msgid("arf", domain="arf.mail.yahoo.com")
    report.attach(MIMEText("This is an email abuse report for an email message received from "
                           "IP 192.0.2.1 on Mon, 30 Nov 2026 07:00:00 +0000.\n"))
    rcpt = "" if redacted else f"Original-Rcpt-To: {recipient}\n"
    report.attach(_report_part(
        "feedback-report",
        "Feedback-Type: abuse\nUser-Agent: Yahoo!-Mail-Feedback/2.0\nVersion: 1\n"
        f"Original-Mail-From: <{reported['Return-Path'] or 'bounces@example.com'}>\n{rcpt}"
        f"Arrival-Date: {format_datetime(NOW)}\nSource-IP: 192.0.2.1"))
    report.attach(MIMEMessage(reported))
    return report.as_bytes()


def mailto_unsubscribe(original: bytes, sender: str, client: str = "gmail") -> bytes:
    """What a mail client sends for the original's `mailto:` List-Unsubscribe: its address,
    and its ?subject= as the subject (Gmail adds a line of its own to the body)."""
    header = str(parse(original)["List-Unsubscribe"])
    mailto = next(part.strip(" <>\r\n\t") for part in header.split(",")
                  if "mailto:" in part)
    url = urlsplit(mailto)
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender
    message["To"] = unquote(url.path)
    message["Subject"] = parse_qs(url.query).get("subject", ["unsubscribe"])[0]
    message["Date"] = format_datetime(NOW)
    message["Message-ID"] = make_msgid(client, domain="mail.example.org")
    if client == "gmail":
        message.set_content("This message was automatically generated by Gmail.\n")
    else:
        message.set_content("")
    return message.as_bytes()


def auto_reply(original: bytes, sender: str, to: str) -> bytes:
    """A vacation reply (RFC 3834), sent to the original's return path `to`."""
    replied = parse(original)
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = "Out of Office: " + " ".join(str(replied["Subject"] or "").split())
    message["Date"] = format_datetime(NOW)
    message["Message-ID"] = make_msgid("ooo", domain="mail.example.org")
    message["In-Reply-To"] = str(replied["Message-ID"])
    message["Auto-Submitted"] = "auto-replied"
    message["X-Autoreply"] = "yes"
    message.set_content("I am out of the office until Monday, 7 December, with limited access "
                        "to email.\n")
    return message.as_bytes()
