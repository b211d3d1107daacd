"""Pre-flight checks of a built issue (`digest check`). Errors stop a send; warnings inform.

The checks look at what a reader receives: the message composed for a sample subscriber
(tokens substituted, quoted-printable MIME), not the token template. Each problem starts with a
short reason code (`missing-unsubscribe: …`) so tests, scripts and people can tell them apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from urllib.parse import urlsplit

from ..config import Config
from ..issue.links import click_links, extract, is_own, outbound_linker, probe_all, tracked_links
from ..models import Issue, RenderedIssue, Subscriber
from ..tracking import CLICK_PLACEHOLDER
from .compose import build_message, reader_links
from .visible import says, visible_text, words

# Gmail clips a message at about 102 KB of encoded source; stay well below.
MAX_ENCODED_BYTES = 95_000
WARN_ENCODED_BYTES = 80_000
# Gmail drops <style> blocks beyond 16 KB (and with them the dark mode and phone rules).
WARN_STYLE_BYTES = 16_000
SUBJECT_MAX = 120  # clients show 40–90 characters; beyond this it is a mistake, not a style
PREHEADER_MAX = 200
PREHEADER_GOOD = (40, 110)  # shorter lets body text leak into the inbox preview; longer is cut
PLACEHOLDER_RE = re.compile(r"\bTK\b|\bTODO\b|\{\{|%%")
SAMPLE_READER = Subscriber(id=0, email="reader@example.com", name="Sample Reader",
                           status="active")


@dataclass(frozen=True)
class CheckReport:
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    facts: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _norm(text: str) -> str:
    return " ".join(text.split())


def _parts(data: bytes) -> tuple[str, str]:
    """(html, text) bodies of a composed message, decoded."""
    message = message_from_bytes(data, policy=policy.default)
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    return (html_part.get_content() if html_part else "",
            text_part.get_content() if text_part else "")


def _placeholders(where: str, text: str, ignore: frozenset[str] = frozenset()) -> list[str]:
    found = []
    for marker in dict.fromkeys(m.group(0) for m in PLACEHOLDER_RE.finditer(text)):
        if marker in ignore:
            continue
        at = text.find(marker)
        snippet = _norm(text[max(0, at - 30):at + 30])
        found.append(f"placeholder: {marker!r} left in the {where} (…{snippet}…)")
    return found


def _without_feed_text(text: str, issue: Issue) -> str:
    """`text` (whitespace folded) without what feed items say in their own words: "TODO" in an
    article's title or "{{" in its excerpt is the publisher's, not a placeholder the editor or
    a template left behind, and must not stop the send."""
    text = _norm(text)
    for item in issue.items:
        if item.kind == "feed":
            for value in (item.title, item.excerpt, item.author or ""):
                if value.strip():
                    text = text.replace(_norm(value), " ")
    return text


def _length_checks(name: str, value: str, maximum: int) -> list[str]:
    value = value.strip()
    if not value:
        return [f"empty-{name}: the {name} is empty"]
    if len(value) > maximum:
        return [f"long-{name}: the {name} is {len(value)} characters (at most {maximum})"]
    return []


def _reader_sees(config: Config, issue: Issue, shown: str, text: str) -> list[str]:
    """The postal address in both parts (CAN-SPAM), and a preheader kept for the inbox list:
    `shown` and `text` are the words (visible.words) of the HTML part as displayed and of the
    text part."""
    errors = []
    for part, said in (("HTML part", shown), ("text part", text)):
        if not says(said, config.newsletter.postal_address):
            errors.append(f"missing-postal-address: the {part} does not show [newsletter] "
                          "postal_address (CAN-SPAM: every issue carries the sender's postal "
                          "address)")
    if words(issue.preheader) and says(shown, issue.preheader):
        errors.append("visible-preheader: the preheader shows in the HTML part; hide it as "
                      "the bundled template does (display:none;max-height:0px;overflow:hidden;"
                      "mso-hide:all on its element)")
    return errors


def _parity(config: Config, issue: Issue, links: list[str], shown: str, text: str,
            tracked: Callable[[str], str] | None = None) -> list[str]:
    """Text/HTML parity, item by item: each item linked in the HTML part; its title, URL and
    every excerpt and note in the text part; every excerpt and note shown in the HTML part.
    A tracked issue (`tracked`: links.click_links) links /c/<link part>.<reader's value>."""
    errors = []
    link = outbound_linker(config, issue.id, issue.number)
    text_norm, text_words = _norm(text), words(text)
    for item in issue.items:
        url = link(item.url)
        if tracked is not None:
            prefix = tracked(item.url).removesuffix(CLICK_PLACEHOLDER)
            url = next((h for h in links if h.startswith(prefix)), prefix)
        if url not in links:
            errors.append(f"missing-item: item {item.title!r} ({url}) is not linked in the "
                          "HTML part")
            continue
        passages = [(what, value) for p in item.passages
                    for what, value in (("excerpt", p.excerpt), ("editor's note", p.note))
                    if value and words(value)]
        missing = [what for what, ok in (("title", _norm(item.title) in text_norm),
                                         ("URL", url in text)) if not ok]
        missing += [f"{what} {_snippet(value)}" for what, value in passages
                    if not says(text_words, value)]
        if missing:
            errors.append(f"text-parity: item {item.title!r} is in the HTML but its "
                          f"{' and '.join(missing)} missing from the text part")
        unseen = [f"{what} {_snippet(value)}" for what, value in passages
                  if not says(shown, value)]
        if unseen:
            errors.append(f"missing-item: item {item.title!r}: its {' and '.join(unseen)} "
                          "not shown in the HTML part")
    return errors


def _snippet(value: str) -> str:
    return repr(" ".join(value.split()[:6]) + ("…" if len(value.split()) > 6 else ""))


