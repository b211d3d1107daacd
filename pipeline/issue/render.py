"""Render stage: Issue → MJML (Jinja2, autoescaped) → HTML (mjml-python) and plain text.

Per-reader values are not known here: the templates write placeholder tokens (TOKENS) that the
compose stage substitutes, escaped, for each subscriber. So MJML is compiled once per issue.
"""

from __future__ import annotations

import functools
import re
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
from mjml import mjml2html

from ..config import Config
from ..errors import RenderError
from ..htmltext import defuse_tokens
from ..models import Issue, RenderedIssue
from ..safetext import xml_safe
from ..tracking import CLICK_PLACEHOLDER, ClickLinker
from .articles import merge_repeats
from .links import outbound_linker

BUNDLED_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

# Per-subscriber values, substituted by compose.personalise(). `%%` makes a leftover one an
# error for `digest check`.
TOKENS = {
    "unsubscribe_url": "%%UNSUBSCRIBE_URL%%",
    "web_url": "%%WEB_URL%%",
    "greeting": "%%GREETING%%",
    "email": "%%EMAIL%%",
    "click": CLICK_PLACEHOLDER,  # the reader's half of a click token (tracking/clicktoken.py)
}
_TOKEN_VALUES = frozenset(TOKENS.values())


class TrackedUrl(str):
    """A click-tracked article URL (`…/c/<link part>.%%CLICK%%`): the one kind of printed value
    that may carry a placeholder inside it. Made only by `context` from a ClickLinker."""


@functools.lru_cache(maxsize=64)
def _resolved(path: Path) -> Path:
    return path.resolve()


def template_dirs(config: Config) -> list[Path]:
    """The newsletter's own templates folder first, then the bundled ones."""
    own = config.templates.dir
    if not own.is_absolute():  # the default is not resolved by the loader: anchor it here
        own = config.root / own
    dirs = [own]
    if _resolved(BUNDLED_TEMPLATES) != _resolved(own):
        dirs.append(BUNDLED_TEMPLATES)
    return [d for d in dirs if d.is_dir()]


def paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs, each on one line (whitespace collapsed)."""
    return [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]


def fill(paragraph: str, width: int = 72, indent: str = "") -> str:
    """Greedy word wrap, like textwrap.fill but done by one regex (several times faster).
    A word longer than the line (a URL) gets a line of its own and is never broken."""
    words = " ".join(paragraph.split())
    room = width - len(indent)
    if len(words) <= room:
        return indent + words if words else ""
    lines = _line_re(room).findall(words)
    return "\n".join(indent + line for line in lines)


@functools.lru_cache(maxsize=16)
def _line_re(room: int) -> re.Pattern[str]:
    # Longest run of up to `room` characters ending at a space or the end; else one long word.
    return re.compile(rf"(?:(?<=\s)|^)(\S{{{room + 1},}}|.{{1,{room}}})(?=\s|$)\s*")


def _wrap(text: str, width: int = 72, indent: str = "") -> str:
    if "\n\n" not in text:  # the common case: one paragraph
        return fill(text, width, indent)
    joiner = "\n" + indent.rstrip() + "\n"
    return joiner.join(fill(p, width, indent) for p in paragraphs(text))


def _longdate(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


def _printable(value: Any) -> Any:
    """Every value a template prints, without the characters XML forbids: content is cleaned
    where it comes in (parse, curated), this is the net under every other path (an old
    issue.json, a config value, a template's own variable). MJML rejects the whole issue over
    one of them."""
    if isinstance(value, str):
        cleaned = xml_safe(value)
        if "%%" in cleaned and not isinstance(value, markupsafe.Markup | TrackedUrl) \
                and cleaned not in _TOKEN_VALUES:
            # Only the templates' own placeholders may spell `%%`: an excerpt or note with
            # `%%EMAIL%%` in it would otherwise be filled in with each reader's address.
            cleaned = defuse_tokens(cleaned)
        if cleaned != value:
            return markupsafe.Markup(cleaned) if isinstance(value, markupsafe.Markup) else cleaned
    return value


_ENVIRONMENTS: dict[tuple[str, ...], jinja2.Environment] = {}


def environment(config: Config) -> jinja2.Environment:
    """One Jinja2 environment per set of template folders, kept for the process: compiling the
    templates costs a hundred times more than rendering them. Jinja2 still reloads a template
    whose file changed (auto_reload), so an editor's override shows up without a restart."""
    dirs = tuple(str(d) for d in template_dirs(config))
    env = _ENVIRONMENTS.get(dirs)
    if env is None:
        env = _ENVIRONMENTS[dirs] = _new_environment(dirs)
    return env


def _new_environment(dirs: tuple[str, ...]) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(list(dirs)),
        # Autoescape everything but the plain-text templates.
        autoescape=lambda name: name is not None and not name.endswith(".txt.j2"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_printable,
    )
    env.filters["wrap"] = _wrap
    env.filters["longdate"] = _longdate
    return env


def _tracked(clicks: ClickLinker):
    def link(url: str) -> str:
        tracked = clicks(url)
        # Only the linker's own URLs: an untracked (own) URL with `%%` in it stays defused.
        return TrackedUrl(tracked) if tracked != url else url
    return link


def context(config: Config, issue: Issue, clicks: ClickLinker | None = None) -> dict[str, Any]:
    """The templates' values. `clicks`: article links go through /c/ and the HTML part gets
    the trap link (tracking/linktable.py); None: plain (UTM-tagged) links."""
    n = config.newsletter
    link = _tracked(clicks) if clicks else outbound_linker(config, issue.id, issue.number)
    # The text part's numbered references: one number per distinct (tagged) article URL.
    refs: dict[str, int] = {}
    for item in issue.items:
        refs.setdefault(link(item.url), len(refs) + 1)
    if issue.sponsor is not None:
        refs.setdefault(link(issue.sponsor.url), len(refs) + 1)
    return {
        "issue": issue,
        "newsletter": n,
        "config": config,
        "tokens": TOKENS,
        "archive_url": n.base_url.rstrip("/") + "/",
        "link": link,
        "refs": refs,
        "paragraphs": paragraphs,
        "click_trap": markupsafe.Markup(clicks.trap_markup) if clicks else "",
    }


def render_mjml(config: Config, issue: Issue, env: jinja2.Environment | None = None,
                values: dict[str, Any] | None = None) -> str:
    return _render("email.mjml.j2", config, issue, env, values)


def render_text(config: Config, issue: Issue, env: jinja2.Environment | None = None,
                values: dict[str, Any] | None = None) -> str:
    return _render("email.txt.j2", config, issue, env, values)


def _render(name: str, config: Config, issue: Issue, env: jinja2.Environment | None,
            values: dict[str, Any] | None) -> str:
    env = env or environment(config)
    try:
        return env.get_template(name).render(values or context(config, issue))
    except jinja2.TemplateError as exc:
        raise RenderError(f"template {name}: {exc}",
                          hint="check your templates folder's override") from exc


def compile_mjml(source: str) -> str:
    try:
        return mjml2html(source)
    except ValueError as exc:
        raise RenderError(f"MJML did not compile: {exc}",
                          hint="validate the template with `npx mjml -v`") from exc


def render_issue(config: Config, issue: Issue,
                 clicks: ClickLinker | None = None) -> RenderedIssue:
    """The issue compiled once, per-reader values as TOKENS. With `clicks` (links.click_links)
    the version readers get when clicks are tracked; without, the public one (archive)."""
    issue = merge_repeats(issue)  # an issue.json from before one headline per article
    env = environment(config)
    values = context(config, issue, clicks)  # one context for both parts
    mjml_source = render_mjml(config, issue, env, values)
    return RenderedIssue(issue=issue, mjml=mjml_source, html=compile_mjml(mjml_source),
                         text=render_text(config, issue, env, values),
                         tracked=clicks is not None)
