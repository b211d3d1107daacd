"""The archive after every send (issue 13, items 9 and 10): `digest build` then `digest send`
(the careful editor's flow) publishes the week's page, the index and the feed; the pages carry
a title, description, canonical URL, Open Graph and Twitter tags; the feed's entries are titled
by number and headline and dated from the issues, so rebuilding gives the same bytes."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import feedparser

from .conftest import PINNED_NOW, PINNED_WEEK, add_excerpt, make_newsletter

BASE = "https://pmcareerdigest.example.com"
JOURNEY = "The Journey to Becoming a Product Manager"
SECOND = ("2026-W49", "2026-12-03T08:00:00+00:00")
IMAGE = "https://images.example.com/cover.png"


class _Head(HTMLParser):
    """<title>s, <meta> name/property → content, <link rel> → href of a page's head."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.titles: list[str] = []
        self.meta: dict[str, list[str]] = {}
        self.links: dict[str, list[str]] = {}
        self._in_title = False

    def handle_starttag(self, tag, attrs) -> None:
        values = dict(attrs)
        if tag == "title":
            self._in_title = True
            self.titles.append("")
        elif tag == "meta" and (values.get("name") or values.get("property")):
            key = values.get("name") or values.get("property")
            self.meta.setdefault(key, []).append(values.get("content") or "")
        elif tag == "link" and values.get("rel"):
            self.links.setdefault(values["rel"], []).append(values.get("href") or "")

    def handle_endtag(self, tag) -> None:
        self._in_title = self._in_title and tag != "title"

    def handle_data(self, data) -> None:
        if self._in_title:
            self.titles[-1] += data


def head(path: Path) -> _Head:
    parser = _Head()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _newsletter(tmp_path: Path, cli):
    news = make_newsletter(tmp_path / "news")
    # A lead image on one excerpt: the issue page's social card shows it.
    path = news.root / "curated" / "2026-11-20-product-manager-vs-product-owner.md"
    path.write_text(path.read_text().replace("order = 9", f'order = 9\nimage = "{IMAGE}"'))
    assert cli("--config", news.config_path, "subscribers", "add", "ada@example.com").exit_code == 0
    return news


def _build_and_send(cli, news, week: str, now: str) -> None:
    config = ("--config", news.config_path)
    built = cli(*config, "build", "--week", week, "--now", now)
    assert built.exit_code == 0, built.output
    sent = cli(*config, "send", "--week", week)
    assert sent.exit_code == 0, sent.output


def _site_files(news) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in [news.issues / "index.html", news.issues / "feed.xml",
                                        *sorted(news.issues.glob("*/index.html"))]}


def test_build_then_send_publishes_the_week(tmp_path, cli) -> None:
    news = _newsletter(tmp_path, cli)
    _build_and_send(cli, news, PINNED_WEEK, PINNED_NOW)
    page = news.issues / PINNED_WEEK / "index.html"
    assert page.is_file()  # the email's "view online" link works on a static host at once
    index = (news.issues / "index.html").read_text(encoding="utf-8")
    assert f'href="{PINNED_WEEK}/"' in index
    assert f"#1: {JOURNEY}</a>" in index
    feed = feedparser.parse((news.issues / "feed.xml").read_bytes())
    assert [e.link for e in feed.entries] == [f"{BASE}/issues/{PINNED_WEEK}/"]

    # The next week, the same flow adds it (newest first).
    add_excerpt(news.root, SECOND[0], "second-week")
    _build_and_send(cli, news, *SECOND)
    assert (news.issues / SECOND[0] / "index.html").is_file()
    assert f'href="{SECOND[0]}/"' in (news.issues / "index.html").read_text(encoding="utf-8")
    feed = feedparser.parse((news.issues / "feed.xml").read_bytes())
    assert [e.link for e in feed.entries] == [f"{BASE}/issues/{SECOND[0]}/",
                                              f"{BASE}/issues/{PINNED_WEEK}/"]


def test_a_built_week_not_sent_is_not_published(tmp_path, cli) -> None:
    news = _newsletter(tmp_path, cli)
    assert cli("--config", news.config_path, "build", "--now", PINNED_NOW).exit_code == 0
    dry = cli("--config", news.config_path, "send", "--week", PINNED_WEEK, "--dry-run")
    assert dry.exit_code == 0
    copy = cli("--config", news.config_path, "send", "--week", PINNED_WEEK, "--to",
               "me@example.com")
    assert copy.exit_code == 0, copy.output
    assert not (news.issues / PINNED_WEEK / "index.html").exists()
    assert not (news.issues / "feed.xml").exists()


def test_pages_for_search_engines_and_social_cards(tmp_path, cli) -> None:
    news = _newsletter(tmp_path, cli)
    _build_and_send(cli, news, PINNED_WEEK, PINNED_NOW)
    issue = (news.issues / PINNED_WEEK / "issue.json").read_text(encoding="utf-8")
    preheader = re.search(r'"preheader": "([^"]*)"', issue).group(1)
    url = f"{BASE}/issues/{PINNED_WEEK}/"

    page = head(news.issues / PINNED_WEEK / "index.html")
    title = f"{JOURNEY} · PM Career Digest #1"
    assert page.titles == [title]  # one, readable, the headline first
    expected = {"description": preheader, "og:type": "article", "og:title": title,
                "og:description": preheader, "og:url": url, "og:site_name": "PM Career Digest",
                "og:image": IMAGE, "twitter:card": "summary_large_image",
                "twitter:title": title, "twitter:description": preheader,
                "article:published_time": "2026-11-23T12:00:00+00:00"}
    for key, value in expected.items():
        assert page.meta.get(key) == [value], (key, page.meta.get(key))
    assert page.links["canonical"] == [url]
    assert page.links["alternate"] == [f"{BASE}/issues/feed.xml"]

    index = head(news.issues / "index.html")
    assert index.titles == ["Archive · PM Career Digest"]
    assert index.links["canonical"] == [f"{BASE}/issues/"]
    assert index.meta["og:url"] == [f"{BASE}/issues/"] and index.meta["description"][0]
    assert index.meta["twitter:card"] == ["summary"]

    feed = feedparser.parse((news.issues / "feed.xml").read_bytes())
    assert feed.feed.title == "PM Career Digest"
    [entry] = feed.entries
    assert entry.title == f"#1: {JOURNEY}"  # the feed names the newsletter, its entries not
    assert "PM Career Digest" not in entry.title
    assert entry.published == entry.updated == "2026-11-23T12:00:00+00:00"  # Monday 07:00 NY


def test_rebuilding_the_site_gives_the_same_bytes(tmp_path, cli) -> None:
    news = _newsletter(tmp_path, cli)
    _build_and_send(cli, news, PINNED_WEEK, PINNED_NOW)
    first = _site_files(news)
    stamps = {p: p.stat().st_mtime_ns for p in first}
    config = ("--config", news.config_path)
    again = cli(*config, "site")
    assert "0 file(s) written" in again.output
    assert {p: p.stat().st_mtime_ns for p in first} == stamps  # not even touched
    for path in first:
        path.unlink()
    assert cli(*config, "site").exit_code == 0
    assert _site_files(news) == first
    # A lost database: the archive's own delivery record says the week was sent, and every
    # date comes from the issue, not from when the send ended.
    (news.root / "var" / "digest.sqlite3").unlink()
    for path in first:
        path.unlink()
    assert cli(*config, "site").exit_code == 0
    assert _site_files(news) == first