def check_rendered(config: Config, rendered: RenderedIssue, key: bytes,
                   links: bool = False) -> CheckReport:
    """Every check of a rendered issue; with `links`, also request every outbound link."""
    issue = rendered.issue
    errors: list[str] = []
    warnings: list[str] = []
    message = build_message(config, rendered, SAMPLE_READER, key,
                            datetime(2000, 1, 1, tzinfo=UTC))
    html, text = _parts(message.data)
    facts_html = extract(html)
    visible = facts_html.text

    # Unsubscribe: the reader's own link, in both parts.
    unsubscribe = reader_links(config, key, SAMPLE_READER, issue.id).unsubscribe
    if unsubscribe not in facts_html.links:
        errors.append("missing-unsubscribe: the HTML part has no link to the reader's "
                      "unsubscribe URL (use {{ tokens.unsubscribe_url }} in the template)")
    if unsubscribe not in text:
        errors.append("missing-unsubscribe: the text part does not contain the reader's "
                      "unsubscribe URL")

    # Links and images: absolute http(s) only; every image has alt text.
    for href in dict.fromkeys(facts_html.links):
        parts = urlsplit(href.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            kind = "relative" if not parts.scheme else f"not http(s) ({parts.scheme}:)"
            errors.append(f"bad-link: link {href!r} is {kind}")
    for src, alt in facts_html.images:
        parts = urlsplit(src.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            errors.append(f"bad-link: image source {src!r} is relative or not http(s)")
        if alt is None:  # alt="" is right for a decorative image: screen readers skip it
            errors.append(f"image-alt: image {src!r} has no alt attribute (describe it, or "
                          'alt="" when it is decorative)')

    # Leftover placeholders, wherever a reader could see them.
    attributes = " ".join(facts_html.links + [f"{s} {a or ''}" for s, a in facts_html.images])
    # The subject and preheader quote feed titles, perhaps clipped: a marker that a feed title
    # has is the title's.
    in_titles = frozenset(PLACEHOLDER_RE.findall(
        " ".join(i.title for i in issue.items if i.kind == "feed")))
    errors += _placeholders("subject", issue.subject, in_titles)
    errors += _placeholders("preheader", issue.preheader, in_titles)
    errors += _placeholders("HTML part", _without_feed_text(visible, issue) + " " + attributes)
    errors += _placeholders("text part", _without_feed_text(text, issue))
    # Render prints an editor's `%%` as `%` (only the templates' own placeholders may spell
    # it), so a mail-merge field pasted into an excerpt is looked for in the issue itself.
    editors = " ".join(f"{i.title} {i.excerpt} {i.note or ''}" for i in issue.items
                       if i.kind == "curated")
    errors += _placeholders("editor's text", editors, frozenset({"TK", "TODO", "{{"}))

    # Whatever [schedule] min_new_items says: an issue with nothing in it is never sent.
    if not issue.items:
        errors.append("empty-issue: the issue has no items (no curated excerpt and no new feed"
                      " item); an empty issue is never sent")
    for section in issue.sections:
        if not section.items:
            errors.append(f"empty-section: section {section.title!r} has no items")

    errors += _length_checks("subject", issue.subject, SUBJECT_MAX)
    errors += _length_checks("preheader", issue.preheader, PREHEADER_MAX)
    pre_len = len(issue.preheader.strip())
    if pre_len and not PREHEADER_GOOD[0] <= pre_len <= PREHEADER_GOOD[1]:
        warnings.append(f"preheader-length: the preheader is {pre_len} characters "
                        f"(best between {PREHEADER_GOOD[0]} and {PREHEADER_GOOD[1]})")

    tracked = click_links(config, issue, key) if rendered.tracked else None
    shown = words(visible_text(html))
    errors += _reader_sees(config, issue, shown, words(text))
    errors += _parity(config, issue, facts_html.links, shown, text, tracked)

    size = len(message.data)
    if size > MAX_ENCODED_BYTES:
        errors.append(f"too-large: the encoded message is {size:,} bytes, over "
                      f"{MAX_ENCODED_BYTES // 1000} KB (Gmail clips at about 102 KB)")
    elif size > WARN_ENCODED_BYTES:
        warnings.append(f"large: the encoded message is {size:,} bytes, over "
                        f"{WARN_ENCODED_BYTES // 1000} KB")
    style_bytes = sum(len(m) for m in re.findall(r"<style[^>]*>(.*?)</style>", html, re.S))
    if style_bytes > WARN_STYLE_BYTES:
        warnings.append(f"style-size: {style_bytes:,} bytes of <style>; Gmail drops styles "
                        "beyond 16 KB")

    facts = {"encoded_bytes": size, "html_bytes": len(html.encode()),
             "text_bytes": len(text.encode()), "style_bytes": style_bytes,
             "links": len(set(facts_html.links)), "images": len(facts_html.images)}
    if links:
        # The newsletter's own pages (archive, unsubscribe) may not be published yet.
        # A tracked link (/c/…) is probed where it leads: the link table's targets.
        targets = [t.url for t in tracked_links(config, issue)]
        outbound = [u for u in dict.fromkeys(facts_html.links + targets
                                             + [s for s, _ in facts_html.images])
                    if u.startswith(("http://", "https://")) and not is_own(config, u)]
        statuses = probe_all(outbound, config.check.link_timeout_seconds,
                             config.check.link_concurrency)
        for status in statuses:
            if status.error:
                warnings.append(f"broken-link: {status.url} {status.error}")
            elif not status.ok:
                warnings.append(f"broken-link: {status.url} answered HTTP {status.status}")
        facts["links_checked"] = len(statuses)
    return CheckReport(tuple(errors), tuple(warnings), facts)
