"""HMAC-SHA256 tokens for unsubscribe and confirmation links, and the signing key.

The key comes from $DIGEST_SECRET; when unset, a random key is created once in the state folder
(mode 0600) and used from then on, so a fresh clone works without set-up.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

SECRET_ENV = "DIGEST_SECRET"
KEY_FILE = "secret.key"


def signing_key(state_dir: Path) -> bytes:
    env = os.environ.get(SECRET_ENV)
    if env:
        return env.encode("utf-8")
    path = state_dir / KEY_FILE
    if not path.is_file():
        state_dir.mkdir(parents=True, exist_ok=True)
        # Written whole under a private name, then linked into place: link() never replaces,
        # so of two processes starting at once the first key wins and neither can read a
        # half-written (empty) key file, as it could after an O_EXCL create.
        tmp = state_dir / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text(encoding="utf-8").strip().encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: bytes, purpose: str, subject: str, issue: str = "",
         expires: int | None = None) -> str:
    """A token binding `purpose` (unsubscribe, confirm…), `subject` (subscriber) and `issue`."""
    expiry = "" if expires is None else str(expires)
    payload = "\x1f".join((purpose, subject, issue, expiry))
    mac = hmac.new(key, payload.encode("utf-8"), hashlib.sha256).digest()[:20]
    return ".".join((_b64(subject.encode("utf-8")), _b64(issue.encode("utf-8")), expiry,
                     _b64(mac)))


def verify(key: bytes, purpose: str, token: str,
           now: float | None = None) -> tuple[str, str] | None:
    """(subject, issue) when the token is genuine, for this purpose and unexpired; else None."""
    try:
        subject_b64, issue_b64, expiry, mac_b64 = token.split(".")
        subject = _unb64(subject_b64).decode("utf-8")
        issue = _unb64(issue_b64).decode("utf-8")
        mac = _unb64(mac_b64)
    except (ValueError, UnicodeDecodeError):
        return None
    payload = "\x1f".join((purpose, subject, issue, expiry))
    expected = hmac.new(key, payload.encode("utf-8"), hashlib.sha256).digest()[:20]
    if not hmac.compare_digest(mac, expected):
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


def binding(value: str) -> str:
    """A short keyless digest of `value` to bind a token to it without putting it in a URL
    (a confirmation link names the address's hash, not the address)."""
    return hashlib.sha256(value.strip().lower().encode("utf-8")).hexdigest()[:16]

