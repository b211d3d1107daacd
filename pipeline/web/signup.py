"""Signup with double opt-in.

POST /subscribe answers the same page whatever happens behind it (new, known, pending, honeypot
filled), and does the database work and the mail after the response, so neither the page nor
its timing tells whether an address is on the list. The confirmation link carries a signed,
expiring token naming the address's ref and the reader's state when it was made. Opening it
(GET) shows a Confirm button and changes nothing, since mail scanners open every link; the
button's POST activates a pending reader only (or one who signed up again after
unsubscribing), never one who unsubscribed, was removed, bounced or complained since, and
sends the welcome mail once.
"""

from __future__ import annotations

import logging

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..config import Config
from ..errors import UsageError
from ..models import Subscriber
from ..state import subscribers as subs
from ..tokens import reader_ref
from . import csrf, mails, readers
from .pages import Form, form_expired, message, render
from .security import LIMITS, field, read_form

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
    sent a (new) confirmation link. Active, bounced and complained ones get nothing. A mail
    that cannot be sent is logged; the reader stays pending and can ask again."""
    subscriber, stamp = readers.register(config, email, name)
    if subscriber.status in NO_MAIL:
        return
    mails.deliver(config, mails.confirm_message(config, key, subscriber, stamp))


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
    if not csrf.check(state.keys, request, field(form, "csrf"), "subscribe"):
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
    if state.mail_limiter.hit(reader_ref(email)):
        return message(request, *sent)
    task = BackgroundTask(register, config, state.key, email, subs.clean_name(name))
    return message(request, *sent, background=task)


def welcome(config: Config, key: bytes, subscriber: Subscriber) -> None:
    mails.deliver(config, mails.welcome_message(config, key, subscriber))


def _claim(request: Request) -> tuple[str, str] | None:
    return readers.claim(request.app.state.keys, "confirm", request.path_params["token"])


def _invalid(request: Request) -> Response:
    return message(request, "This link is not valid",
                   "The confirmation link has expired or was altered. Nothing was changed.",
                   link=("/subscribe", "Sign up again"), status=400)


def _stale(request: Request) -> Response:
    return message(request, "This link can no longer be used",
                   "The subscription changed after this link was sent. Nothing was changed.",
                   link=("/subscribe", "Sign up again"), status=400)


def _already(request: Request) -> Response:
    return message(request, "You are already subscribed",
                   f"{request.app.state.config.newsletter.name} comes every week.",
                   link=("/issues/", "Read past issues"))


async def confirm_page(request: Request) -> Response:
    """GET /confirm/{token}: a page with a Confirm button. Never changes anything: mail
    security scanners open every link of a message."""
    state = request.app.state
    claim = _claim(request)
    found = await run_in_threadpool(readers.load, state.config, claim[0]) if claim else None
    if claim is None or found is None:
        return _invalid(request)
    ref, link_stamp = claim
    outcome = subs.confirm_outcome(found[0].status, found[1], link_stamp)
    if outcome == "already":
        return _already(request)
    if outcome == "stale":
        return _stale(request)
    nonce = csrf.nonce(request)
    form = Form(f"/confirm/{request.path_params['token']}", "Confirm",
                {"csrf": csrf.token(state.key, nonce, f"c:{ref}")})
    return message(request, f"Confirm your subscription to {state.config.newsletter.name}",
                   "Press the button to start receiving the newsletter.", form=form,
                   nonce=nonce)


async def confirm_post(request: Request) -> Response:
    """POST /confirm/{token} from the page's button (CSRF-checked): activates a pending
    reader and sends the welcome mail once."""
    state = request.app.state
    form = await read_form(request, state.config.web.max_body_bytes)
    claim = _claim(request)
    if claim is None:
        return _invalid(request)
    ref, link_stamp = claim
    if not csrf.check(state.keys, request, field(form, "csrf"), f"c:{ref}"):
        return form_expired(request, "confirmation")
    outcome, subscriber = await run_in_threadpool(readers.confirm, state.config, ref, link_stamp)
    if outcome == "unknown":
        return _invalid(request)
    if outcome == "stale":
        return _stale(request)
    if outcome == "already":
        return _already(request)
    assert subscriber is not None
    return message(request, "You are subscribed",
                   f"Welcome to {state.config.newsletter.name}! A welcome email is on its way.",
                   link=("/issues/", "Read past issues"),
                   background=BackgroundTask(welcome, state.config, state.key, subscriber))
