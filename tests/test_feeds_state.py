"""Feed state across runs (real SQLite): 304 reuses the stored entries, entries without a
plausible date keep the time they were first seen, "new" counts, stale feeds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.jobs.build import Timings, fetch_and_parse
from pipeline.state.handle import State

from .conftest import FEEDS, make_newsletter
from .test_feeds_build import LAST_MODIFIED, conditional

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
GATSBY = (FEEDS / "broken" / "missing-dates_gatsby-starter.xml").read_bytes()


def _run(config, now):
    with State(config, now) as state:
        entries, [report] = fetch_and_parse(state, Timings())
    return entries, report


def _newsletter(tmp_path, url, extra=""):
    return make_newsletter(tmp_path / "news", feeds=[("Gatsby", url)], curated=False,
                           extra=extra)


def test_undated_entries_keep_their_first_seen_time(tmp_path, http_server):
    http_server.routes["/feed.xml"] = conditional(GATSBY, "application/rss+xml")
    config = _newsletter(tmp_path, http_server.url("/feed.xml")).config()

    entries, report = _run(config, T0)
    assert (report.status, report.http_status, report.entries, report.new) == ("ok", 200, 17, 17)
    undated = {e.guid: e for e in entries if not e.dated}
    assert len(undated) == 7 and all(e.published == T0 for e in undated.values())

    # A week later: 304, the same entries from SQLite, the same first-seen dates, none new.
    later = T0 + timedelta(days=7)
    entries, report = _run(config, later)
    assert (report.status, report.http_status, report.new, report.bytes) == (
        "not_modified", 304, 0, 0)
    assert {e.guid: e.published for e in entries if not e.dated} == {
        g: T0 for g in undated}
    assert http_server.requests[-1][2]["If-Modified-Since"] == LAST_MODIFIED

    # The publisher changes the feed: parsed again, the dates still come from SQLite.
    changed = GATSBY.replace(b"<channel>", b"<channel><item><title>Brand new post</title>"
                             b"<link>https://gessfred.xyz/brand-new</link></item>", 1)
    http_server.routes["/feed.xml"] = conditional(changed, "application/rss+xml",
                                                  last_modified="Thu, 03 Dec 2026 07:00:00 GMT")
    entries, report = _run(config, later)
    assert (report.status, report.entries, report.new) == ("ok", 18, 1)
    dates = {e.title: e.published for e in entries if not e.dated}
    assert dates.pop("Brand new post") == later
    assert set(dates.values()) == {T0}


def test_a_feed_without_new_items_for_weeks_is_stale(tmp_path, http_server):
    http_server.routes["/feed.xml"] = conditional(GATSBY, "application/rss+xml")
    config = _newsletter(tmp_path, http_server.url("/feed.xml"),
                         "\n[fetch]\nstale_weeks = 3\n").config()
    assert _run(config, T0)[1].status == "ok"
    assert _run(config, T0 + timedelta(weeks=2))[1].status == "not_modified"
    _, report = _run(config, T0 + timedelta(weeks=3))
    assert report.status == "stale" and report.http_status == 304 and report.entries == 17
    assert report.note == "no new item since 2026-11-26"


def test_stored_entries_are_not_reused_when_they_would_differ(tmp_path, http_server):
    http_server.routes["/feed.xml"] = conditional(GATSBY, "application/rss+xml")
    news = _newsletter(tmp_path, http_server.url("/feed.xml"))
    _run(news.config(), T0)
    # Another excerpt length: the stored excerpts are the wrong size, fetch in full.
    news.write_config(news.config_path.read_text().replace("[issue]\n",
                                                           "[issue]\nexcerpt_words = 20\n"))
    entries, report = _run(news.config(), T0)
    assert report.status == "ok" and report.http_status == 200
    assert "If-None-Match" not in http_server.requests[-1][2]
    assert all(len(e.excerpt.split()) <= 20 for e in entries)


def test_a_failed_fetch_keeps_the_last_good_state(tmp_path, http_server):
    http_server.routes["/feed.xml"] = conditional(GATSBY, "application/rss+xml")
    config = _newsletter(tmp_path, http_server.url("/feed.xml")).config()
    _run(config, T0)
    http_server.serve_bytes("/feed.xml", b"oops", status=500)
    _, report = _run(config, T0)
    assert (report.status, report.error) == ("failed", "HTTP 500 Internal Server Error")
    http_server.routes["/feed.xml"] = conditional(GATSBY, "application/rss+xml")
    entries, report = _run(config, T0)
    assert report.status == "not_modified" and len(entries) == 17
