"""CSRF protection: the signed double-submit cookie.

A random nonce lives in an HttpOnly, SameSite=Strict cookie; each form carries an HMAC-signed,
expiring token that names the nonce and the form it is for. A POST is accepted only when the
token is genuine, unexpired, for that form, and its nonce equals the cookie's. Another site can
neither read the cookie nor forge the signature. (The RFC 8058 one-click POST is exempt by
design: it comes from mail providers without cookies, and its URL token is the credential.)
"""

from __future__ import annotations

import hmac
import re
import secrets

from starlette.requests import Request
from starlette.responses import Response

from ..tokens import Keys, sign_expiring, verify

COOKIE = "digest_csrf"
TOKEN_SECONDS = 4 * 3600
_NONCE_RE = re.compile(r"^[0-9a-f]{32}$")


def nonce(request: Request, cookie: str = COOKIE) -> str:
    """The request's cookie nonce when well-formed, else a fresh one (set it on the response).
    `cookie` names it (the desk has its own: cookies do not tell ports apart)."""
    value = request.cookies.get(cookie, "")
    return value if _NONCE_RE.match(value) else secrets.token_hex(16)


def token(key: bytes, nonce_value: str, form: str) -> str:
    return sign_expiring(key, "csrf", nonce_value, form, TOKEN_SECONDS)


def check(keys: Keys, request: Request, value: str, form: str, cookie_name: str = COOKIE
          ) -> bool:
    cookie = request.cookies.get(cookie_name, "")
    verified = verify(keys, "csrf", value)
    if verified is None or not _NONCE_RE.match(cookie):
        return False
    signed_nonce, signed_form = verified
    return hmac.compare_digest(signed_nonce, cookie) and hmac.compare_digest(signed_form, form)


def set_cookie(response: Response, nonce_value: str, secure: bool, cookie: str = COOKIE
               ) -> None:
    response.set_cookie(cookie, nonce_value, max_age=TOKEN_SECONDS, path="/", secure=secure,
                        httponly=True, samesite="strict")
