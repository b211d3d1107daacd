"""Unsubscribe (RFC 8058 one-click and the confirm page), resubscribe, and the archive.

`/u/{token}`: GET shows a page with a button and never changes anything (link scanners and
mail-security proxies prefetch every link); POST with `List-Unsubscribe=One-Click` unsubscribes
at once (no cookie, 200, no redirect, idempotent); POST from the page's button needs its CSRF
token. A token that does not verify gets a 400 page and changes nothing.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from .. import site
from .. import subscribers as subs
from ..config import Config
from ..models import Subscriber
from ..store import open_db
from ..tokens import sign_expiring, verify
from . import csrf
from .pages import Form, message
from .security import MAX_PATH_TOKEN, field, read_form

RESUBSCRIBE_SECONDS = 30 * 24 * 3600
SUBSCRIBED = ("active", "pending")


def _subscriber_id(key: bytes, purpose: str, token: str) -> tuple[int, str] | None:
    if len(token) > MAX_PATH_TOKEN:
        return None
    verified = verify(key, purpose, token)
    if verified is None or not verified[0].isdigit():
        return None
    return int(verified[0]), verified[1]


def _load(config: Config, subscriber_id: int) -> Subscriber | None:
    conn = open_db(config.db_path)
    try:
        return subs.get_by_id(conn, subscriber_id)
    finally:
        conn.close()


def _set_status(config: Config, subscriber_id: int, status: str,
                only_from: tuple[str, ...]) -> bool:
    """Change the status only from one of `only_from` (an unsubscribe never revives a bounce)."""
    conn = open_db(config.db_path)
    try:
        current = subs.get_by_id(conn, subscriber_id)
        if current is None or current.status not in only_from:
            return False
        return subs.set_status(conn, subscriber_id, status)
    finally:
        conn.close()


def _forged(request: Request) -> HTMLResponse:
    return message(request, "This link is not valid",
                   "The link may have been cut off or altered. Nothing was changed.",
                   "Use the unsubscribe link at the bottom of the newsletter you received.",
                   status=400)


def _unsubscribed_page(request: Request, subscriber_id: int, week: str) -> HTMLResponse:
    key = request.app.state.key
    nonce = csrf.nonce(request)
    resubscribe = sign_expiring(key, "resubscribe", str(subscriber_id), week,
                                RESUBSCRIBE_SECONDS)
    form = Form("/resubscribe", "Resubscribe", {
        "token": resubscribe, "csrf": csrf.token(key, nonce, f"r:{subscriber_id}")})
    name = request.app.state.config.newsletter.name
    return message(request, "You are unsubscribed",
                   f"You will not receive {name} any more.",
                   "Unsubscribed by mistake? You can come back with one click.",
                   form=form, nonce=nonce)


async def unsubscribe_page(request: Request) -> Response:
    """GET: a confirm page. Never unsubscribes."""
    state = request.app.state
    token = request.path_params["token"]
    found = _subscriber_id(state.key, "unsubscribe", token)
    if found is None:
        return _forged(request)
    subscriber_id, week = found
    subscriber = await run_in_threadpool(_load, state.config, subscriber_id)
    if subscriber is None or subscriber.status not in SUBSCRIBED:
        if subscriber is not None and subscriber.status == "unsubscribed":
            return _unsubscribed_page(request, subscriber_id, week)
        return message(request, "You are not subscribed",
                       "This address receives nothing from us.")
    nonce = csrf.nonce(request)
    form = Form(f"/u/{token}", "Unsubscribe",
                {"csrf": csrf.token(state.key, nonce, f"u:{subscriber_id}")})
    return message(request, f"Unsubscribe from {state.config.newsletter.name}?",
                   "Press the button to stop receiving the newsletter.", form=form, nonce=nonce)


async def unsubscribe_post(request: Request) -> Response:
    """POST: RFC 8058 one-click (no cookie, no CSRF), or the confirm page's button."""
    state = request.app.state
    found = _subscriber_id(state.key, "unsubscribe", request.path_params["token"])
    form = await read_form(request, state.config.web.max_body_bytes)
    if found is None:
        return _forged(request)
    subscriber_id, week = found
    one_click = field(form, "List-Unsubscribe") == "One-Click"
    if not one_click and not csrf.check(state.key, request, field(form, "csrf"),
                                        f"u:{subscriber_id}"):
        return message(request, "This form has expired",
                       "Nothing was changed. Open the unsubscribe link from your email again.",
                       status=400)
    await run_in_threadpool(_set_status, state.config, subscriber_id, "unsubscribed", SUBSCRIBED)
    return _unsubscribed_page(request, subscriber_id, week)


async def resubscribe(request: Request) -> Response:
    state = request.app.state
    form = await read_form(request, state.config.web.max_body_bytes)
    found = _subscriber_id(state.key, "resubscribe", field(form, "token"))
    if found is None:
        return _forged(request)
    subscriber_id, _ = found
    if not csrf.check(state.key, request, field(form, "csrf"), f"r:{subscriber_id}"):
        return message(request, "This form has expired",
                       "Nothing was changed. Open the unsubscribe link from your email again.",
                       status=400)
    await run_in_threadpool(_set_status, state.config, subscriber_id, "active", ("unsubscribed",))
    return message(request, "Welcome back", "You are subscribed again.",
                   link=("/issues/", "Read past issues"))


async def unsubscribe_help(request: Request) -> Response:
    """The archive's public copy of an issue links here: it has no personal link."""
    return message(request, "Unsubscribe",
                   "Every newsletter we send has a personal unsubscribe link at the bottom: "
                   "use the one in the email you received.")


# --------------------------------------------------------------------------- archive


async def archive_index(request: Request) -> Response:
    config = request.app.state.config
    issues = await run_in_threadpool(site.sent_issues, config)
    return HTMLResponse(site.index_html(config, issues))


async def archive_feed(request: Request) -> Response:
    config = request.app.state.config
    issues = await run_in_threadpool(site.sent_issues, config)
    return Response(site.feed_xml(config, issues), media_type="application/atom+xml")


async def archive_issue(request: Request) -> Response:
    state = request.app.state
    sent = await run_in_threadpool(site.find_sent, state.config, request.path_params["week"])
    if sent is None:
        raise HTTPException(404)
    html = await run_in_threadpool(site.issue_html, state.config, sent.issue, state.key)
    return HTMLResponse(html)
