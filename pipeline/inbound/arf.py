"""Complaints: RFC 5965 ARF feedback reports (Yahoo, AOL, Comcast, Fastmail, Validity's
relays…) and the relays that do not follow it (Microsoft's JMRP, with the reader in
X-HmXmrOriginalRecipient; AOL's old "Client TOS Notification"; plain forwards of the reported
message from a feedback-loop mailbox)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from .mime import addresses, header, leaf_parts, original_message, text_of

# RFC 5965 / 6650 feedback types a reader's complaint comes as; "auth-failure" (RFC 6591,
# DMARC/DKIM/SPF failure reports) and "not-spam" are not complaints.
COMPLAINT_TYPES = frozenset({"abuse", "fraud", "virus", "other", "opt-out", "complaint",
                             "unsubscribe", "dmarc"})
_FBL_SENDER = re.compile(r"^(?:scomp|fbl|feedbackloop|feedback-?loop|feedback|complaints?|"
                         r"jmrp|abuse-?report|arf|spam-?report|staff)@", re.I)
_FBL_SUBJECT = re.compile(r"complaint about message from|client tos notification|"
                          r"abuse report|spam report|feedback[ -]loop|fbl report|"
                          r"email feedback report|spam complaint", re.I)
_ORIGINAL_RECIPIENT_HEADERS = ("X-HmXmrOriginalRecipient", "X-Original-To", "Delivered-To")


@dataclass(frozen=True)
class Complaint:
    feedback_type: str  # "abuse", … or "" for a non-ARF relay
    recipients: tuple[str, ...]
    original: Message | None
    is_complaint: bool  # False for auth-failure / not-spam reports


def _report_fields(message: Message) -> dict[str, list[str]] | None:
    for part in leaf_parts(message):
        if part.get_content_type() == "message/feedback-report":
            payload = part.get_payload()
            fields: dict[str, list[str]] = {}
            blocks = payload if isinstance(payload, list) else []
            for block in blocks:
                if isinstance(block, Message):
                    for name, value in block.items():
                        fields.setdefault(name.lower(), []).append(" ".join(str(value).split()))
            if not fields:
                for line in text_of(part).split("\n"):
                    name, separator, value = line.partition(":")
                    if separator and name.strip() and " " not in name.strip():
                        fields.setdefault(name.strip().lower(), []).append(value.strip())
            return fields
    return None


def is_arf(message: Message) -> bool:
    content_type = message.get("Content-Type", "").lower()
    if "feedback-report" in content_type:
        return True
    return any(part.get_content_type() == "message/feedback-report" for part in leaf_parts(message))


def _original_recipients(original: Message | None, exclude: set[str]) -> list[str]:
    if original is None:
        return []
    for name in _ORIGINAL_RECIPIENT_HEADERS:
        listed = [address for address in addresses(header(original, name))
                  if address not in exclude]
        if listed:
            return listed
    return [address for address in addresses(header(original, "To")) if address not in exclude]


def complaint(message: Message, exclude: set[str]) -> Complaint | None:
    """The complaint `message` carries; None when it is not a complaint report."""
    original = original_message(message)
    fields = _report_fields(message)
    if fields is not None or is_arf(message):
        fields = fields or {}
        feedback_type = (fields.get("feedback-type") or [""])[0].lower().split(";")[0].strip()
        listed = [address for name in ("original-rcpt-to", "removal-recipient")
                  for value in fields.get(name, ()) for address in addresses(value)
                  if address not in exclude]
        if not listed:
            listed = _original_recipients(original, exclude)
        return Complaint(feedback_type or "abuse", tuple(dict.fromkeys(listed)), original,
                         is_complaint=(feedback_type or "abuse") in COMPLAINT_TYPES)
    sender = (addresses(header(message, "From")) or [""])[0]
    jmrp = original is not None and original.get("X-HmXmrOriginalRecipient") is not None
    if jmrp or (original is not None and (_FBL_SENDER.match(sender)
                                          and _FBL_SUBJECT.search(header(message, "Subject")))):
        listed = _original_recipients(original, exclude)
        return Complaint("", tuple(dict.fromkeys(listed)), original, is_complaint=True)
    return None
