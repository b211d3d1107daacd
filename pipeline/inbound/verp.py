"""VERP: a return path per message, `bounces+TOKEN@example.com`, that names the delivery.

A bounce goes to the envelope sender, so the token comes back in the bounce's `To`,
`Delivered-To`, `X-Original-To` or `Envelope-To` whatever the bouncing server wrote, and maps
the bounce to its reader even when the mailbox that bounced is a forwarding alias.

Why a token of its own rather than tokens.reader_token: a local part is at most 64 octets
(RFC 5321 §4.5.3.1.1) and some servers and mailbox providers lower-case it on the way back
(Gmail's Delivered-To does). A reader token is ~70 case-sensitive characters with dots (and `..`
when a field is empty): not a valid unquoted local part, and too long. The VERP token is
lower-case base32, 53 characters for an ISO week: the reader's ref (132 bits, all of it), the
issue, and an 80-bit HMAC-SHA256 (enough for a token that can only mark a bounce: an attacker
must guess 2^80 values online). `encode_local_part` / `decode_local_part` still carry any token
losslessly where length does not matter (an unsubscribe +tag, say)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence

_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B32 = "abcdefghijklmnopqrstuvwxyz234567"
_REF_CHARS = 22  # tokens.REF_LENGTH: 22 base64url characters, 132 bits
_REF32_CHARS = 27  # the same 132 bits in base32 (135 bits, the top 3 zero)
_MAC_BYTES = 10
_MAC32_CHARS = 16
_ISSUE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,23}$")
_ISO_WEEK_RE = re.compile(r"^(\d{4})-w(\d{2})$")
_DOMAIN = b"pmcd-verp\x1f"

Keys = bytes | Sequence[bytes]


def _ref_to_b32(ref: str) -> str:
    number = 0
    for char in ref:
        number = number * 64 + _B64URL.index(char)
    chars = []
    for _ in range(_REF32_CHARS):
        chars.append(_B32[number & 31])
        number >>= 5
    return "".join(reversed(chars))


def _b32_to_ref(text: str) -> str | None:
    number = 0
    for char in text:
        position = _B32.find(char)
        if position < 0:
            return None
        number = number * 32 + position
    if number >> (6 * _REF_CHARS):
        return None  # more than 132 bits: not one of ours
    chars = []
    for _ in range(_REF_CHARS):
        chars.append(_B64URL[number & 63])
        number >>= 6
    return "".join(reversed(chars))


def _canonical_issue(issue: str) -> str:
    lowered = issue.lower()
    if not _ISSUE_RE.match(lowered):
        raise ValueError(f"issue {issue!r} cannot go into a VERP address: use letters, digits "
                         "and '-', at most 24 characters (an ISO week such as 2026-W48)")
    return lowered


def _mac(key: bytes, ref: str, issue: str) -> str:
    digest = hmac.new(key, _DOMAIN + f"{ref}\x1f{issue}".encode("ascii"), hashlib.sha256)
    return base64.b32encode(digest.digest()[:_MAC_BYTES]).decode("ascii").lower()


def sign_verp(key: bytes, ref: str, issue: str) -> str:
    """The VERP token for reader `ref` (tokens.reader_ref) and `issue` (its week): lower-case
    letters, digits and '-', 53 characters for an ISO week."""
    if len(ref) != _REF_CHARS or any(char not in _B64URL for char in ref):
        raise ValueError(f"not a reader ref: {ref!r}")
    canonical = _canonical_issue(issue)
    return f"{_ref_to_b32(ref)}-{canonical}-{_mac(key, ref, canonical)}"


def verify_verp(keys: Keys, token: str) -> tuple[str, str] | None:
    """(ref, issue) when `token` (any case) was made by sign_verp with one of `keys`; else None.
    An ISO week comes back as written in the archive ("2026-W48")."""
    token = token.strip().lower()
    if len(token) < _REF32_CHARS + _MAC32_CHARS + 3:
        return None
    ref32, issue, mac = token[:_REF32_CHARS], token[_REF32_CHARS + 1:-_MAC32_CHARS - 1], \
        token[-_MAC32_CHARS:]
    if token[_REF32_CHARS] != "-" or token[-_MAC32_CHARS - 1] != "-" \
            or not _ISSUE_RE.match(issue):
        return None
    ref = _b32_to_ref(ref32)
    if ref is None:
        return None
    candidates = (keys,) if isinstance(keys, bytes) else tuple(keys)
    # Every key is tried, so the time taken does not tell which one matched.
    genuine = [hmac.compare_digest(mac, _mac(key, ref, issue)) for key in candidates]
    if not any(genuine):
        return None
    week = _ISO_WEEK_RE.match(issue)
    return ref, (f"{week.group(1)}-W{week.group(2)}" if week else issue)


def return_path(template: str, token: str) -> str:
    """`[delivery] return_path` with its `{token}` filled in (the template as is without one)."""
    return template.replace("{token}", token)


def verp_pattern(template: str) -> re.Pattern[str] | None:
    """A pattern finding the token in an address written from `template`, in any case; None
    when the template has no `{token}` (a fixed return path)."""
    if "{token}" not in template:
        return None
    prefix, _, suffix = template.partition("{token}")
    return re.compile(rf"(?<![\w.+-]){re.escape(prefix)}([A-Za-z0-9=-]+){re.escape(suffix)}\b",
                      re.IGNORECASE)


def find_verp_token(addresses: Iterable[str], template: str | None) -> str | None:
    """The token of the first of `addresses` (header values, in the order to trust them) that
    matches the VERP template; None when none does."""
    pattern = verp_pattern(template) if template else None
    if pattern is None:
        return None
    for text in addresses:
        found = pattern.search(text or "")
        if found:
            return found.group(1).lower()
    return None


def encode_local_part(token: str) -> str:
    """Any token (a reader token with its dots) as a valid local part, lower-case base32 without
    padding: safe from case folding, twice as long (mind the 64-octet limit)."""
    return base64.b32encode(token.encode("utf-8")).decode("ascii").rstrip("=").lower()


def decode_local_part(text: str) -> str | None:
    """The token `encode_local_part` encoded, or None when `text` is not such an encoding."""
    cleaned = text.strip().upper()
    try:
        return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8)).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
