"""Amazon SES notifications that arrive by mail: an SNS topic with an email subscription sends
each bounce, complaint or delivery as a JSON body ("AWS Notification Message", with an
x-amz-sns-message-id header). The same notification as the SNS webhook, read from a mailbox.

The JSON is the body up to the "--" line of SNS's footer; a long line may come back folded
after a "!" (as Sisimai::Lhost::AmazonSES also undoes)."""

from __future__ import annotations

import json
from email.message import Message
from typing import Any

from .dsn import Found
from .mime import text_of

# SES's Transient sub-types that name a reason (Sisimai::Lhost::AmazonSES).
_SUBTYPE_REASONS = {"MailboxFull": "mailboxfull", "MessageTooLarge": "mesgtoobig"}


def _body_json(text: str) -> Any:
    lines = []
    for line in text.replace("\r", "").split("\n"):
        if line.strip() == "--":
            break
        lines.append(line)
    candidates = ("\n".join(lines), "".join(line[1:] if index and lines[index - 1].endswith("!")
                                            else line for index, line in enumerate(lines)))
    for candidate in (candidates[0], candidates[1].replace("!", "")):
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    return None


def ses_notification(message: Message) -> dict[str, Any] | None:
    """The SES notification a mailed SNS message carries, or None."""
    if not message.get("x-amz-sns-message-id") or message.is_multipart():
        return None
    text = text_of(message).lstrip()
    if not text.startswith("{"):
        return None
    data = _body_json(text)
    if isinstance(data, dict) and isinstance(data.get("Message"), str):
        try:
            data = json.loads(data["Message"])
        except ValueError:
            return None
    if not isinstance(data, dict) or not (data.get("notificationType") or
                                          data.get("eventType")):
        return None
    return data


def ses_kind(notification: dict[str, Any]) -> str:
    return str(notification.get("notificationType") or notification.get("eventType") or "")


def ses_bounces(notification: dict[str, Any]) -> tuple[list[Found], bool]:
    """(one Found per bounced recipient, whether SES calls the bounce permanent)."""
    bounce = notification.get("bounce") or {}
    permanent = bounce.get("bounceType") == "Permanent"
    hint = "" if permanent else _SUBTYPE_REASONS.get(str(bounce.get("bounceSubType")), "")
    found = []
    for item in bounce.get("bouncedRecipients") or ():
        if not isinstance(item, dict) or "@" not in str(item.get("emailAddress", "")):
            continue
        kind, separator, words = str(item.get("diagnosticCode") or "").partition(";")
        diagnostic = words.strip() if separator and " " not in kind.strip() else kind.strip()
        found.append(Found(recipient=str(item["emailAddress"]).strip().lower(),
                           status=str(item.get("status") or ""), diagnostic=diagnostic,
                           action=str(item.get("action") or "failed").lower(), hint=hint))
    return found, permanent


def ses_complainers(notification: dict[str, Any]) -> tuple[list[str], str]:
    """(the complaining recipients, the feedback type) of a Complaint notification."""
    complaint = notification.get("complaint") or {}
    people = [str(item.get("emailAddress", "")).strip().lower()
              for item in complaint.get("complainedRecipients") or ()
              if isinstance(item, dict) and "@" in str(item.get("emailAddress", ""))]
    return people, str(complaint.get("complaintFeedbackType") or "abuse")
