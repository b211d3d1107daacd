"""Reading a message the way bounce parsing needs: header values as text, the human-readable
text of the report, the attached original message, and the addresses in a text.

The stdlib parser with the compat32 policy: it never raises on broken mail and is the fastest
of the stdlib's (the modern policy parses every address header eagerly)."""

from __future__ import annotations

import email
import html
import re
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32

ADDRESS_RE = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(?![A-Za-z0-9-])")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_TAGS = re.compile(r"<(?:script|style)\b.*?</(?:script|style)>|<[^>]*>", re.S | re.I)
_BREAKS = re.compile(r"<\s*(?:br|/p|/div|/tr|/li|/h\d)\b[^>]*>", re.I)
ORIGINAL_TYPES = ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers",
                  "message/global", "message/global-headers")
# X.400 and DSN prefixes glued to an address by old gateways: "dda:SMTP=a@b", "rfc822=a@b".
_PREFIX_RE = re.compile(r"^(?:smtp|rfc822|mailto|x400|dda:smtp)[=:]")
REPORT_TYPES = ("message/delivery-status", "message/global-delivery-status",
                "message/feedback-report")


def unescape_jis(text: str) -> str:
    """Text still in ISO-2022-JP escapes (a Japanese server's header field or a part that
    does not declare its charset) decoded; other text as it is."""
    if "\x1b$" not in text:
        return text
    try:
        return text.encode("ascii").decode("iso-2022-jp")
    except (UnicodeError, LookupError):
        return text


def parse(raw: bytes) -> Message:
    """The message, however broken (a leading mbox "From " line is dropped)."""
    if raw.startswith(b"From "):
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    return email.message_from_bytes(raw, policy=compat32)


def header(message: Message, name: str) -> str:
    """A header's value as one line of text (encoded words decoded, control characters
    removed); "" when absent."""
    value = message.get(name)
    if value is None:
        return ""
    text = str(value)
    if "=?" in text:
        try:
            text = str(make_header(decode_header(text)))
        except (ValueError, LookupError, UnicodeError):
            pass
    return _CONTROLS.sub("", " ".join(unescape_jis(text).split()))


def all_headers(message: Message, name: str) -> list[str]:
    return [_CONTROLS.sub("", " ".join(str(value).split()))
            for value in message.get_all(name) or ()]


def text_of(part: Message) -> str:
    """A leaf part's body as text: transfer encoding undone, charset decoded leniently."""
    payload = part.get_payload(decode=True)
    if payload is None:
        inner = part.get_payload()
        if isinstance(inner, list):
            return "\n\n".join(_as_text(item) for item in inner)
        return inner if isinstance(inner, str) else ""
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, errors="replace")
    except LookupError:
        text = payload.decode("latin-1")
    if part.get_content_type() == "text/html":
        text = html_to_text(text)
    text = unescape_jis(text)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _as_text(item: object) -> str:
    if isinstance(item, Message):
        if item.is_multipart() or item.get_payload() in ("", None):
            return "\n".join(f"{name}: {value}" for name, value in item.items())
        return "\n".join(f"{name}: {value}" for name, value in item.items()) + "\n\n" + \
            text_of(item)
    return str(item)


def html_to_text(markup: str) -> str:
    return html.unescape(_TAGS.sub(" ", _BREAKS.sub("\n", markup)))


def leaf_parts(message: Message) -> list[Message]:
    """The parts in order, not descending into attached messages (remembered on the message:
    every question about a bounce walks them)."""
    cached = getattr(message, "_inbound_leaves", None)
    if cached is not None:
        return cached
    found: list[Message] = []

    def walk(part: Message) -> None:
        kind = part.get_content_type()
        if part.is_multipart() and not kind.startswith("message/"):
            for child in part.get_payload():
                if isinstance(child, Message):
                    walk(child)
        else:
            found.append(part)
    walk(message)
    message._inbound_leaves = found  # type: ignore[attr-defined]
    return found


def report_text(message: Message) -> str:
    """The human-readable text of a bounce: its text parts before any attached original or
    report part (HTML only when there is no plain text)."""
    plain: list[str] = []
    markup: list[str] = []
    for part in leaf_parts(message):
        # "text/plain\n charset=…" (a missing ";"): the type is the first word.
        kind = part.get_content_type().split()[0].rstrip(";")
        if kind in ORIGINAL_TYPES or kind in REPORT_TYPES:
            if plain or markup:
                break
            continue
        if kind == "text/plain" or (kind == "text" or not part.get_content_maintype()):
            plain.append(text_of(part))
        elif kind == "text/html":
            markup.append(text_of(part))
        elif part.get_content_maintype() == "multipart":
            # A multipart whose boundary the parser could not find (a broken header): its
            # body is all there is to read.
            plain.append(text_of(part))
    return "\n".join(plain or markup)


_FORWARDED = re.compile(r"^[ \t]*(?:begin forwarded message:|-+ ?forwarded message ?-+)[ \t]*$",
                        re.I | re.M)
_HEADER_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9-]*:|^[ \t]")


def _unquote(text: str) -> str:
    lines = text.split("\n")
    filled = [line for line in lines if line.strip()]
    if not filled or sum(line.startswith(">") for line in filled) * 2 < len(filled):
        return text
    return "\n".join(line[2:] if line.startswith("> ") else line[1:] if line.startswith(">")
                     else line for line in lines)


def unwrap(text: str) -> str:
    """The bounce in a text someone forwarded inline: one level of quoting removed when it is
    quoted whole ("> " before most lines), and the forwarding note and the forwarded
    message's own header lines dropped; other text as it is."""
    if text.startswith(">") or "\n>" in text:
        text = _unquote(text)
    marker = _FORWARDED.search(text[:2000])
    if marker is None:
        return text
    rest = text[marker.end():].lstrip("\n").split("\n")
    start = 0
    while start < len(rest) and rest[start].strip() and _HEADER_FIELD.match(rest[start]):
        start += 1
    # Yahoo ends its own words with the same marker, the original in the next part.
    return "\n".join(rest[start:]) if start >= 2 and "".join(rest[start:]).strip() else text


def original_message(message: Message) -> Message | None:
    """The original message attached to a report (message/rfc822 or text/rfc822-headers)."""
    for part in leaf_parts(message):
        kind = part.get_content_type()
        if kind in ORIGINAL_TYPES:
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
            text = text_of(part)
            if text.strip():
                return email.message_from_string(text.lstrip("\n"), policy=compat32)
    return None


def addresses(text: str) -> list[str]:
    """The addresses in `text`, lower-cased, in order, each once."""
    seen: dict[str, None] = {}
    for found in ADDRESS_RE.finditer(text):
        address = _PREFIX_RE.sub("", found.group(0).lower()).strip(".'`")
        if "@" in address and not address.startswith("@"):
            seen.setdefault(address, None)
    return list(seen)


def message_id(value: str) -> str | None:
    """The `<…>` id of a Message-ID value, without brackets; None when there is none."""
    found = re.search(r"<([^<>\s]+)>", value) or re.search(r"(\S+@\S+)", value)
    return found.group(1) if found else None
