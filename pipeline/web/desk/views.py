"""The desk's views: the page, the preview, the edits (POST, CSRF-checked, 303 back with a flash
message) and the login. The work runs in worker threads, each with a State of its own."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from ...errors import PipelineError, UsageError
from ...jobs import desk as desk_job
from ...jobs import edits
from ...state.handle import State
from ...weeks import parse_week
from .. import csrf
from ..security import field, read_form
from .auth import SESSION_COOKIE, new_session, valid_session, verify_password
from .page import page_context

CSRF_COOKIE = "digest_desk_csrf"  # not `digest serve`'s: cookies do not tell ports apart
FLASH_COOKIE = "digest_desk_flash"
FORM = "desk"
LIMITS = {"csrf": 512, "week": 8, "item": 2000, "section": 100, "note": 1000, "order": 6,
          "reason": 300, "step": 2, "undo": 1, "note_edit": 1, "password": 1000, "f_section": 100,
          "f_source": 300, "f_q": 200, "f_status": 20}
FILTERS = ("section", "source", "q", "status")
PAGE_CSP = ("default-src 'none'; script-src 'nonce-{n}'; style-src 'nonce-{n}'; "
            "img-src 'self' data:; frame-src 'self'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")
PREVIEW_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
               "font-src https:; form-action 'none'; frame-ancestors 'self'; base-uri 'none'")


def _settings(request: Request) -> Any:
    return request.app.state.desk


def _now(request: Request) -> datetime:
    return _settings(request).now or datetime.now(UTC)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"  # https, or a trusted proxy's X-Forwarded-Proto


def authorised(request: Request) -> bool:
    settings = _settings(request)
    if settings.password_hash is None:
        return True
    return valid_session(settings.key, settings.password_hash,
                         request.cookies.get(SESSION_COOKIE, ""))


def _field(form: FormData, name: str) -> str:
    return field(form, name, LIMITS)


def _week(value: str | None, request: Request) -> str:
    if not value:
        return desk_job.upcoming_week(_settings(request).config, _now(request))
    try:
        parse_week(value)
    except UsageError as exc:
        raise HTTPException(400, exc.message) from exc
    return value


def _back(week: str, filters: dict[str, str], anchor: str = "") -> str:
    """The page to return to: built from known values only, never a URL from the request."""
    query = urlencode({"week": week, **{k: v for k, v in filters.items() if v}})
    return f"/?{query}" + (f"#{anchor}" if anchor.replace("-", "").isalnum() else "")


def _redirect(request: Request, url: str, flash: str | None = None) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    if flash:
        value = base64.urlsafe_b64encode(flash[:800].encode()).decode().rstrip("=")
        response.set_cookie(FLASH_COOKIE, value, max_age=60, path="/", httponly=True,
                            samesite="strict", secure=_secure(request))
    return response


def _flash(request: Request) -> str | None:
    value = request.cookies.get(FLASH_COOKIE)
    if not value:
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None


# --------------------------------------------------------------------------- pages


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


async def desk_page(request: Request) -> Response:
    if not authorised(request):
        return RedirectResponse("/login", status_code=303)
    settings = _settings(request)
    query = request.query_params
    week = _week(query.get("week"), request)
    filters = {name: query.get(name, "")[:200] for name in FILTERS}
    try:
        data = await run_in_threadpool(page_context, settings.config, _now(request), week,
                                       filters)
    except PipelineError as exc:  # e.g. an excerpt file that does not parse: say which
        body = settings.env.get_template("problem.html.j2").render(
            name=settings.config.newsletter.name, week=week, message=exc.message,
            hint=exc.hint or "")
        return HTMLResponse(body, status_code=500)
    script_nonce = secrets.token_urlsafe(18)
    csrf_nonce = csrf.nonce(request, CSRF_COOKIE)
    body = settings.env.get_template("desk.html.j2").render(
        **data, nonce=script_nonce, csrf=csrf.token(settings.key, csrf_nonce, FORM),
        flash=_flash(request), filters=filters, login=settings.password_hash is not None)
    response = HTMLResponse(body, headers={
        "Content-Security-Policy": PAGE_CSP.format(n=script_nonce)})
    csrf.set_cookie(response, csrf_nonce, _secure(request), CSRF_COOKIE)
    response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def _preview(config: Any, now: datetime, week: str) -> tuple[str, str]:
    with State(config, now) as state:
        html, text, _ = desk_job.preview(state, desk_job.draft_issue(state, week))
    return html, text


async def preview_page(request: Request) -> Response:
    """The draft as readers would get it: the public version (no address, no personal link)."""
    if not authorised(request):
        return PlainTextResponse("401: log in first", 401)
    week = _week(request.query_params.get("week"), request)
    html, text = await run_in_threadpool(_preview, _settings(request).config, _now(request),
                                         week)
    if request.query_params.get("format") == "text":
        return PlainTextResponse(text)
    return HTMLResponse(html, headers={"Content-Security-Policy": PREVIEW_CSP,
                                       "X-Frame-Options": "SAMEORIGIN"})


# --------------------------------------------------------------------------- changes


async def _change(request: Request, action: Callable[[State, str, FormData], Any],
                  anchor_field: str = "item") -> Response:
    """One edit: a session (401 without), a genuine CSRF token (403 without), the job run
    under the edit lock, and back to the page with what happened."""
    if not authorised(request):
        return PlainTextResponse("401: log in first", 401)
    settings = _settings(request)
    form = await read_form(request, settings.config.web.max_body_bytes)
    if not csrf.check(settings.keys, request, _field(form, "csrf"), FORM, CSRF_COOKIE):
        return PlainTextResponse("403: the form has expired or did not come from the desk; "
                                 "reload the page. Nothing was changed.", 403)
    week = _week(_field(form, "week"), request)
    filters = {name: _field(form, f"f_{name}") for name in FILTERS}
    now = _now(request)

    def run() -> str:
        with State(settings.config, now) as state:
            result = action(state, week, form)
        return " ".join((result.message, *result.notes))

    try:
        flash = await run_in_threadpool(run)
    except PipelineError as exc:
        flash = f"Not done: {exc.message}" + (f" ({exc.hint})" if exc.hint else "")
    anchor = _field(form, anchor_field) if anchor_field else ""
    return _redirect(request, _back(week, filters, f"c-{anchor}" if anchor else ""), flash)


def _order(form: FormData) -> int | None:
    text = _field(form, "order").strip()
    if not text:
        return None
    if not text.lstrip("-").isdigit():
        raise UsageError(f"order {text!r} is not a whole number")
    return int(text)


async def pick(request: Request) -> Response:
    def action(state: State, week: str, form: FormData) -> Any:
        # The note editor of a picked item sends note_edit=1: its empty note removes the
        # note. A Pick button's empty note field leaves a picked item's note alone.
        note = _field(form, "note")
        return edits.pick(state, week, _field(form, "item"),
                          section=_field(form, "section") or None,
                          note=note if _field(form, "note_edit") == "1" else note or None,
                          order=_order(form))
    return await _change(request, action)


async def drop(request: Request) -> Response:
    def action(state: State, week: str, form: FormData) -> Any:
        return edits.drop(state, week, _field(form, "item"),
                          reason=_field(form, "reason") or None,
                          undo=_field(form, "undo") == "1")
    return await _change(request, action)


async def move(request: Request) -> Response:
    def action(state: State, week: str, form: FormData) -> Any:
        step = -1 if _field(form, "step") == "-1" else 1
        return edits.move(state, week, _field(form, "item"), step)
    return await _change(request, action)


async def approve(request: Request) -> Response:
    def action(state: State, week: str, form: FormData) -> Any:
        with edits.editing(state.config):
            outcome = desk_job.approve_reviewed(state, week)
        return edits.EditResult(f"{week}: {outcome}; it goes out at its send time.")
    return await _change(request, action, anchor_field="")


# --------------------------------------------------------------------------- login


async def login_page(request: Request, status: int = 200, problem: str = "") -> Response:
    settings = _settings(request)
    if settings.password_hash is None:
        return RedirectResponse("/", status_code=303)
    nonce = csrf.nonce(request, CSRF_COOKIE)
    body = settings.env.get_template("login.html.j2").render(
        name=settings.config.newsletter.name, problem=problem,
        csrf=csrf.token(settings.key, nonce, "desk-login"))
    response = HTMLResponse(body, status_code=status)
    csrf.set_cookie(response, nonce, _secure(request), CSRF_COOKIE)
    return response


async def login(request: Request) -> Response:
    settings = _settings(request)
    if settings.password_hash is None:
        return RedirectResponse("/", status_code=303)
    form = await read_form(request, settings.config.web.max_body_bytes)
    if not csrf.check(settings.keys, request, _field(form, "csrf"), "desk-login", CSRF_COOKIE):
        return PlainTextResponse("403: the login form has expired; reload it", 403)
    client = request.client.host if request.client else "unknown"
    wait = settings.limiter.hit(client)
    if wait:
        return await login_page(request, 429, f"Too many tries: wait {int(wait) + 1} s.")
    password = _field(form, "password")
    if not await run_in_threadpool(verify_password, password, settings.password_hash):
        return await login_page(request, 401, "Wrong password.")
    response = RedirectResponse("/", status_code=303)
    hours = settings.config.desk.session_hours
    response.set_cookie(SESSION_COOKIE, new_session(settings.key, settings.password_hash, hours),
                        max_age=hours * 3600, path="/", httponly=True, samesite="strict",
                        secure=_secure(request))
    return response


async def logout(request: Request) -> Response:
    settings = _settings(request)
    form = await read_form(request, settings.config.web.max_body_bytes)
    if not csrf.check(settings.keys, request, _field(form, "csrf"), FORM, CSRF_COOKIE):
        return PlainTextResponse("403: the form has expired; reload the page", 403)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=_secure(request))
    return response
