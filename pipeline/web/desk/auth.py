"""Who may use the desk. On loopback (the default) the machine's own users; on any other address
only the editor, logged in with the password whose hash the environment variable named by
`[desk] password_hash_env` holds. Hashes are made with hashlib (no new dependency), as

    scrypt$<n>$<r>$<p>$<salt, base64>$<hash, base64>
    pbkdf2_sha256$<iterations>$<salt>$<hash, base64>       (Django's format)

A session is a signed, expiring cookie bound to the hash: a new password ends every session."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import os
import secrets

from ...config import Config
from ...errors import ConfigError, UsageError
from ...tokens import sign_expiring, verify
from ..ratelimit import RateLimiter

SESSION_COOKIE = "digest_desk_session"
_SCRYPT_MAX_N = 2**20  # the operator's own hash: bounded, so a typo cannot eat the memory
LOGIN_LIMIT, LOGIN_WINDOW_SECONDS = 10, 900


def make_hash(password: str, n: int = 2**14, r: int = 8, p: int = 1) -> str:
    """A scrypt hash in the format verify_password reads (README shows the one-liner)."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p)
    return "$".join(("scrypt", str(n), str(r), str(p), base64.b64encode(salt).decode(),
                     base64.b64encode(digest).decode()))


def _b64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def hash_problem(encoded: str) -> str | None:
    """Why `encoded` is not a hash verify_password can use; None when it is."""
    parts = encoded.strip().split("$")
    try:
        if parts[0] == "scrypt" and len(parts) == 6:
            n, r, p = (int(x) for x in parts[1:4])
            if n < 2 or n & (n - 1) or n > _SCRYPT_MAX_N or not (0 < r <= 32 and 0 < p <= 16):
                return "scrypt parameters out of range (n a power of two up to 2^20)"
            if not _b64(parts[4]) or len(_b64(parts[5])) < 16:
                return "scrypt salt or hash missing"
            return None
        if parts[0] == "pbkdf2_sha256" and len(parts) == 4:
            if not 1000 <= int(parts[1]) <= 10_000_000 or not parts[2]:
                return "pbkdf2_sha256 iterations out of range or salt missing"
            return None if len(_b64(parts[3])) >= 16 else "pbkdf2_sha256 hash missing"
    except (ValueError, binascii.Error):
        return "a number or a base64 part does not parse"
    return "not a scrypt$… or pbkdf2_sha256$… hash"


def verify_password(password: str, encoded: str) -> bool:
    parts = encoded.strip().split("$")
    given = password.encode("utf-8")
    if parts[0] == "scrypt":
        n, r, p = (int(x) for x in parts[1:4])
        expected = _b64(parts[5])
        digest = hashlib.scrypt(given, salt=_b64(parts[4]), n=n, r=r, p=p,
                                maxmem=256 * n * r + 2**20, dklen=len(expected))
    else:
        expected = _b64(parts[3])
        digest = hashlib.pbkdf2_hmac("sha256", given, parts[2].encode("utf-8"), int(parts[1]),
                                     dklen=len(expected))
    return hmac.compare_digest(digest, expected)


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def desk_password_hash(config: Config, host: str) -> str | None:
    """The password hash the desk asks for, or None (loopback without one configured). A desk
    on any other address without a usable hash refuses to start (exit 2)."""
    name = config.desk.password_hash_env
    value = os.environ.get(name, "").strip() if name else ""
    if value:
        problem = hash_problem(value)
        if problem:
            raise ConfigError(f"{config.path}: desk.password_hash_env: ${name}: {problem}",
                              hint="make one with the one-liner in README, 'The editor's desk'")
        return value
    if is_loopback(host):
        return None
    where = (f"the environment variable {name} (named by [desk] password_hash_env) is not set"
             if name else "[desk] password_hash_env is not set")
    raise UsageError(f"digest desk --host {host}: not a loopback address, and {where}",
                     hint="serve the desk on 127.0.0.1 (the default, behind an SSH tunnel or a "
                          "proxy), or set a password hash (README, 'The editor's desk')")


def _binding(password_hash: str) -> str:
    return hashlib.sha256(b"pmcd-desk\x1f" + password_hash.encode()).hexdigest()[:32]


def new_session(key: bytes, password_hash: str, hours: int) -> str:
    return sign_expiring(key, "desk-session", secrets.token_hex(16), _binding(password_hash),
                         hours * 3600)


def valid_session(key: bytes, password_hash: str, cookie: str) -> bool:
    verified = verify(key, "desk-session", cookie)
    return verified is not None and hmac.compare_digest(verified[1], _binding(password_hash))


def login_limiter() -> RateLimiter:
    return RateLimiter(LOGIN_LIMIT, LOGIN_WINDOW_SECONDS)
