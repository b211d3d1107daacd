"""Rendering pages: Jinja2 templates (autoescaped) from templates/web/, shared by every view."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from ..config import Config
from . import csrf


@dataclass(frozen=True)
class Form:
    """One button form on a message page."""

    action: str
    button: str
    fields: dict[str, str] = field(default_factory=dict)


def secure_cookies(config: Config) -> bool:
    return config.newsletter.base_url.startswith("https://")


def render(request: Request, template: str, status: int = 200, nonce: str | None = None,
           headers: dict[str, str] | None = None, background: Any = None,
           **context: Any) -> HTMLResponse:
    """The page; `nonce` (a CSRF cookie value) is set on the response when given."""
    state = request.app.state
    body = state.env.get_template(f"web/{template}").render(
        newsletter=state.config.newsletter, **context)
    response = HTMLResponse(body, status_code=status, headers=headers, background=background)
    if nonce is not None:
        csrf.set_cookie(response, nonce, secure_cookies(state.config))
    return response


def message(request: Request, heading: str, *paragraphs: str, status: int = 200,
            form: Form | None = None, link: tuple[str, str] | None = None,
            nonce: str | None = None, headers: dict[str, str] | None = None,
            background: Any = None) -> HTMLResponse:
    return render(request, "message.html.j2", status=status, nonce=nonce, headers=headers,
                  background=background, heading=heading, paragraphs=paragraphs, form=form,
                  link={"url": link[0], "text": link[1]} if link else None)


def form_expired(request: Request, link: str) -> HTMLResponse:
    """A button's POST whose CSRF token is missing, foreign or expired."""
    return message(request, "This form has expired",
                   f"Nothing was changed. Open the {link} link from your email again.",
                   status=400)
