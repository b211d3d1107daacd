"""Security headers on every response, and bounded form reading.

Every page is server-rendered HTML without a single script, so the content security policy
allows none; styles are inline. Issue pages (the email's HTML) may load images over https.
"""

from __future__ import annotations

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
ISSUE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
             "font-src https:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
# Length limits of every field the web side accepts (characters).
LIMITS = {"email": 254, "name": 200, "website": 200, "csrf": 512, "token": 512,
          "List-Unsubscribe": 64}
MAX_PATH_TOKEN = 512


class SecurityHeaders:
    """Pure ASGI middleware: adds the headers unless a view set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        public = path.startswith("/issues")
        extra = {
            b"content-security-policy": (ISSUE_CSP if public else PAGE_CSP).encode(),
            b"x-content-type-options": b"nosniff",
            b"x-frame-options": b"DENY",
            b"referrer-policy": b"no-referrer",  # tokens in our URLs must not leak onwards
            b"cross-origin-opener-policy": b"same-origin",
            b"permissions-policy": b"interest-cohort=()",
        }
        if not public:  # token pages: never cached, never indexed
            extra[b"cache-control"] = b"no-store"
            extra[b"x-robots-tag"] = b"noindex"

        await self.app(scope, receive, adding_headers(send, extra))


def adding_headers(send: Send, extra: dict[bytes, bytes]) -> Send:
    """`send` that adds the `extra` headers to the response, but none a view set itself."""
    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            present = {name.lower() for name, _ in headers}
            headers += [(k, v) for k, v in extra.items() if k not in present]
            message["headers"] = headers
        await send(message)

    return send_with_headers


async def read_form(request: Request, max_bytes: int) -> FormData:
    """The urlencoded or multipart form, refusing bodies over `max_bytes` (413) and malformed
    ones (400) before parsing anything."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > max_bytes):
        raise HTTPException(413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:  # chunked bodies have no Content-Length to trust
            raise HTTPException(413)

    async def replay() -> Message:
        return {"type": "http.request", "body": bytes(body), "more_body": False}

    try:
        return await Request(request.scope, replay).form(max_files=2, max_fields=20)
    except HTTPException:
        raise
    except Exception as exc:  # python-multipart raises several types on malformed input
        raise HTTPException(400) from exc


def field(form: FormData, name: str, limits: dict[str, int] = LIMITS) -> str:
    """A text field, '' when absent or a file; HTTPException(400) when over its limit."""
    value = form.get(name)
    if value is None or isinstance(value, UploadFile):
        return ""
    if len(value) > limits[name]:
        raise HTTPException(400, f"{name} is too long (at most {limits[name]} characters)")
    return value
