"""RFC 3464 delivery status notifications: the per-recipient fields of a
message/delivery-status part (or of the same fields written inline in a text body, as some
servers do), into one `Found` per recipient."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from .mime import REPORT_TYPES, addresses, leaf_parts, text_of, unescape_jis

_FIELD_RE = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*)$")
_RECIPIENT_FIELDS = ("final-recipient", "original-recipient", "x-actual-recipient")
_COMMANDS = (
    (re.compile(r"\b(?:in reply to|after|while talking to [^:]*:\s*>>>)\s*(?:the\s+)?"
                r"(rcpt to|mail from|end of data|data|helo|ehlo|initial connection|"
                r"connect|quit)\b", re.I), None),
    (re.compile(r">>>\s*(RCPT|MAIL|DATA|EHLO|HELO)\b", re.I), None),
    (re.compile(r"\b(RCPT|MAIL|DATA|EHLO|HELO) command\b", re.I), None),
    (re.compile(r"most progress was (RCPT|MAIL|DATA|HELO|EHLO)\b", re.I), None),  # qmail
    # "RCPT TO:<a@b>" in a transcript, not "RCPT TO: a@b" in a list of the message's details.
    (re.compile(r"\b(RCPT)(?: TO:?\s*<| TO response|\s+host\b)|smtp:(rcpt)\b|"
                r"does not like (recipient)", re.I), None),
    (re.compile(r"\b(MAIL) FROM\b", re.I), None),
)
_COMMAND_NAMES = {"rcpt to": "RCPT", "mail from": "MAIL", "end of data": "DATA", "data": "DATA",
                  "helo": "HELO", "ehlo": "EHLO", "initial connection": "CONN",
                  "connect": "CONN", "quit": "QUIT", "rcpt": "RCPT", "mail": "MAIL"}


@dataclass(frozen=True)
class Found:
    """One recipient as a report gives it, before its reason is decided."""

    recipient: str
    alias: str = ""  # the same recipient's other address (Original- vs Final-Recipient)
    status: str = ""
    diagnostic: str = ""
    diagnostic_type: str = ""
    action: str = ""
    command: str = ""
    hint: str = ""  # a reason the format itself names
    context: str = ""  # the text around it, read when `diagnostic` names no reason
    rhost: str = ""  # the remote host that answered (Remote-MTA), when the report names it


def smtp_command(text: str) -> str:
    """The SMTP command a server's reply answered, from the words around it ("in reply to RCPT
    TO command", "after RCPT TO:", ">>> RCPT TO"); "" when the text does not say."""
    for pattern, _ in _COMMANDS:
        found = pattern.search(text)
        if found:
            word = next(group for group in found.groups() if group)
            return "RCPT" if word.lower() == "recipient" else \
                _COMMAND_NAMES.get(word.lower(), word.upper())
    return ""


def _blocks_from_text(text: str) -> list[dict[str, str]]:
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text.replace("\r", "").split("\n"):
        if not line.strip():
            if current:
                blocks.append(current)
                current, last = {}, ""
            continue
        if line[0] in " \t" and last:
            current[last] += " " + line.strip()
            continue
        found = _FIELD_RE.match(line)
        if found:
            last = found.group(1).lower()
            current[last] = current.get(last, "") or found.group(2).strip()
        else:
            last = ""
    if current:
        blocks.append(current)
    return blocks


def _blocks_of(part: Message) -> list[dict[str, str]]:
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks = []
        for item in payload:
            if isinstance(item, Message):
                fields = {name.lower(): " ".join(unescape_jis(str(value)).split())
                          for name, value in item.items()}
                if item.get_payload() and isinstance(item.get_payload(), str):
                    # Fields after a stray blank line land in the body: read them too.
                    for extra in _blocks_from_text(item.get_payload()):
                        blocks.append(extra)
                blocks.append(fields)
        return blocks
    return _blocks_from_text(text_of(part))


def _value(field: str) -> tuple[str, str]:
    """(type, value) of a typed field such as "rfc822; a@b" or "smtp; 550 …"."""
    kind, separator, rest = field.partition(";")
    if separator and " " not in kind.strip() and len(kind.strip()) < 20:
        return kind.strip().lower(), rest.strip()
    return "", field.strip()


def from_blocks(blocks: list[dict[str, str]]) -> list[Found]:
    found: list[Found] = []
    for block in blocks:
        # The first recipient field names the recipient (as Sisimai reads it); the other one,
        # when it differs, is kept too: Original-Recipient is the address we sent to, and
        # Final-Recipient may be what an alias expanded it to.
        listed = [address for name, value in block.items() if name in _RECIPIENT_FIELDS
                  for address in addresses(_value(value)[1])[:1]]
        if not listed:
            continue
        recipient = listed[0]
        alias = next((address for address in listed[1:] if address != recipient), "")
        kind, diagnostic = _value(block.get("diagnostic-code", ""))
        status_match = re.search(r"\d\.\d{1,3}\.\d{1,3}", block.get("status", ""))
        action = block.get("action", "").strip().lower().split(" ")[0]
        rhost = (_value(block.get("remote-mta", ""))[1].split() or [""])[0].strip("[]().")
        found.append(Found(recipient=recipient, alias=alias,
                           status=status_match.group(0) if status_match else "",
                           diagnostic=diagnostic, diagnostic_type=kind, action=action,
                           command=smtp_command(diagnostic), rhost=rhost))
    return found


def dsn_failures(message: Message) -> list[Found] | None:
    """The recipients of the message/delivery-status part; None when the message has none."""
    parts = [part for part in leaf_parts(message) if part.get_content_type() in REPORT_TYPES
             and part.get_content_type() != "message/feedback-report"]
    if not parts:
        return None
    found: list[Found] = []
    for part in parts:
        found.extend(from_blocks(_blocks_of(part)))
    return found


def inline_failures(text: str) -> list[Found]:
    """DSN fields written in a text body (Final-Recipient: … in plain text)."""
    if "final-recipient" not in text.lower() and "original-recipient" not in text.lower():
        return []
    return from_blocks(_blocks_from_text(text))
