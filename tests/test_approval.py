"""Approval mode end to end: an unapproved issue is never sent; an approved one is sent as
approved. Driven through the real CLI, a real SQLite file and the real Maildir outbox."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from threading import Event

import pytest

from pipeline.jobs.scheduler import ScheduleLoop
from pipeline.jobs.weekly import scheduled
from tests.conftest import make_newsletter

APPROVAL = """
[schedule]
mode = "approval"
weekday = "monday"
time = "07:00"
"""
WEEK = "2026-W48"
BEFORE_SEND = "2026-11-22T23:00:00+00:00"  # Sunday evening: the draft is built
AT_SEND = "2026-11-23T12:30:00+00:00"  # Monday 07:30 New York: past the send time


@pytest.fixture
def approval_news(newsletter, cli):
    with open(newsletter.config_path, "a", encoding="utf-8") as handle:
        handle.write(APPROVAL)
    for email in ("ada@example.com", "grace@example.com"):
        assert cli("--config", newsletter.config_path, "subscribers", "add", email).exit_code == 0
    return newsletter


def status(news, week: str = WEEK) -> str | None:
    with sqlite3.connect(news.root / "var" / "digest.sqlite3") as conn:
        row = conn.execute("SELECT status FROM issues WHERE id = ?", (week,)).fetchone()
    return row[0] if row else None


def editor_mail(news) -> list[str]:
    folder = news.root / "var" / "outbox-editor" / "new"
    return sorted(p.read_text() for p in folder.iterdir()) if folder.is_dir() else []


def run(cli, news, now: str):
    return cli("--config", news.config_path, "run", "--week", WEEK, "--now", now)


def test_unapproved_issue_is_never_sent(approval_news, cli):
    news = approval_news
    draft = run(cli, news, BEFORE_SEND)
    assert draft.exit_code == 0, draft.output
    assert "draft built, not sent" in draft.output and f"digest approve {WEEK}" in draft.output
    assert (news.issues / WEEK / "issue.json").is_file()
    assert status(news) == "built" and news.outbox_messages() == []
    # The send time passes without approval: skipped, nothing sent, the editor is told.
    late = run(cli, news, AT_SEND)
    assert late.exit_code == 0, late.output
    assert "skipped: not approved by its send time" in late.output
    assert status(news) == "skipped" and news.outbox_messages() == []
    reports = editor_mail(news)
    assert any("draft ready for approval" in r for r in reports)
    assert any("not approved by its send time" in r for r in reports)
    # A skipped week cannot be approved afterwards, and a re-run still sends nothing.
    refused = cli("--config", news.config_path, "approve", WEEK)
    assert refused.exit_code == 2 and "skipped" in refused.output
    assert run(cli, news, AT_SEND).exit_code == 0
    assert news.outbox_messages() == []


def test_approved_issue_is_sent_exactly_as_approved(approval_news, cli):
    news = approval_news
    assert run(cli, news, BEFORE_SEND).exit_code == 0
    approved_json = (news.issues / WEEK / "issue.json").read_bytes()
    result = cli("--config", news.config_path, "approve", WEEK)
    assert result.exit_code == 0, result.output
    assert "approved" in result.output and "Monday 2026-11-23 07:00 EST" in result.output
    assert status(news) == "approved"
    # Approved ahead of time, it still waits for its send time.
    early = run(cli, news, BEFORE_SEND)
    assert early.exit_code == 0 and "approved, not sent yet" in early.output
    assert news.outbox_messages() == [] and status(news) == "approved"
    # A feed changes after approval: the approved issue is sent, not a rebuilt one.
    feed = news.root / "feeds" / "rss2_kagi-blog_summary-only.xml"
    feed.write_text(feed.read_text().replace("<title>", "<title>Changed: ", 3))
    sent = run(cli, news, AT_SEND)
    assert sent.exit_code == 0, sent.output
    assert (news.issues / WEEK / "issue.json").read_bytes() == approved_json
    messages = news.outbox_messages()
    assert sorted(m["To"].addresses[0].addr_spec for m in messages) == [
        "ada@example.com", "grace@example.com"]
    assert status(news) == "sent"
    assert any("sent to 2 subscriber(s)" in r for r in editor_mail(news))


def test_scheduler_never_sends_an_unapproved_draft(tmp_path):
    """The loop with an injected clock: draft at build time, skip at send time."""
    news = make_newsletter(tmp_path / "news", extra=APPROVAL)
    config = news.config()
    from pipeline.state.db import Database
    from pipeline.state.subscribers import add

    conn = Database.open(config.db_path)
    add(conn, "ada@example.com", None)
    conn.close()
    clock = [datetime(2026, 11, 22, 11, 0, tzinfo=UTC)]  # Sunday 06:00 New York
    stop = Event()
    loop = ScheduleLoop(config, stop, scheduled(config, stop), clock=lambda: clock[0])
    assert loop.tick().action == "wait"
    clock[0] = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)  # Sunday 07:00: the draft is due
    assert loop.tick().action == "build"
    assert status(news) == "built"
    clock[0] = datetime(2026, 11, 22, 13, 0, tzinfo=UTC)
    waiting = loop.tick()
    assert (waiting.action, waiting.week) == ("wait", WEEK)
    clock[0] = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # Monday 07:00: not approved
    assert loop.tick().action == "skip"
    assert status(news) == "skipped" and news.outbox_messages() == []
    after = loop.tick()
    assert (after.action, after.week) == ("wait", "2026-W49")


def test_a_rebuild_after_approval_needs_a_new_approval(approval_news, cli):
    news = approval_news
    assert run(cli, news, BEFORE_SEND).exit_code == 0
    assert cli("--config", news.config_path, "approve", WEEK).exit_code == 0
    rebuilt = cli("--config", news.config_path, "build", "--week", WEEK, "--now", BEFORE_SEND)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert status(news) == "built"  # what was approved is not what is there now
    late = run(cli, news, AT_SEND)
    assert "not approved by its send time" in late.output
    assert news.outbox_messages() == []


def test_digest_send_never_sends_an_unapproved_or_skipped_week(approval_news, cli):
    news = approval_news
    send = ("--config", news.config_path, "send", "--week", WEEK)
    assert run(cli, news, BEFORE_SEND).exit_code == 0  # a draft
    refused = cli(*send)
    assert refused.exit_code == 2, refused.output
    assert "not approved" in refused.output and f"digest approve {WEEK}" in refused.output
    assert news.outbox_messages() == []
    # Test copies stay possible: they are how the editor reviews the draft.
    copy = cli(*send, "--to", "editor@pmcareerdigest.example.com")
    assert copy.exit_code == 0, copy.output
    assert len(news.outbox_messages()) == 1
    # Skipped at the send time: its items roll over, so sending it would repeat them.
    assert "skipped" in run(cli, news, AT_SEND).output
    skipped = cli(*send)
    assert skipped.exit_code == 2 and "was skipped" in skipped.output, skipped.output
    assert len(news.outbox_messages()) == 1


def test_digest_send_sends_an_approved_week(approval_news, cli):
    news = approval_news
    assert run(cli, news, BEFORE_SEND).exit_code == 0
    assert cli("--config", news.config_path, "approve", WEEK).exit_code == 0
    sent = cli("--config", news.config_path, "send", "--week", WEEK)
    assert sent.exit_code == 0, sent.output
    assert "2 sent" in sent.output and status(news) == "sent"
