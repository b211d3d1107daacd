"""The pieces of click tracking between render and send: `digest check` on the tracked
message (and `--links` probing where /c/ leads, never /c/), `[issue] learn_from_clicks` in the
pure assemble, and the clicks-off default that leaves every message as it was."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from pipeline.issue.assemble import assemble, click_factor
from pipeline.models import Entry, Section
from tests.conftest import make_newsletter
from tests.golden.sample import sample_issue
from tests.test_check import run_check, write_issue

AGGREGATE = '\n[tracking]\nclicks = "aggregate"\n'


def test_check_passes_a_tracked_issue_and_finds_its_mistakes(cli, tmp_path):
    news = make_newsletter(tmp_path / "news", curated=False, extra=AGGREGATE).root
    write_issue(news, sample_issue(12))
    result = run_check(cli, news)
    assert result.exit_code == 0, result.output
    assert "error" not in result.output
    # A template that drops the tracked link of an item: that item is missing.
    override = news / "templates" / "email" / "item.mjml.j2"
    override.parent.mkdir(parents=True)
    from pipeline.issue.render import BUNDLED_TEMPLATES
    source = (BUNDLED_TEMPLATES / "email" / "item.mjml.j2").read_text()
    override.write_text(source.replace("{% set href = link(item.url) %}",
                                       '{% set href = "https://elsewhere.example/" %}'))
    result = run_check(cli, news)
    assert result.exit_code == 1 and "missing-item" in result.output


def test_check_links_probes_the_articles_not_the_redirects(cli, http_server, tmp_path):
    news = make_newsletter(tmp_path / "news", curated=False, extra=AGGREGATE).root
    http_server.serve_bytes("/ok", b"fine", "text/html")
    items = [replace(it, url=http_server.url(f"/ok?n={n}") if n else http_server.url("/gone"),
                     image=None)
             for n, it in enumerate(sample_issue(4).sections[0].items)]
    write_issue(news, replace(sample_issue(4), sections=(Section("craft", "The craft",
                                                                 tuple(items)),)))
    result = run_check(cli, news, "--links")
    assert result.exit_code == 0, result.output
    assert f"warning: broken-link: {http_server.url('/gone')} answered HTTP 404" in result.output
    paths = [path for _, path, _ in http_server.requests]
    assert "/gone" in paths and all(not p.startswith("/c/") for p in paths)
    assert "/c/" not in result.output


def _entry(feed: str, n: int, now: datetime) -> Entry:
    return Entry(feed_name=feed, guid=f"{feed}-{n}", url=f"https://{feed}.example/{n}",
                 title=f"Product roadmap notes {feed} {n}", excerpt="On product discovery.",
                 published=now - timedelta(hours=n + 1))


def test_learn_from_clicks_reorders_sources_deterministically(tmp_path):
    config = make_newsletter(tmp_path / "news", curated=False, feeds=[
        ("alpha", "feeds/a.xml"), ("beta", "feeds/b.xml")], extra="").config()
    config = replace(config, issue=replace(config.issue, max_items=2, max_per_source=2))
    now = datetime(2026, 11, 26, 8, tzinfo=UTC)
    # alpha's entries are a little newer, so alpha leads without clicks.
    entries = [_entry("alpha", 0, now), _entry("alpha", 1, now), _entry("beta", 2, now),
               _entry("beta", 3, now)]

    def sources(weights):
        issue = assemble(config, "2026-W48", 1, now, [], entries, set(),
                         source_weights=weights)
        return [item.source for item in issue.items]

    assert sources(None) == ["alpha", "alpha"] == sources({})
    assert sources({"alpha": 0.4, "beta": 2.5}) == ["beta", "beta"]
    assert sources({"alpha": 0.4, "beta": 2.5}) == sources({"beta": 2.5, "alpha": 0.4})
    assert click_factor(100.0) == 2.0 and click_factor(0.0) == 0.5 and click_factor(1.0) == 1.0


def test_learn_from_clicks_is_off_by_default(tmp_path):
    assert make_newsletter(tmp_path / "news", curated=False).config().issue.learn_from_clicks \
        is False
