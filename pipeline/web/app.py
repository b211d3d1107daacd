"""The Starlette application and `serve` (uvicorn).

Routes (under newsletter.base_url):
  /subscribe (GET form, POST)  /confirm/{token} (GET page, POST)  double opt-in
  /u/{token} (GET page, POST)  /resubscribe (POST)  RFC 8058 one-click unsubscribe
  /issues/  /issues/feed.xml  /issues/{week}/        the public archive
  /c/{token} (GET, HEAD)                             a tracked article link (web/clicks.py)
  /healthz                                           for the reverse proxy's checks
  /webhooks/{ses,mailgun,postmark,sendgrid} (POST)   ESP events, where configured (webhooks.py)
No route redirects to a URL taken from the request, so there is no open redirect: /c/ leads
only to a link of the issue its signed token names.
"""

from __future__ import annotations

import logging
import re

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from ..config import Config
from ..issue.render import environment
from ..jobs.inbound import Context
from ..jobs.webhooks import webhook_keys
from ..state.handle import State
from ..state.keys import verification_keys
from . import clicks, signup, views, webhooks
from .pages import message
from .ratelimit import RateLimiter
from .security import SecurityHeaders
from .sns import SnsFetcher

log = logging.getLogger(__name__)

TITLES = {400: "Bad request", 404: "Page not found", 405: "Method not allowed",
          413: "Request too large", 429: "Too many requests"}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if exc.detail != TITLES.get(exc.status_code) else ""
    title = TITLES.get(exc.status_code, "Error")
    paragraphs = [str(detail)] if detail and exc.status_code == 400 else []
    return message(request, title, *paragraphs, "Nothing was changed.", status=exc.status_code,
                   headers=exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("error serving %s", request.url.path, exc_info=exc)
    return message(request, "Something went wrong", "Nothing was changed. Please try again later.",
                   status=500)


async def _healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


async def _to_archive(request: Request) -> Response:
    return RedirectResponse("/issues/", status_code=308)  # a fixed, relative target


def create_app(config: Config) -> Starlette:
    """The web application for one newsletter (signing key and limits taken from `config`)."""
    routes = [
        # First: the one route under load (a sweep of clicks), matched before 14 others.
        Route("/c/{token}", clicks.click, methods=["GET", "HEAD"]),
        Route("/", signup.subscribe_form, methods=["GET"]),
        Route("/subscribe", signup.subscribe_form, methods=["GET"]),
        Route("/subscribe", signup.subscribe, methods=["POST"]),
        Route("/confirm/{token}", signup.confirm_page, methods=["GET"]),
        Route("/confirm/{token}", signup.confirm_post, methods=["POST"]),
        Route("/u/{token}", views.unsubscribe_page, methods=["GET"]),
        Route("/u/{token}", views.unsubscribe_post, methods=["POST"]),
        Route("/resubscribe", views.resubscribe, methods=["POST"]),
        Route("/unsubscribe", views.unsubscribe_help, methods=["GET"]),
        Route("/issues", _to_archive, methods=["GET"]),
        Route("/issues/", views.archive_index, methods=["GET"]),
        Route("/issues/feed.xml", views.archive_feed, methods=["GET"]),
        Route("/issues/{week}/", views.archive_issue, methods=["GET"]),
        Route("/healthz", _healthz, methods=["GET"]),
    ]
    keys = webhook_keys(config)
    routes += webhooks.routes(keys)
    app = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)],
                    exception_handlers={HTTPException: _http_error, Exception: _server_error})
    # Trailing-slash redirects would echo the request's Host header into Location.
    app.router.redirect_slashes = False
    web = config.web
    # Migrate now, once: requests arriving together must not race to create the schema.
    with State(config) as state:
        state.migrate()
        app.state.key = state.key  # signs new links
    app.state.config = config
    app.state.keys = verification_keys(config, app.state.key)  # and the retired keys: verify
    app.state.env = environment(config)
    app.state.limiter = RateLimiter(web.signup_limit, web.signup_window_seconds)
    app.state.mail_limiter = RateLimiter(3, web.signup_window_seconds)
    app.state.clicks = clicks.ClickRoute(config, app.state.keys)
    app.router.lifespan_context = clicks.lifespan_for(app.state.clicks)
    app.state.webhook_keys = keys
    app.state.inbound = Context(config, app.state.keys)
    app.state.sns_fetch = SnsFetcher()
    return app


class RedactTokens(logging.Filter):
    """Unsubscribe and confirmation tokens are credentials, and a click token names its
    delivery: keep them out of access logs."""

    PATTERN = re.compile(r"/(u|confirm|c)/[^\s?\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple):  # every request passes here: the common case is cheap
            record.args = tuple(self.PATTERN.sub(r"/\1/<token>", a)
                                if isinstance(a, str) and "/" in a else a for a in args)
        return True


def serve(config: Config, host: str, port: int) -> None:
    """Run the application on uvicorn until interrupted."""
    import uvicorn  # heavy: only `digest serve` runs a server

    logging.getLogger("uvicorn.access").addFilter(RedactTokens())
    uvicorn.run(create_app(config), host=host, port=port, proxy_headers=True,
                forwarded_allow_ips=config.web.forwarded_allow_ips, server_header=False,
                log_level="info")
