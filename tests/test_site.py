"""The public archive: issues/index.html, issues/feed.xml and one page per SENT issue, written
as static files and served by `digest serve`; the feed parses with feedparser; no personal
data in any page."""

from __future__ import annotations

import feedparser

from .conftest import PINNED_NOW, PINNED_WEEK, add_excerpt
from .test_web_support import add_subscriber, web

WEEKS = [(PINNED_WEEK, PINNED_NOW), ("2026-W49", "2026-12-03T08:00:00+00:00")]
DRAFT = ("2026-W50", "2026-12-10T08:00:00+00:00")


def _publish(cli, news) -> None:
    """Two issues built and sent (W48 by `send`, W49 by the weekly job), one only built."""
    config = str(news.config_path)
    week, now = WEEKS[0]
    assert cli("--config", config, "build", "--week", week, "--now", now).exit_code == 0
    assert cli("--config", config, "send", "--week", week).exit_code == 0
    week, now = WEEKS[1]
    add_excerpt(news.root, week, "second-week")  # the shipped excerpts all went into W48
    result = cli("--config", config, "run", "--week", week, "--now", now)
    assert result.exit_code == 0, result.output
    assert cli("--config", config, "build", "--week", DRAFT[0], "--now", DRAFT[1]).exit_code == 0


def test_static_archive_lists_every_sent_issue_and_the_feed_parses(tmp_path, cli):
    with web(tmp_path / "news") as server:
        news = server.news
        add_subscriber(news, "ada.private@example.com", "Ada Lovelace")
        _publish(cli, news)
        # Every complete send wrote the site: W48's by a bare `digest send`, W49's by the
        # weekly job; `digest site` writes the same on demand.
        assert (news.issues / "2026-W49" / "index.html").is_file()
        assert (news.issues / PINNED_WEEK / "index.html").is_file()
        result = cli("--config", str(news.config_path), "site")
        assert result.exit_code == 0, result.output
        index = (news.issues / "index.html").read_text(encoding="utf-8")
        feed_text = (news.issues / "feed.xml").read_text(encoding="utf-8")
        for week, _ in WEEKS:
            assert f'href="{week}/"' in index
            page = (news.issues / week / "index.html").read_text(encoding="utf-8")
            assert "ada.private@example.com" not in page and "Ada Lovelace" not in page
            assert "/u/" not in page and "%%" not in page
            assert f"{server.base}/issues/{week}/" in page  # "View online" points here
        assert DRAFT[0] not in index and DRAFT[0] not in feed_text
        assert not (news.issues / DRAFT[0] / "index.html").exists()

        feed = feedparser.parse(feed_text)
        assert feed.bozo == 0, feed.get("bozo_exception")
        assert feed.feed.title == "PM Career Digest"
        assert [e.link for e in feed.entries] == [
            f"{server.base}/issues/2026-W49/", f"{server.base}/issues/2026-W48/"]
        assert all(e.title.startswith("#") and e.published for e in feed.entries)

        # Nothing changed: regenerating rewrites no file (static hosts keep their caches).
        assert "0 file(s) written" in cli("--config", str(news.config_path), "site").output

        # The server answers the same pages.
        with server.client() as client:
            assert client.get("/issues/").text == index
            served_feed = client.get("/issues/feed.xml")
            assert served_feed.headers["content-type"].startswith("application/atom+xml")
            assert feedparser.parse(served_feed.content).entries[0].link.endswith("W49/")
            page = client.get(f"/issues/{PINNED_WEEK}/")
            assert page.status_code == 200
            assert page.text == (news.issues / PINNED_WEEK / "index.html").read_text()
            assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
            assert client.get(f"/issues/{DRAFT[0]}/").status_code == 404  # not sent
            assert client.get("/issues/..%2F..%2Fvar/").status_code == 404
            assert client.get("/issues").headers["location"] == "/issues/"


def test_empty_archive_has_a_valid_feed(tmp_path, cli):
    with web(tmp_path / "news") as server:
        assert cli("--config", str(server.news.config_path), "site").exit_code == 0
        feed = feedparser.parse((server.news.issues / "feed.xml").read_bytes())
        assert feed.bozo == 0 and feed.entries == []
        assert "No issue has been sent yet" in (server.news.issues / "index.html").read_text()
