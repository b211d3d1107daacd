"""The editor's pass through the command line alone (issue 15): `digest candidates`, `pick`,
`drop`, then `digest run` at the send time sends exactly that issue; a vetoed article never
goes in, under any feed or URL; every change is a file `git diff` shows; a week whose delivery
started can no longer change; racing edits all land."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pipeline.identity import short_id
from pipeline.jobs.desk import draft_issue, load_review
from pipeline.state.handle import State
from pipeline.weeks import parse_now

from .conftest import run_digest
from .desksupport import (
    APPROVAL,
    AT_SEND,
    BEFORE_SEND,
    READERS,
    WEEK,
    curated_changes,
    desk_newsletter,
    git,
    issue_json,
    rows,
)

ROADMAP = "https://alpha.example/roadmap-discovery"
BREAKING_IN = "https://alpha.example/breaking-in-support"
SALARY = "https://alpha.example/salary-bands"
SALARY_IN_BETA = "https://www.alpha.example/salary-bands/"  # the tracking tags stripped at ingest
SALARY_AS_FED = "https://www.alpha.example/salary-bands/?utm_source=beta&utm_medium=rss"


def digest(cli, news, *args: str):
    return cli("--config", news.config_path, *args)


def prepared(cli, tmp_path, extra: str = "", max_items: int = 4, per_source: int = 2):
    news = desk_newsletter(tmp_path / "news", extra=extra, max_items=max_items)
    news.write_config(news.config_path.read_text().replace(
        "max_per_source = 2", f"max_per_source = {per_source}"))
    assert digest(cli, news, "fetch", "--now", BEFORE_SEND).exit_code == 0
    for address in READERS:
        assert digest(cli, news, "subscribers", "add", address).exit_code == 0
    return news


def by_url(found: list[dict]) -> dict[str, dict]:
    return {row["url"]: row for row in found}


def test_the_editors_pass_through_the_cli_alone(cli, tmp_path):
    news = prepared(cli, tmp_path)
    before = by_url(rows(cli, news))
    assert len(before) == 7 and sum(r["in_draft"] for r in before.values()) == 4
    assert before[ROADMAP]["status"] == "included" and before[BREAKING_IN]["status"] == "out"
    assert "max_per_source" in before[BREAKING_IN]["reason"]
    assert before[SALARY]["duplicates"] == [{"source": "Beta", "url": SALARY_IN_BETA}]
    assert before[ROADMAP]["id"] == short_id(ROADMAP)
    text = digest(cli, news, "candidates", "--week", WEEK, "--now", BEFORE_SEND)
    assert f"{short_id(BREAKING_IN)}" in text.output and "also in: Beta" in text.output

    picked = digest(cli, news, "pick", short_id(BREAKING_IN), "--week", WEEK, "--note",
                    "Start here if you are in support today.", "--now", BEFORE_SEND)
    assert picked.exit_code == 0, picked.output
    # ITEM may be any of the article's URLs: Beta's tracking-tagged copy names it too.
    by_copy = digest(cli, news, "pick", SALARY_AS_FED, "--week", WEEK, "--order", "1",
                     "--now", BEFORE_SEND)
    assert by_copy.exit_code == 0, by_copy.output
    dropped = digest(cli, news, "drop", short_id(ROADMAP), "--week", WEEK, "--reason",
                     "we ran one like it last month", "--now", BEFORE_SEND)
    assert dropped.exit_code == 0, dropped.output
    renoted = digest(cli, news, "pick", BREAKING_IN, "--week", WEEK, "--note",
                     "Start here if you work in support.", "--now", BEFORE_SEND)
    assert renoted.exit_code == 0 and "updated note" in renoted.output

    after = by_url(rows(cli, news))
    assert after[BREAKING_IN]["status"] == after[SALARY]["status"] == "picked"
    assert after[ROADMAP]["status"] == "dropped"
    with State(news.config(), parse_now(BEFORE_SEND)) as state:  # the preview's lighter path
        assert draft_issue(state, WEEK) == load_review(state, WEEK).issue
    assert after[ROADMAP]["reason"] == "we ran one like it last month"

    changes = curated_changes(news.root)
    assert sorted(line[3:] for line in changes) == sorted([
        f"curated/_drops/{WEEK}.txt",
        "curated/2026-11-22-breaking-into-product-from-customer-support.md",
        "curated/2026-11-22-salary-bands-for-product-managers-in-2026.md"])
    git(news.root, "add", "curated")
    diff = git(news.root, "diff", "--cached", "curated")
    assert f"+{ROADMAP}  # we ran one like it last month" in diff
    assert '+note = "Start here if you work in support."' in diff
    assert f'+week = "{WEEK}"' in diff and "+order = 1" in diff

    sent = digest(cli, news, "run", "--week", WEEK, "--now", AT_SEND)
    assert sent.exit_code == 0, sent.output
    issue = issue_json(news)
    items = [i for s in issue["sections"] for i in s["items"]]
    urls = [i["url"] for i in items]
    assert ROADMAP not in urls
    assert BREAKING_IN in urls and SALARY in urls  # the excerpt keeps the clean URL
    picks = {i["url"]: i for i in items if i["kind"] == "curated"}
    assert picks[BREAKING_IN]["note"] == "Start here if you work in support."
    messages = news.outbox_messages()
    assert sorted(m["To"].addresses[0].addr_spec for m in messages) == sorted(READERS)
    html = messages[0].get_body(("html",)).get_content()
    assert "Start here if you work in support." in html
    assert "Roadmap discovery habits" not in html
    assert "Breaking into product from customer support" in html

    # Delivery has started: the week can no longer change, and says why.
    for args in (("pick", short_id(ROADMAP)), ("drop", short_id(BREAKING_IN))):
        refused = digest(cli, news, *args, "--week", WEEK, "--now", AT_SEND)
        assert refused.exit_code == 2
        assert "already being delivered (or sent)" in refused.output
    assert len(curated_changes(news.root)) == 3 and git(news.root, "diff", "curated") == ""
    # Its candidates are judged by the issue that went out.
    sent_rows = by_url(rows(cli, news, AT_SEND))
    assert {u for u, r in sent_rows.items() if r["in_draft"]} == set(urls)
    assert sent_rows[SALARY]["status"] == "picked"
    assert sent_rows[ROADMAP]["reason"] == "not in the issue as it went out"


def test_bad_items_and_sections_are_usage_errors(cli, tmp_path):
    news = prepared(cli, tmp_path)
    unknown = digest(cli, news, "drop", "zzzzzzzz", "--week", WEEK, "--now", BEFORE_SEND)
    assert unknown.exit_code == 2 and "'zzzzzzzz' is not a candidate of 2026-W48" in (
        unknown.output)
    section = digest(cli, news, "pick", short_id(ROADMAP), "--week", WEEK, "--section", "nope",
                     "--now", BEFORE_SEND)
    assert section.exit_code == 2 and "valid: breaking-in, craft" in section.output
    garden = digest(cli, news, "pick", "https://beta.example/gardening", "--week", WEEK,
                    "--now", BEFORE_SEND)
    assert garden.exit_code == 2 and "matches no section" in garden.output
    assert curated_changes(news.root) == []  # nothing written by the refused edits
    assert digest(cli, news, "drop", ROADMAP, "--week", WEEK, "--now", BEFORE_SEND
                  ).exit_code == 0
    lifted = digest(cli, news, "drop", short_id(ROADMAP), "--undo", "--week", WEEK, "--now",
                    BEFORE_SEND)
    assert lifted.exit_code == 0 and "veto lifted for" in lifted.output
    again = digest(cli, news, "drop", short_id(ROADMAP), "--undo", "--week", WEEK, "--now",
                   BEFORE_SEND)
    assert again.exit_code == 0 and "nothing to lift" in again.output
    assert by_url(rows(cli, news))[ROADMAP]["status"] == "included"
    bad_week = digest(cli, news, "drop", short_id(ROADMAP), "--week", "2026-48")
    assert bad_week.exit_code == 2 and "not an ISO week" in bad_week.output


def test_a_vetoed_article_never_goes_in_under_any_feed_or_url(cli, tmp_path):
    news = prepared(cli, tmp_path, max_items=12, per_source=5)
    assert by_url(rows(cli, news))[SALARY]["in_draft"]
    assert digest(cli, news, "drop", short_id(SALARY), "--week", WEEK, "--now",
                  BEFORE_SEND).exit_code == 0
    # After the veto a third copy turns up in Beta, on the AMP host, tagged for tracking.
    beta = news.root / "feeds" / "beta.xml"
    beta.write_text(beta.read_text().replace("<item>", (
        "<item><title>Product manager salary bands, the 2026 edition</title>"
        "<link>https://amp.alpha.example/salary-bands?utm_campaign=weekly</link>"
        "<guid>beta-200</guid><pubDate>Sun, 22 Nov 2026 12:00:00 +0000</pubDate>"
        "<description>The salary bands again.</description></item>\n<item>"), 1))
    sent = digest(cli, news, "run", "--week", WEEK, "--now", AT_SEND)
    assert sent.exit_code == 0, sent.output
    urls = [i["url"] for s in issue_json(news)["sections"] for i in s["items"]]
    assert len(urls) == 6 and not [u for u in urls if "salary" in u]
    assert all("salary" not in m.get_body(("plain",)).get_content().lower()
               for m in news.outbox_messages())


def test_an_edit_withdraws_an_approval_so_no_stale_issue_goes_out(cli, tmp_path):
    news = prepared(cli, tmp_path, extra=APPROVAL)
    assert digest(cli, news, "run", "--week", WEEK, "--now", BEFORE_SEND).exit_code == 0
    assert digest(cli, news, "approve", WEEK).exit_code == 0
    late = digest(cli, news, "drop", short_id(ROADMAP), "--week", WEEK, "--now", BEFORE_SEND)
    assert late.exit_code == 0 and "approval of 2026-W48 is withdrawn" in late.output
    issues = digest(cli, news, "issues", "list").output
    assert "built" in issues and "approved" not in issues
    assert digest(cli, news, "build", "--week", WEEK, "--now", BEFORE_SEND).exit_code == 0
    assert digest(cli, news, "approve", WEEK).exit_code == 0
    assert digest(cli, news, "run", "--week", WEEK, "--now", AT_SEND).exit_code == 0
    urls = [i["url"] for s in issue_json(news)["sections"] for i in s["items"]]
    assert ROADMAP not in urls and len(news.outbox_messages()) == 2


def test_racing_edits_all_land_and_no_file_is_torn(cli, tmp_path):
    """Eight `digest` processes edit the week at once (drops of four articles, picks and a
    note): each waits its turn at the state lock; every change is there at the end."""
    news = prepared(cli, tmp_path, max_items=12)
    found = by_url(rows(cli, news))
    config = str(news.config_path)
    drops = [u for u in found if u not in (BREAKING_IN, SALARY)][:4]
    commands = [["drop", short_id(u), "--reason", f"race {n}"] for n, u in enumerate(drops)]
    commands += [["pick", short_id(BREAKING_IN), "--note", "first"],
                 ["pick", short_id(SALARY)],
                 ["drop", "https://elsewhere.example/ahead-of-the-feeds"],
                 ["drop", "https://elsewhere.example/another"]]
    digest_bin = str(Path(sys.executable).parent / "digest")
    procs = [subprocess.Popen([digest_bin, "--config", config, *args, "--week", WEEK, "--now",
                               BEFORE_SEND], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for args in commands]
    outcomes = [(p.wait(120), p.communicate()) for p in procs]
    assert all(code == 0 for code, _ in outcomes), outcomes
    vetoes = (news.root / "curated" / "_drops" / f"{WEEK}.txt").read_text().splitlines()
    assert len([v for v in vetoes if not v.startswith("#")]) == 6
    after = by_url(rows(cli, news))
    assert {u for u, r in after.items() if r["status"] == "dropped"} == set(drops)
    assert after[BREAKING_IN]["status"] == after[SALARY]["status"] == "picked"
    check = run_digest("--config", config, "build", "--week", WEEK, "--now", BEFORE_SEND)
    assert check.returncode == 0, check.stderr  # every file still parses
