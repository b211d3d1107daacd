"""The issue's link table, the tracked URLs the templates write, and the trap link.

A click token names a link by its index in this table, never by URL: `/c/<token>` can only
ever redirect to a URL of that issue (no open redirect), and the table is a pure function of
the issue, so the web server rebuilds it from the archived issue.json.

What is wrapped: article links only, i.e. the items' URLs. The newsletter's own links are
never wrapped: unsubscribe, view online, the archive, and the footer's social profiles (they
are the newsletter's own pages, not something read; counting them would only measure the
footer). An item that links under `base_url` (an archived issue, say) is an own link too.

The sponsor's link (issue.sponsor) comes after the articles, counted under the section
SPONSOR_SECTION ("sponsor", a section id the config reserves).

Index 0 is reserved for the trap: a link no reader can see or reach (TRAP_MARKUP), which only
a machine fetching every href of the message follows.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..models import Issue
from .clicktoken import CLICK_PLACEHOLDER, link_part

TRAP_INDEX = 0
SPONSOR_SECTION = "sponsor"  # the section id the sponsor's link is counted under


@dataclass(frozen=True)
class TrackedLink:
    """One article link of an issue. `url` is where /c/ redirects: the item's URL with its UTM
    tags when `[tracking] utm` is on. One entry per distinct URL, in the order of the issue;
    several items quoting one article share the first one's entry."""

    index: int  # 1…; TRAP_INDEX (0) is never in the table
    url: str
    title: str
    section: str  # section id
    section_title: str
    source: str
    item_id: str
    original_url: str  # the item's URL as the templates pass it to `link()`


def _is_own(base_url: str, url: str) -> bool:
    base = base_url.rstrip("/")
    return url == base or url.startswith(base + "/")


def link_table(issue: Issue, base_url: str,
               tag: Callable[[str], str] = lambda url: url) -> tuple[TrackedLink, ...]:
    """The issue's article links, numbered from 1. `tag` is the UTM tagger of pipeline/links.py
    (`outbound_linker(config, issue.id, issue.number)`, identity when UTM is off)."""
    table: list[TrackedLink] = []
    seen: set[str] = set()
    for section in issue.sections:
        for item in section.items:
            if item.url in seen or _is_own(base_url, item.url):
                continue
            seen.add(item.url)
            table.append(TrackedLink(index=len(table) + 1, url=tag(item.url), title=item.title,
                                     section=section.id, section_title=section.title,
                                     source=item.source, item_id=item.id,
                                     original_url=item.url))
    sponsor = issue.sponsor
    if sponsor is not None and sponsor.url not in seen and not _is_own(base_url, sponsor.url):
        table.append(TrackedLink(index=len(table) + 1, url=tag(sponsor.url), title=sponsor.title,
                                 section=SPONSOR_SECTION, section_title=sponsor.label,
                                 source=sponsor.name, item_id=SPONSOR_SECTION,
                                 original_url=sponsor.url))
    return tuple(table)


def target(table: tuple[TrackedLink, ...], link_index: int) -> TrackedLink | None:
    """The link a genuine token names; None for the trap or an index the table lacks."""
    if 1 <= link_index <= len(table) and table[link_index - 1].index == link_index:
        return table[link_index - 1]
    return None


def click_url(base_url: str, key: bytes, week: str, link_index: int) -> str:
    """`{base_url}/c/<link part>.%%CLICK%%`: compose fills in the reader's delivery value."""
    return f"{base_url.rstrip('/')}/c/{link_part(key, week, link_index)}.{CLICK_PLACEHOLDER}"


@dataclass(frozen=True)
class ClickLinker:
    """The `link` function of the template context when clicks are tracked: an article URL →
    its tracked URL; any other URL (own links) unchanged. Built once per render."""

    urls: Mapping[str, str]  # original item URL → tracked URL with the placeholder
    trap_url: str

    def __call__(self, url: str) -> str:
        return self.urls.get(url, url)

    @property
    def trap_markup(self) -> str:
        return trap_markup(self.trap_url)


def click_linker(table: tuple[TrackedLink, ...], base_url: str, key: bytes,
                 week: str) -> ClickLinker:
    return ClickLinker(
        urls={link.original_url: click_url(base_url, key, week, link.index) for link in table},
        trap_url=click_url(base_url, key, week, TRAP_INDEX))


# The trap: first link of the HTML body (scanners that fetch links one by one meet it first).
# Hidden from every reader: display:none (Gmail, Apple Mail, Outlook.com keep inline
# display:none, as the preheader relies on) and mso-hide:all (Outlook for Windows ignores
# display:none); no text and no image, so even a client that drops all styles shows nothing to
# click (an image would be fetched by image proxies and Apple Mail Privacy Protection);
# aria-hidden and tabindex=-1 keep it out of screen readers and keyboard focus. Scanners read
# hrefs from the raw HTML and follow it. Never in the text part (a reader sees every URL there).
_TRAP = ('<div aria-hidden="true" style="display:none;max-height:0;max-width:0;overflow:hidden;'
         'mso-hide:all;font-size:0;line-height:0;opacity:0"><a href="{href}" tabindex="-1" '
         'aria-hidden="true" style="display:none;mso-hide:all;font-size:0;line-height:0;'
         'color:transparent;text-decoration:none"></a></div>')


def trap_markup(trap_url: str) -> str:
    """The hidden trap link for the HTML part (put it first inside the body, in an mj-raw)."""
    return _TRAP.format(href=html.escape(trap_url, quote=True))
