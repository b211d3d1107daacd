"""The editor's report says why (issue 13, item 12): a stale feed's line gives its reason, as
report.json has it, in the email to the editor."""

from __future__ import annotations

import json
from email import message_from_bytes, policy

from .conftest import FEEDS, PINNED_NOW, add_excerpt, make_newsletter
from .test_feeds_build import conditional

GATSBY = (FEEDS / "broken" / "missing-dates_gatsby-starter.xml").read_bytes()
LATER = ("2026-W52", "2026-12-24T08:00:00+00:00")  # four weeks on, the feed unchanged


def test_a_stale_feeds_line_in_the_editors_mail_gives_its_reason(tmp_path, http_server,
                                                                 cli) -> None:
    http_server.routes["/feed.xml"] = conditional(GATSBY, "application/rss+xml")
    news = make_newsletter(tmp_path / "news", feeds=[("Gatsby", http_server.url("/feed.xml"))],
                           extra="\n[fetch]\nstale_weeks = 3\n")
    config = ("--config", news.config_path)
    assert cli(*config, "run", "--now", PINNED_NOW).exit_code == 0
    add_excerpt(news.root, LATER[0], "four-weeks-on")
    result = cli(*config, "run", "--week", LATER[0], "--now", LATER[1])
    assert result.exit_code == 0, result.output

    report = json.loads((news.issues / LATER[0] / "report.json").read_text())
    assert report["feeds_stale"] == ["Gatsby"]
    [feed] = report["feeds"]
    assert feed["note"].startswith("no new item since 2026-11-26")
    mails = sorted((news.root / "var" / "outbox-editor" / "new").iterdir())
    body = message_from_bytes(mails[-1].read_bytes(), policy=policy.default).get_content()
    stale = [line for line in body.splitlines() if line.startswith("  stale: ")]
    assert stale == [f"  stale: Gatsby: {feed['note']}"]
