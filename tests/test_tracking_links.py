"""The issue's link table and the trap link (issue 14): article links only, with their UTM
tags; the newsletter's own links (unsubscribe, web version, archive, social) never wrapped;
the trap hidden from readers in markup that MJML keeps; a tracked message stays under the
check's size limit."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from mjml import mjml2html

from pipeline.cli import main
from pipeline.config import Config, load_config
from pipeline.issue.links import extract, outbound_linker
from pipeline.jobs.build import load_rendered
from pipeline.mail.check import MAX_ENCODED_BYTES
from pipeline.mail.compose import build_message
from pipeline.models import RenderedIssue, Subscriber
from pipeline.tokens import reader_ref
from pipeline.tracking import (
    CLICK_PLACEHOLDER,
    TRAP_INDEX,
    ClickLinker,
    TrackedLink,
    click_linker,
    delivery_hash,
    delivery_value,
    link_table,
    read_click_token,
    target,
    trap_markup,
)

from .clickdata import BASE, CLICK_KEY, KEY, sample_issue
from .conftest import FEEDS, PINNED_NOW, PINNED_WEEK, SOCIAL, make_newsletter

OWN_ITEM = """+++
title = "From our archive: the issue on career ladders"
url = "https://pmcareerdigest.example.com/issues/2026-W40/"
source = "PM Career Digest"
section = "craft"
added = 2026-11-24T09:00:00Z
+++
> Last month's issue, for readers who missed it.
"""


@dataclass(frozen=True)
class Built:
    config: Config
    rendered: RenderedIssue
    base: str
    tag: Callable[[str], str]
    table: tuple[TrackedLink, ...]
    linker: ClickLinker


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    """A real issue built by the CLI, UTM tagging on, social links in the footer, and one
    curated item that links to the newsletter's own archive."""
    root = tmp_path_factory.mktemp("clicks") / "n"
    news = make_newsletter(root, feeds=[("Kagi Blog", str(FEEDS / "real" /
                                                          "rss2_kagi-blog_summary-only.xml"))],
                           max_items=20, extra="\n[tracking]\nutm = true\n" + SOCIAL)
    (root / "curated" / "2026-11-24-own.md").write_text(OWN_ITEM, encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(news.config_path), "build", "--now",
                                       PINNED_NOW], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    config = load_config(news.config_path)
    rendered = load_rendered(config, PINNED_WEEK)
    issue, base = rendered.issue, config.newsletter.base_url
    tag = outbound_linker(config, issue.id, issue.number)
    table = link_table(issue, base, tag)
    return Built(config, rendered, base, tag, table, click_linker(table, base, KEY, issue.id))


def test_only_article_links_are_tracked_and_own_links_never(built):
    issue, base, table, linker = built.rendered.issue, built.base, built.table, built.linker
    html_links = set(extract(built.rendered.html).links)

    articles = {built.tag(i.url) for i in issue.items if not i.url.startswith(base)}
    assert {link.url for link in table} == articles
    assert articles <= html_links  # the table's targets are the links the issue shows
    for link in table:  # UTM tags on every redirect target
        assert parse_qs(urlsplit(link.url).query)["utm_medium"] == ["email"]
    assert [link.index for link in table] == list(range(1, len(table) + 1))

    own = {url for url in html_links if url.startswith(base) or "%%" in url
           or url.startswith(("mailto:", "https://www.linkedin.com", "https://x.com"))}
    assert any("linkedin" in url for url in own) and any("/issues/2026-W40/" in url for url in own)
    assert own.isdisjoint(link.url for link in table)
    for url in own:
        assert linker(url) == url  # never wrapped
    for item in issue.items:
        wrapped = linker(item.url)
        if item.url.startswith(base):
            assert wrapped == item.url
        else:
            assert wrapped.startswith(f"{base}/c/") and wrapped.endswith(CLICK_PLACEHOLDER)


def test_a_tracked_message_reads_back_and_stays_under_the_size_limit(built):
    config, rendered, base, table, linker = (built.config, built.rendered, built.base,
                                             built.table, built.linker)
    issue = rendered.issue
    reader = Subscriber(1, "ada@example.com", "Ada", "active")
    value = delivery_value(KEY, issue.id, delivery_hash(CLICK_KEY, issue.id,
                                                       reader_ref(reader.email)))

    def wrap(body: str, escape=lambda url: url) -> str:
        """What phase 2's templates will write, filled for one reader."""
        for link in table:
            body = body.replace(escape(link.url), escape(linker(link.original_url)))
        return body.replace(CLICK_PLACEHOLDER, value)

    tracked = RenderedIssue(issue, rendered.mjml, wrap(rendered.html, html.escape),
                            wrap(rendered.text))
    now = datetime(2026, 11, 26, 8, tzinfo=UTC)
    plain = build_message(config, rendered, reader, KEY, now)
    message = build_message(config, tracked, reader, KEY, now)
    assert len(message.data) < MAX_ENCODED_BYTES
    assert len(message.data) - len(plain.data) < 150 * len(table)  # the cost of wrapping

    clicked = [href for href in extract(tracked.html).links if href.startswith(f"{base}/c/")]
    assert len(set(clicked)) == len(table)
    for href in clicked:
        ref = read_click_token(KEY, href.removeprefix(f"{base}/c/"))
        assert ref is not None and ref.issue == issue.id
        assert target(table, ref.link_index).url in {link.url for link in table}
    assert f"{base}/c/" in tracked.text


class _Trap(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text = ""

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text += data


def test_the_trap_is_hidden_from_readers_and_screen_readers():
    table = link_table(sample_issue(), BASE)
    linker = click_linker(table, BASE, KEY, "2026-W48")
    parser = _Trap()
    parser.feed(linker.trap_markup)
    (div, div_attrs), (a, a_attrs) = parser.tags
    assert (div, a) == ("div", "a") and parser.text == ""  # no text, no image
    for attrs in (div_attrs, a_attrs):
        assert attrs["aria-hidden"] == "true"
        assert "display:none" in attrs["style"] and "mso-hide:all" in attrs["style"]
    assert a_attrs["tabindex"] == "-1"
    value = delivery_value(KEY, "2026-W48", delivery_hash(CLICK_KEY, "2026-W48", "x" * 22))
    token = a_attrs["href"].replace(CLICK_PLACEHOLDER, value).removeprefix(f"{BASE}/c/")
    ref = read_click_token(KEY, token)
    assert ref is not None and ref.link_index == TRAP_INDEX
    assert target(table, TRAP_INDEX) is None  # the trap leads to no article


def test_mjml_keeps_the_trap_markup():
    trap = trap_markup(f"{BASE}/c/2026-W48.0.AAAAAAAAAAA.{CLICK_PLACEHOLDER}")
    page = mjml2html(f"<mjml><mj-body><mj-raw>{trap}</mj-raw><mj-section><mj-column><mj-text>"
                     "Hello</mj-text></mj-column></mj-section></mj-body></mjml>")
    assert trap in page


def test_the_table_is_a_pure_function_of_the_issue():
    issue = sample_issue()
    table = link_table(issue, BASE)
    assert table == link_table(issue, BASE)
    # Item 4 quotes the article of item 3: one entry; item 8 is the newsletter's own archive.
    assert [link.item_id for link in table] == [f"item-{n}" for n in (1, 2, 3, 5, 6, 7)]
