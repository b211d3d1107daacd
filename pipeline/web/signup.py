"""Signup with double opt-in.

POST /subscribe answers the same page whatever happens behind it (new, known, pending, honeypot
filled), and does the database work and the mail after the response, so neither the page nor
its timing tells whether an address is on the list. The confirmation link carries a signed,
expiring token bound to the subscriber and a hash of the address; opening it activates the
subscriber and sends the welcome mail once.
"""

from __future__ import annotations

import logging

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from .. import subscribers as subs
from ..config import Config
from ..errors import UsageError
from ..models import Subscriber
from ..store import open_db
from ..tokens import binding, verify
from . import csrf, mails
from .pages import message, render
from .security import LIMITS, MAX_PATH_TOKEN, field, read_form

log = logging.getLogger(__name__)
# Known statuses that get no confirmation mail: nothing to confirm, or a reader/server said no.
NO_MAIL = ("active", "bounced", "complained")


def client_ip(request: Request) -> str:
    # uvicorn has already replaced it with X-Forwarded-For when the peer is a trusted proxy
    # (web.forwarded_allow_ips), so a client cannot pick its own IP.
    return request.client.host if request.client else "unknown"


def _form_page(request: Request, status: int = 200, error: str | None = None,
               email: str = "", name: str = "") -> Response:
    nonce = csrf.nonce(request)
    return render(request, "subscribe.html.j2", status=status, nonce=nonce, error=error,
                  email=email, name=name, limits=LIMITS,
                  csrf=csrf.token(request.app.state.key, nonce, "subscribe"))


async def subscribe_form(request: Request) -> Response:
    return _form_page(request)


def register(config: Config, key: bytes, email: str, name: str | None) -> None:
    """After the response: a new address becomes pending; a pending or unsubscribed one is
    sent a (new) confirmation link. Active, bounced and complained ones get nothing."""
    conn = open_db(config.db_path)
    try:
        subscriber = subs.get(conn, email)
        if subscriber is None:
            subscriber, _ = subs.add(conn, email, name, status="pending", source="web")
        elif subscriber.status in NO_MAIL:
            return
    finally:
        conn.close()
    mails.deliver(config, mails.confirm_message(config, key, subscriber))


async def subscribe(request: Request) -> Response:
    state = request.app.state
    config: Config = state.config
    retry_after = state.limiter.hit(client_ip(request))
    if retry_after:
        return message(request, "Too many attempts",
                       "Please wait a while before trying again.", status=429,
                       headers={"Retry-After": str(int(retry_after) + 1)})
    form = await read_form(request, config.web.max_body_bytes)
    email, name = field(form, "email").strip(), field(form, "name").strip()
    if not csrf.check(state.key, request, field(form, "csrf"), "subscribe"):
        return _form_page(request, 400, "This form has expired. Please send it again.",
                          email, name)
    sent = ("Check your inbox", "If the address can receive our newsletter, a message with a "
            "confirmation link is on its way. Open it to start your subscription.")
    if field(form, "website"):  # the honeypot: people never see this field, bots fill it
        log.info("signup honeypot filled from %s", client_ip(request))
        return message(request, *sent)
    try:
        email = subs.normalize_email(email)
    except UsageError as exc:
        return _form_page(request, 400, exc.message, email, name)
    # One address cannot be mail-bombed with confirmations from many IPs.
    if state.mail_limiter.hit(binding(email)):
        return message(request, *sent)
    task = BackgroundTask(register, config, state.key, email, subs.clean_name(name))
    return message(request, *sent, background=task)


def activate(config: Config, subscriber_id: int, bound: str) -> tuple[str, Subscriber | None]:
    """('activated', subscriber), ('already', None) or ('invalid', None) — invalid also when
    the address changed since the link was made."""
    conn = open_db(config.db_path)
    try:
        subscriber = subs.get_by_id(conn, subscriber_id)
        if subscriber is None or binding(subscriber.email) != bound:
            return "invalid", None
        if subscriber.status == "active":
            return "already", None
        # `add` re-checks inside its transaction: of two clicks at once, one activates.
        subscriber, outcome = subs.add(conn, subscriber.email, None, status="active",
                                       source="web")
    finally:
        conn.close()
    return ("activated", subscriber) if outcome == "updated" else ("already", None)


def welcome(config: Config, key: bytes, subscriber: Subscriber) -> None:
    mails.deliver(config, mails.welcome_message(config, key, subscriber))


async def confirm(request: Request) -> Response:
    """GET /confirm/{token}: opening the link from the confirmation mail activates."""
    state = request.app.state
    token = request.path_params["token"]
    verified = verify(state.key, "confirm", token) if len(token) <= MAX_PATH_TOKEN else None
    outcome, subscriber = "invalid", None
    if verified is not None and verified[0].isdigit():
        outcome, subscriber = await run_in_threadpool(activate, state.config,
                                                      int(verified[0]), verified[1])
    if outcome == "invalid":
        return message(request, "This link is not valid",
                       "The confirmation link has expired or was altered. Nothing was changed.",
                       link=("/subscribe", "Sign up again"), status=400)
    name = state.config.newsletter.name
    if outcome == "already":
        return message(request, "You are already subscribed", f"{name} comes every week.",
                       link=("/issues/", "Read past issues"))
    assert subscriber is not None
    return message(request, "You are subscribed",
                   f"Welcome to {name}! A welcome email is on its way.",
                   link=("/issues/", "Read past issues"),
                   background=BackgroundTask(welcome, state.config, state.key, subscriber))

