"""`digest run` end to end on real parts: feeds over HTTP on 127.0.0.1, real SQLite, a real
Maildir outbox; idempotent re-runs; byte-identical rebuilds."""

from __future__ import annotations

import json
import mailbox

from pipeline.archive.files import CONTENT_FILES

from .conftest import FEEDS, PINNED_NOW, PINNED_WEEK, make_newsletter, run_digest


def _served_newsletter(tmp_path, http_server):
    kagi = http_server.serve_file("/kagi.xml", FEEDS / "real" / "rss2_kagi-blog_summary-only.xml")
    cait = http_server.serve_file("/cait.xml",
                                  FEEDS / "real" / "rss2_collective-action-in-tech.xml",
                                  "application/rss+xml")
    gone = http_server.url("/missing.xml")  # 404
    news = make_newsletter(tmp_path / "news", feeds=[
        ("Kagi Blog", kagi), ("Collective Action in Tech", cait), ("Missing Feed", gone)])
    (news.root / "subscribers.csv").write_text(
        "email,name\nada@example.com,Ada Lovelace\ngrace@example.com,Grace Hopper\n"
        "alan@example.com,\n", encoding="utf-8")
    return news


def test_weekly_job_end_to_end(tmp_path, http_server):
    news = _served_newsletter(tmp_path, http_server)
    imported = run_digest("--config", news.config_path, "subscribers", "import",
                          news.root / "subscribers.csv")
    assert imported.returncode == 0, imported.stderr
    assert "3 added" in imported.stdout

    first = run_digest("--config", news.config_path, "run", "--now", PINNED_NOW)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Missing Feed" in first.stdout and "404" in first.stdout
    assert "delivered: 3 new message(s)" in first.stdout
    # The User-Agent names the newsletter.
    agents = {h.get("User-Agent", "") for _, _, h in http_server.requests}
    assert any("pmcareerdigest.example.com" in a for a in agents)

    folder = news.issues / PINNED_WEEK
    for name in (*CONTENT_FILES, "report.json"):
        assert (folder / name).is_file(), name
    issue = json.loads((folder / "issue.json").read_text())
    assert issue["id"] == PINNED_WEEK and issue["number"] == 1
    assert issue["date"] == "2026-11-23"
    items = [i for s in issue["sections"] for i in s["items"]]
    kinds = [i["kind"] for i in items]
    assert "curated" in kinds and "feed" in kinds
    # Curated items come first in each section.
    for section in issue["sections"]:
        section_kinds = [i["kind"] for i in section["items"]]
        assert section_kinds == sorted(section_kinds), section["id"]
    assert len(items) <= 12
    sources = [i["source"] for i in items if i["kind"] == "feed"]
    assert all(sources.count(s) <= 2 for s in sources), "max_per_source"
    report = json.loads((folder / "report.json").read_text())
    assert report["feeds_failed"] == ["Missing Feed"]
    assert report["delivery"]["sent"] == 3

    outbox = mailbox.Maildir(news.root / "var" / "outbox", create=False)
    messages = list(outbox)
    assert len(messages) == 3
    assert sorted(m["To"].split("<")[-1].rstrip(">") for m in messages) == [
        "ada@example.com", "alan@example.com", "grace@example.com"]
    for message in messages:
        assert message.get_content_type() == "multipart/alternative"
        parts = [p.get_content_type() for p in message.get_payload()]
        assert parts == ["text/plain", "text/html"]
        for header in ("Date", "Message-ID", "From", "To", "Subject", "List-Unsubscribe"):
            assert message[header], header
        html = message.get_payload()[1].get_payload(decode=True).decode()
        assert "https://pmcareerdigest.example.com/u/" in html  # the reader's own link
    assert len({m["Message-ID"] for m in messages}) == 3
    greetings = [m.get_payload()[0].get_payload(decode=True).decode() for m in messages]
    assert any("Hi Ada," in g for g in greetings) and any("Hi there," in g for g in greetings)

    second = run_digest("--config", news.config_path, "run", "--now", PINNED_NOW)
    assert second.returncode == 0, second.stderr
    assert "delivered: 0 new message(s)" in second.stdout
    assert len(list(mailbox.Maildir(news.root / "var" / "outbox", create=False))) == 3


