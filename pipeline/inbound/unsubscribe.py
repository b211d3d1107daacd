"""Unsubscribe mail: what a mail client sends to the `List-Unsubscribe` mailto address
(`mailto:unsubscribe@<domain>?subject=unsubscribe%20<token>`, compose.py), as Gmail, Apple Mail
and Outlook write it: the token in the Subject (perhaps behind "Re:", encoded, folded), or only
in the body, or in a +tag of the address. The token is returned raw: the caller verifies it
(tokens.read_reader_token(keys, "unsubscribe", token))."""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.message import Message

from .mime import addresses, header
from .verp import decode_local_part

# tokens.sign: base64url(subject) "." base64url(issue) "." expiry digits "." base64url(mac);
# a reader ref is 22 characters (30 once base64url-encoded), the MAC 20 bytes (27 characters).
TOKEN_RE = re.compile(r"(?<![A-Za-z0-9_.-])([A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*\.[0-9]*\."
                      r"[A-Za-z0-9_-]{27})(?![A-Za-z0-9_-])")
_ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To", "Cc")


def find_token(text: str) -> str | None:
    found = TOKEN_RE.search(text or "")
    return found.group(1) if found else None


def unsubscribe_addresses(list_addresses: Iterable[str]) -> set[str]:
    """The list addresses that take unsubscribe mail (local part "unsubscribe…")."""
    return {address.lower() for address in list_addresses
            if address.split("@", 1)[0].lower().startswith("unsubscribe")}


def _is_unsubscribe_address(address: str, mailboxes: set[str]) -> str | None:
    """The +tag (or "") when `address` is one of the unsubscribe mailboxes, else None."""
    local, _, domain = address.partition("@")
    base, plus, tag = local.partition("+")
    if mailboxes:
        return tag if f"{base}@{domain}" in mailboxes or address in mailboxes else None
    return tag if base == "unsubscribe" else None


def unsubscribe_request(message: Message, body: str, list_addresses: Iterable[str],
                        envelope_to: str | None = None) -> tuple[str | None, str] | None:
    """(token or None, the reader's address) when `message` was sent to the unsubscribe
    address (by its envelope recipient when known, else its headers); None otherwise."""
    mailboxes = unsubscribe_addresses(list_addresses)
    tag: str | None = None
    for value in [envelope_to or ""] + [header(message, name) for name in _ENVELOPE_HEADERS]:
        for address in addresses(value):
            found = _is_unsubscribe_address(address, mailboxes)
            if found is not None:
                tag = found
                break
        if tag is not None:
            break
    subject = header(message, "Subject")
    if tag is None:
        # Also a reply to the newsletter whose Subject carries "unsubscribe" and a token.
        if not (re.search(r"\bunsubscribe\b", subject, re.I) and find_token(subject)):
            return None
    token = find_token(subject) or find_token(body[:20000])
    if token is None and tag:
        decoded = decode_local_part(tag)
        token = find_token(decoded or "") or find_token(tag)
    sender = (addresses(header(message, "From")) or addresses(header(message, "Sender"))
              or [""])[0]
    return token, sender
