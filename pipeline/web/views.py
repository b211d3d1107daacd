"""Unsubscribe (RFC 8058 one-click and the confirm page), resubscribe, and the archive.

`/u/{token}`: GET shows a page with a button and never changes anything (link scanners and
mail-security proxies prefetch every link); POST with `List-Unsubscribe=One-Click` unsubscribes
at once (no cookie, 200, no redirect, idempotent); POST from the page's button needs its CSRF
token. Tokens name the reader by the ref of their address (tokens.reader_ref), so a link acts
on that address only; a token that does not verify, or names an address no longer on file, gets
a 400 page and changes nothing.
"""

from __future__ import annotations

import time

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ..archive import site
from ..config import Config
from ..tokens import reader_token
from . import csrf, readers
from .pages import Form, form_expired, message
from .security import field, read_form

RESUBSCRIBE_SECONDS = 30 * 24 * 3600
SUBSCRIBED = ("active", "pending")


def _forged(request: Request) -> HTMLResponse:
    return message(request, "This link is not valid",
                   "The link may have been cut off or altered. Nothing was changed.",
                   "Use the unsubscribe link at the bottom of the newsletter you received.",
                   status=400)


def _unsubscribed_page(request: Request, ref: str, stamp: str) -> HTMLResponse:
    key = request.app.state.key
    nonce = csrf.nonce(request)
    resubscribe = reader_token(key, "resubscribe", ref, stamp,
                               int(time.time() + RESUBSCRIBE_SECONDS))
    form = Form("/resubscribe", "Resubscribe", {
        "token": resubscribe, "csrf": csrf.token(key, nonce, f"r:{ref}")})
    name = request.app.state.config.newsletter.name
    return message(request, "You are unsubscribed",
                   f"You will not receive {name} any more.",
                   "Unsubscribed by mistake? You can come back with one click.",
                   form=form, nonce=nonce)


async def unsubscribe_page(request: Request) -> Response:
    """GET: a confirm page. Never unsubscribes."""
    state = request.app.state
    token = request.path_params["token"]
    claim = readers.claim(state.keys, "unsubscribe", token)
    found = await run_in_threadpool(readers.load, state.config, claim[0]) if claim else None
    if claim is None or found is None:  # forged, or an address no longer on file
        return _forged(request)
    ref = claim[0]
    subscriber, stamp = found
    if subscriber.status == "unsubscribed":
        return _unsubscribed_page(request, ref, stamp)
    if subscriber.status not in SUBSCRIBED:
        return message(request, "You are not subscribed",
                       "This address receives nothing from us.")
    nonce = csrf.nonce(request)
    form = Form(f"/u/{token}", "Unsubscribe",
                {"csrf": csrf.token(state.key, nonce, f"u:{ref}")})
    return message(request, f"Unsubscribe from {state.config.newsletter.name}?",
                   "Press the button to stop receiving the newsletter.", form=form, nonce=nonce)


async def unsubscribe_post(request: Request) -> Response:
    """POST: RFC 8058 one-click (no cookie, no CSRF), or the confirm page's button."""
    state = request.app.state
    claim = readers.claim(state.keys, "unsubscribe", request.path_params["token"])
    form = await read_form(request, state.config.web.max_body_bytes)
    if claim is None:
        return _forged(request)
    ref = claim[0]
    one_click = field(form, "List-Unsubscribe") == "One-Click"
    if not one_click and not csrf.check(state.keys, request, field(form, "csrf"), f"u:{ref}"):
        return form_expired(request, "unsubscribe")
    how = "one-click (RFC 8058)" if one_click else "the unsubscribe page"
    result = await run_in_threadpool(readers.set_status, state.config, ref, "unsubscribed",
                                     SUBSCRIBED, detail=how, issue_id=claim[1] or None)
    if result is None:
        return _forged(request)
    return _unsubscribed_page(request, ref, result[1])


async def resubscribe(request: Request) -> Response:
    state = request.app.state
    form = await read_form(request, state.config.web.max_body_bytes)
    claim = readers.claim(state.keys, "resubscribe", field(form, "token"))
    if claim is None:
        return _forged(request)
    ref, stamp = claim
    if not csrf.check(state.keys, request, field(form, "csrf"), f"r:{ref}"):
        return form_expired(request, "unsubscribe")
    result = await run_in_threadpool(readers.set_status, state.config, ref, "active",
                                     ("unsubscribed",), stamp, detail="resubscribed")
    if result is None:
        return _forged(request)
    if not result[0]:
        return message(request, "This link can no longer be used",
                       "The subscription changed after you unsubscribed. Nothing was changed.",
                       status=400)
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
    issues = await run_in_threadpool(_sent_issues, config)
    return HTMLResponse(site.index_html(config, issues))


async def archive_feed(request: Request) -> Response:
    config = request.app.state.config
    issues = await run_in_threadpool(_sent_issues, config)
    return Response(site.feed_xml(config, issues), media_type="application/atom+xml")


async def archive_issue(request: Request) -> Response:
    state = request.app.state
    sent = await run_in_threadpool(_find_sent, state.config, request.path_params["week"])
    if sent is None:
        raise HTTPException(404)
    html = await run_in_threadpool(site.issue_html, state.config, sent.issue, state.key)
    return HTMLResponse(html)


def _sent_issues(config: Config) -> list[site.SentIssue]:
    return site.sent_issues(config, readers.sent_weeks(config))


def _find_sent(config: Config, week: str) -> site.SentIssue | None:
    return site.find_sent(config, week, readers.sent_weeks(config))
