"""The state layer: the issue's life as named operations, one handle per command, and
transactions that nest (real SQLite files)."""

from __future__ import annotations

import sqlite3

import pytest

from pipeline.jobs.weekly import run_job
from pipeline.models import Issue
from pipeline.state import issues, keys, ledger, published, subscribers
from pipeline.state.db import Database
from pipeline.state.handle import State
from pipeline.state.issues import IssueStatus
from pipeline.weeks import parse_now
from tests.conftest import PINNED_NOW, PINNED_WEEK, make_newsletter
from tests.golden.sample import sample_issue


@pytest.fixture
def db(tmp_path):
    with Database.open(tmp_path / "digest.sqlite3") as database:
        yield database


def _issue(week: str, number: int) -> Issue:
    from dataclasses import replace

    return replace(sample_issue(4), id=week, number=number)


def test_the_life_of_an_issue(db):
    issue = _issue("2026-W48", 1)
    issues.record_built(db, issue, {})
    assert issues.status(db, "2026-W48") == IssueStatus.BUILT == "built"
    assert published.keys_except(db, "2026-W49")  # its items are in the history
    issues.approve(db, "2026-W48")
    assert issues.status(db, "2026-W48") == IssueStatus.APPROVED
    issues.record_built(db, issue, {})  # a rebuilt approved issue needs a new approval
    assert issues.status(db, "2026-W48") == IssueStatus.BUILT
    issues.approve(db, "2026-W48")
    issues.start_delivery(db, "2026-W48")
    assert issues.status(db, "2026-W48") == IssueStatus.SENDING
    issues.start_delivery(db, "2026-W48")  # a resumed send changes nothing
    assert issues.sent(db) == {}
    issues.mark_sent(db, "2026-W48")
    assert issues.status(db, "2026-W48") == IssueStatus.SENT
    assert list(issues.sent(db)) == ["2026-W48"]
    issues.start_delivery(db, "2026-W48")  # never back from sent
    assert issues.status(db, "2026-W48") == IssueStatus.SENT


def test_a_skipped_week_gives_back_its_number_and_its_items(db):
    issues.record_built(db, _issue("2026-W48", 1), {})
    assert issues.number_for(db, "2026-W49", dict) == 2
    issues.mark_skipped(db, "2026-W48")
    assert issues.status(db, "2026-W48") == IssueStatus.SKIPPED
    assert published.keys_except(db, "2026-W49") == set()  # its items roll over
    assert issues.number_for(db, "2026-W49", dict) == 1
    # The archive counts too: an issue only the archive knows keeps its number.
    assert issues.number_for(db, "2026-W49", lambda: {"2026-W47": 5}) == 6


def test_transactions_nest_as_savepoints(db):
    subscribers.add(db, "ada@example.com")
    with pytest.raises(RuntimeError), db.atomic():
        subscribers.add(db, "grace@example.com")
        raise RuntimeError("the whole block is undone")
    with db.atomic():
        subscribers.add(db, "linus@example.com")
        with pytest.raises(RuntimeError), db.atomic():
            subscribers.add(db, "ken@example.com")
            raise RuntimeError("only the inner block is undone")
    emails = [s.email for s in subscribers.list_subscribers(db)]
    assert emails == ["ada@example.com", "linus@example.com"]


def test_a_stopped_send_leaves_the_week_sending_until_it_completes(tmp_path, cli):
    news = make_newsletter(tmp_path / "news")
    config = ("--config", news.config_path)
    for address in ("ada@example.com", "grace@example.com", "linus@example.com"):
        assert cli(*config, "subscribers", "add", address).exit_code == 0
    assert cli(*config, "build", "--week", PINNED_WEEK, "--now", PINNED_NOW).exit_code == 0
    with State(news.config(), parse_now(PINNED_NOW)) as state:
        stopped = run_job(state, PINNED_WEEK,
                          should_stop=lambda: len(news.outbox_messages()) >= 1)
        assert stopped.send is not None and stopped.send.remaining > 0
        assert issues.status(state.db, PINNED_WEEK) == IssueStatus.SENDING
    listed = cli(*config, "issues", "list")
    assert f"{PINNED_WEEK}  #1    sending" in listed.output
    assert cli(*config, "run", "--week", PINNED_WEEK, "--now", PINNED_NOW).exit_code == 0
    assert f"{PINNED_WEEK}  #1    sent" in cli(*config, "issues", "list").output
    with sqlite3.connect(news.config().db_path) as conn:
        assert conn.execute("SELECT count(*) FROM deliveries WHERE status = 'sent'"
                            ).fetchone() == (3,)


def test_one_weekly_run_migrates_once_and_reads_the_key_once(tmp_path, monkeypatch):
    """The handle opens SQLite and reads the key on first use, once per command (the send
    reopens the connection after forking its workers, without migrating again)."""
    news = make_newsletter(tmp_path / "news")
    migrated, key_reads = [], []
    real_open, real_key = Database.open, keys.signing_key

    def counting_open(path, migrate=True):
        migrated.append(migrate)
        return real_open(path, migrate)

    def counting_key(*args, **kwargs):
        key_reads.append(1)
        return real_key(*args, **kwargs)

    monkeypatch.setattr(Database, "open", staticmethod(counting_open))
    monkeypatch.setattr(keys, "signing_key", counting_key)
    with State(news.config(), parse_now(PINNED_NOW)) as state:
        subscribers.add(state.db, "ada@example.com")
        outcome = run_job(state, PINNED_WEEK)
        assert outcome.status == "sent" and ledger.sent_total(state.db) == 1
    assert migrated.count(True) == 1 and len(key_reads) == 1