def test_rebuild_is_byte_identical(tmp_path, http_server, cli):
    news = _served_newsletter(tmp_path, http_server)
    args = ("--config", news.config_path, "build", "--week", PINNED_WEEK, "--now", PINNED_NOW)
    assert cli(*args).exit_code == 0
    folder = news.issues / PINNED_WEEK
    first = {name: (folder / name).read_bytes() for name in CONTENT_FILES}
    assert cli(*args).exit_code == 0
    second = {name: (folder / name).read_bytes() for name in CONTENT_FILES}
    assert first == second
    issue = json.loads(first["issue.json"])
    assert issue["number"] == 1  # a rebuild keeps its number


def test_issue_numbers_count_up_and_nothing_repeats(newsletter, cli):
    config = ("--config", newsletter.config_path)
    assert cli(*config, "build", "--week", "2026-W47", "--now",
               "2026-11-19T08:00:00+00:00").exit_code == 0
    assert cli(*config, "build", "--week", "2026-W48", "--now", PINNED_NOW).exit_code == 0
    w47 = json.loads((newsletter.issues / "2026-W47" / "issue.json").read_text())
    w48 = json.loads((newsletter.issues / "2026-W48" / "issue.json").read_text())
    assert (w47["number"], w48["number"]) == (1, 2)
    urls47 = {i["url"] for s in w47["sections"] for i in s["items"] if i["kind"] == "feed"}
    ids47 = {i["id"] for s in w47["sections"] for i in s["items"]}
    ids48 = {i["id"] for s in w48["sections"] for i in s["items"]}
    urls48 = {i["url"] for s in w48["sections"] for i in s["items"] if i["kind"] == "feed"}
    assert ids47 and ids48 and not (ids47 & ids48), "an item appears in one issue only"
    assert not (urls47 & urls48)


def test_no_network_every_feed_fails_but_the_issue_is_built(tmp_path, cli):
    news = make_newsletter(tmp_path / "news", feeds=[
        ("Unreachable", "http://127.0.0.1:9/feed.xml"), ("No such file", "feeds/none.xml")])
    cli("--config", news.config_path, "subscribers", "add", "reader@example.com")
    result = cli("--config", news.config_path, "run", "--now", PINNED_NOW)
    assert result.exit_code == 0, result.output
    assert "feeds: 0 ok, 2 failed" in result.output
    assert "✗ Unreachable:" in result.output and "✗ No such file:" in result.output
    assert "delivered: 1 new message(s)" in result.output
    assert len(news.outbox_messages()) == 1


def test_dry_run_sends_nothing(newsletter, cli):
    cli("--config", newsletter.config_path, "subscribers", "add", "reader@example.com")
    result = cli("--config", newsletter.config_path, "run", "--dry-run", "--now", PINNED_NOW)
    assert result.exit_code == 0, result.output
    assert "would send to 1 active subscriber" in result.output
    assert newsletter.outbox_messages() == []


def test_lost_state_folder_rebuilds_history_from_the_archive(newsletter, cli):
    import shutil

    config = ("--config", newsletter.config_path)
    assert cli(*config, "build", "--week", "2026-W47", "--now",
               "2026-11-19T08:00:00+00:00").exit_code == 0
    shutil.rmtree(newsletter.root / "var")  # the state folder is gone; the archive is not
    assert cli(*config, "build", "--week", "2026-W48", "--now", PINNED_NOW).exit_code == 0
    w47 = json.loads((newsletter.issues / "2026-W47" / "issue.json").read_text())
    w48 = json.loads((newsletter.issues / "2026-W48" / "issue.json").read_text())
    assert w48["number"] == 2
    urls47 = {i["url"] for s in w47["sections"] for i in s["items"] if i["kind"] == "feed"}
    urls48 = {i["url"] for s in w48["sections"] for i in s["items"] if i["kind"] == "feed"}
    ids47 = {i["id"] for s in w47["sections"] for i in s["items"]}
    ids48 = {i["id"] for s in w48["sections"] for i in s["items"]}
    assert urls47 and not (urls47 & urls48) and not (ids47 & ids48)


