"""HMAC-SHA256 tokens for the links in readers' mail (unsubscribe, confirm, resubscribe) and
the web forms (CSRF).

A reader is named by `reader_ref(address)`, a keyless digest of the address, never by a
database row id: a link made before the database was recreated or restored from an older
backup still acts on the address it was made for, and on nobody else. Tokens are signed with
the current key and verified against every key still accepted (state/keys.py: rotation).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Sequence

REF_LENGTH = 22  # 132 bits of the digest: no two addresses of any real list collide
_REF_RE = re.compile(r"^[A-Za-z0-9_-]{22}$")
_REF_DOMAIN = b"pmcd-reader\x1f"  # keeps these digests apart from any other use of sha256

Keys = bytes | Sequence[bytes]  # one key, or the accepted keys (the current one first)


def reader_ref(address: str) -> str:
    """The reader's reference in tokens and in `subscribers.ref`: a digest of the normalised
    address (subscribers.normalize_email), lower-cased. The same with any key, in any
    database, so after a restore the same address has the same ref."""
    digest = hashlib.sha256(_REF_DOMAIN + address.strip().lower().encode("utf-8")).digest()
    return _b64(digest)[:REF_LENGTH]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:20]


def sign(key: bytes, purpose: str, subject: str, issue: str = "",
         expires: int | None = None) -> str:
    """A token binding `purpose` (unsubscribe, confirm…), `subject` and `issue`."""
    expiry = "" if expires is None else str(expires)
    payload = "\x1f".join((purpose, subject, issue, expiry)).encode("utf-8")
    return ".".join((_b64(subject.encode("utf-8")), _b64(issue.encode("utf-8")), expiry,
                     _b64(_mac(key, payload))))


def verify(keys: Keys, purpose: str, token: str,
           now: float | None = None) -> tuple[str, str] | None:
    """(subject, issue) when the token was signed by one of `keys` for this purpose and is
    unexpired; else None."""
    try:
        subject_b64, issue_b64, expiry, mac_b64 = token.split(".")
        subject = _unb64(subject_b64).decode("utf-8")
        issue = _unb64(issue_b64).decode("utf-8")
        mac = _unb64(mac_b64)
    except (ValueError, UnicodeDecodeError):
        return None
    payload = "\x1f".join((purpose, subject, issue, expiry)).encode("utf-8")
    candidates = (keys,) if isinstance(keys, bytes) else tuple(keys)
    # Every key is tried, so the time taken does not tell which one matched.
    genuine = [hmac.compare_digest(mac, _mac(key, payload)) for key in candidates]
    if not any(genuine):
        return None
    try:
        expired = bool(expiry) and int(expiry) < (time.time() if now is None else now)
    except ValueError:
        return None
    if expired:
        return None
    return subject, issue


def sign_expiring(key: bytes, purpose: str, subject: str, issue: str, seconds: float,
                  now: float | None = None) -> str:
    """A token that `verify` refuses `seconds` from now (signup confirmations, CSRF)."""
    return sign(key, purpose, subject, issue,
                expires=int((time.time() if now is None else now) + seconds))


def reader_token(key: bytes, purpose: str, ref: str, issue: str = "",
                 expires: int | None = None) -> str:
    """A token naming one reader by ref: an unsubscribe link (`issue` = the week), a
    confirmation (`issue` = the reader's state stamp, see web/signup.py)…"""
    if not _REF_RE.match(ref):
        raise ValueError(f"not a reader ref: {ref!r}")
    return sign(key, purpose, ref, issue, expires)


def read_reader_token(keys: Keys, purpose: str, token: str,
                      now: float | None = None) -> tuple[str, str] | None:
    """(ref, issue) of a genuine, unexpired reader token for `purpose`; else None."""
    verified = verify(keys, purpose, token, now)
    if verified is None or not _REF_RE.match(verified[0]):
        return None
    return verified
