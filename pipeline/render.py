"""Render stage: Issue → MJML (Jinja2, autoescaped) → HTML (mjml-python) and plain text.

Per-reader values are not known here: the templates write placeholder tokens (TOKENS) that the
compose stage substitutes, escaped, for each subscriber. So MJML is compiled once per issue.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import jinja2
from mjml import mjml2html

from .config import Config
from .errors import RenderError
from .models import Issue, RenderedIssue

BUNDLED_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

# Per-subscriber values, substituted by compose.personalise(). `%%` makes a leftover one an
# error for `digest check`.
TOKENS = {
    "unsubscribe_url": "%%UNSUBSCRIBE_URL%%",
    "web_url": "%%WEB_URL%%",
    "greeting": "%%GREETING%%",
    "email": "%%EMAIL%%",
}


def template_dirs(config: Config) -> list[Path]:
    """The newsletter's own templates folder first, then the bundled ones."""
    dirs = [config.templates.dir]
    if BUNDLED_TEMPLATES.resolve() != config.templates.dir.resolve():
        dirs.append(BUNDLED_TEMPLATES)
    return [d for d in dirs if d.is_dir()]


def _wrap(text: str, width: int = 72, indent: str = "") -> str:
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    return "\n\n".join(
        textwrap.fill(p, width=width, initial_indent=indent, subsequent_indent=indent,
                      break_long_words=False, break_on_hyphens=False) for p in paragraphs)


def environment(config: Config) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in template_dirs(config)]),
        # Autoescape everything but the plain-text templates.
        autoescape=lambda name: name is not None and not name.endswith(".txt.j2"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["wrap"] = _wrap
    return env


def context(config: Config, issue: Issue) -> dict[str, Any]:
    n = config.newsletter
    return {
        "issue": issue,
        "newsletter": n,
        "config": config,
        "tokens": TOKENS,
        "archive_url": n.base_url.rstrip("/") + "/",
    }


def render_mjml(config: Config, issue: Issue, env: jinja2.Environment | None = None) -> str:
    env = env or environment(config)
    try:
        return env.get_template("email.mjml.j2").render(context(config, issue))
    except jinja2.TemplateError as exc:
        raise RenderError(f"template email.mjml.j2: {exc}",
                          hint="check your templates folder's override") from exc


def render_text(config: Config, issue: Issue, env: jinja2.Environment | None = None) -> str:
    env = env or environment(config)
    try:
        return env.get_template("email.txt.j2").render(context(config, issue))
    except jinja2.TemplateError as exc:
        raise RenderError(f"template email.txt.j2: {exc}",
                          hint="check your templates folder's override") from exc


def compile_mjml(source: str) -> str:
    try:
        return mjml2html(source)
    except ValueError as exc:
        raise RenderError(f"MJML did not compile: {exc}",
                          hint="validate the template with `npx mjml -v`") from exc


def render_issue(config: Config, issue: Issue) -> RenderedIssue:
    env = environment(config)
    mjml_source = render_mjml(config, issue, env)
    return RenderedIssue(issue=issue, mjml=mjml_source, html=compile_mjml(mjml_source),
                         text=render_text(config, issue, env))