def test_a_week_whose_delivery_started_is_frozen(newsletter, cli):
    """`digest build` rebuilds nothing once a week's delivery has started (exit 0, says so): a
    resumed send and the archive must stay what readers got. A re-run mails nobody new."""
    config = ("--config", newsletter.config_path)
    assert cli(*config, "subscribers", "add", "ada@example.com").exit_code == 0
    # Delivery started but stopped before any message: the ledger holds queued rows.
    from pipeline.delivery.transports.maildir import MaildirTransport
    from pipeline.jobs.send import send
    from pipeline.state.handle import State
    from pipeline.weeks import parse_now

    assert cli(*config, "build", "--week", PINNED_WEEK, "--now", PINNED_NOW).exit_code == 0
    cfg = newsletter.config()
    with State(cfg, parse_now(PINNED_NOW)) as state:
        summary = send(state, PINNED_WEEK, MaildirTransport(cfg.state_dir / "outbox"),
                       should_stop=lambda: True)
    assert (summary.sent, summary.remaining) == (0, 1)
    folder = newsletter.issues / PINNED_WEEK
    before = {name: (folder / name).read_bytes() for name in CONTENT_FILES}
    feed = newsletter.root / "feeds" / "rss2_kagi-blog_summary-only.xml"
    feed.write_text(feed.read_text().replace("<title>", "<title>Changed: ", 3))
    kept = cli(*config, "build", "--week", PINNED_WEEK, "--now", PINNED_NOW)
    assert kept.exit_code == 0, kept.output
    assert "delivery has started, so it is not rebuilt" in kept.output
    assert {name: (folder / name).read_bytes() for name in CONTENT_FILES} == before

    # The resumed `digest run` sends the archived issue, not a rebuilt one.
    done = cli(*config, "run", "--week", PINNED_WEEK, "--now", PINNED_NOW)
    assert done.exit_code == 0, done.output
    assert "delivered: 1 new message(s)" in done.output
    assert {name: (folder / name).read_bytes() for name in CONTENT_FILES} == before
    kept = cli(*config, "build", "--week", PINNED_WEEK, "--now", PINNED_NOW)
    assert kept.exit_code == 0 and "not rebuilt" in kept.output
    assert {name: (folder / name).read_bytes() for name in CONTENT_FILES} == before

    # A reader who joins after the issue went out gets the next one, not this one.
    assert cli(*config, "subscribers", "add", "late@example.com").exit_code == 0
    plan = cli(*config, "send", "--week", PINNED_WEEK, "--dry-run")
    assert "to 0 subscriber(s)" in plan.output, plan.output
    dry = cli(*config, "run", "--week", PINNED_WEEK, "--now", PINNED_NOW, "--dry-run")
    assert "would send to 0 active subscriber(s)" in dry.output, dry.output
    again = cli(*config, "run", "--week", PINNED_WEEK, "--now", PINNED_NOW)
    assert again.exit_code == 0, again.output
    assert "delivered: 0 new message(s)" in again.output
    assert [m["To"] for m in newsletter.outbox_messages()] == ["ada@example.com"]


def test_an_issue_sent_to_nobody_is_frozen_too(newsletter, cli):
    """Sent with no subscriber at all (no ledger rows): still published, so not rebuilt."""
    config = ("--config", newsletter.config_path)
    assert cli(*config, "run", "--week", PINNED_WEEK, "--now", PINNED_NOW).exit_code == 0
    kept = cli(*config, "build", "--week", PINNED_WEEK, "--now", PINNED_NOW)
    assert kept.exit_code == 0 and "delivery has started, so it is not rebuilt" in kept.output
