"""`digest desk`: the editor's page, a Starlette application of its own beside `digest serve`.

  GET  /                    the week (?week=W, filters ?section= &source= &q= &status=):
                            candidates beside the issue as it will be, its checks and previews
  GET  /preview?week=W      the draft's reader-neutral HTML (&format=text: the text part)
  POST /pick /drop /move /approve   the edits, CSRF-checked, then 303 back to the page
  GET, POST /login  POST /logout    only when a password hash is configured
  GET  /healthz

Every change goes through jobs/edits.py and jobs/desk.py, the same code as `digest pick`,
`digest drop` and `digest approve`. No route reads or shows the subscriber list. Pages carry
one small inline script (the keyboard: j/k/p/d) allowed by a per-response CSP nonce; the
subscriber-facing pages of `digest serve` stay script-free.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ...config import Config
from ...state.handle import State
from ...state.keys import verification_keys
from ...tokens import Keys
from ..ratelimit import RateLimiter
from ..security import adding_headers
from . import views
from .auth import is_loopback, login_limiter

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).resolve().parent / "templates"
BASE_HEADERS = {
    b"content-security-policy": b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
    b"cross-origin-opener-policy": b"same-origin",
    b"cache-control": b"no-store",
    b"x-robots-tag": b"noindex",
}
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1", "[::1]"}


@dataclass(frozen=True)
class DeskSettings:
    config: Config
    key: bytes  # signs CSRF tokens and sessions
    keys: Keys  # and the retired keys, to verify
    password_hash: str | None  # None: loopback, no login
    now: datetime | None  # --now: the desk's pinned clock
    env: jinja2.Environment
    limiter: RateLimiter


class DeskGuard:
    """Pure ASGI middleware: the security headers (a view may set its own), and on a loopback
    desk a Host header naming loopback only, so a web page cannot reach the desk by pointing
    its own name at 127.0.0.1 (DNS rebinding)."""

    def __init__(self, app: ASGIApp, loopback: bool) -> None:
        self.app = app
        self.loopback = loopback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.loopback and _host_name(scope) not in LOOPBACK_NAMES:
            response = PlainTextResponse("the desk answers on its loopback address only", 400,
                                         headers={k.decode(): v.decode()
                                                  for k, v in BASE_HEADERS.items()})
            await response(scope, receive, send)
            return

        await self.app(scope, receive, adding_headers(send, BASE_HEADERS))


def _host_name(scope: Scope) -> str:
    host = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1").lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return PlainTextResponse(f"{exc.status_code}: {exc.detail}", exc.status_code,
                             headers=exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("desk: error serving %s", request.url.path, exc_info=exc)
    return PlainTextResponse("500: something went wrong; nothing was changed", 500)


def create_desk_app(config: Config, password_hash: str | None = None,
                    now: datetime | None = None, loopback: bool = True) -> Starlette:
    """The desk for one newsletter. `loopback`: it listens on a loopback address."""
    routes = [
        Route("/", views.desk_page, methods=["GET"]),
        Route("/preview", views.preview_page, methods=["GET"]),
        Route("/pick", views.pick, methods=["POST"]),
        Route("/drop", views.drop, methods=["POST"]),
        Route("/move", views.move, methods=["POST"]),
        Route("/approve", views.approve, methods=["POST"]),
        Route("/login", views.login_page, methods=["GET"]),
        Route("/login", views.login, methods=["POST"]),
        Route("/logout", views.logout, methods=["POST"]),
        Route("/healthz", views.healthz, methods=["GET"]),
    ]
    app = Starlette(routes=routes, middleware=[], exception_handlers={
        HTTPException: _http_error, Exception: _server_error})
    app.router.redirect_slashes = False
    with State(config) as state:
        state.migrate()  # once, before requests race to create the schema
        key = state.key
    app.state.desk = DeskSettings(config, key, verification_keys(config, key), password_hash,
                                  now, environment(), login_limiter())
    app.add_middleware(DeskGuard, loopback=loopback)
    return app


def serve_desk(config: Config, host: str, port: int, password_hash: str | None,
               now: datetime | None = None) -> None:
    """Run the desk on uvicorn until interrupted (one process: the login limit is in memory)."""
    import uvicorn  # heavy: only `digest desk` runs a server

    app = create_desk_app(config, password_hash, now, loopback=is_loopback(host))
    uvicorn.run(app, host=host, port=port, proxy_headers=True,
                forwarded_allow_ips=config.web.forwarded_allow_ips, server_header=False,
                log_level="info")
