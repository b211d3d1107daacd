"""What happened to each reader is kept (state/events.py): every change of status with who
made it and why, and the suppression log outside the database, so a database restored from an
older backup never mails a reader who left after it was taken."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
import pytest

from pipeline.models import DeliveryResult, Outcome
from pipeline.state import events, ledger, migrations
from pipeline.state import subscribers as subs
from pipeline.state.db import Database
from pipeline.tokens import reader_ref

from .conftest import PINNED_NOW, PINNED_WEEK, add_excerpt, free_port, make_newsletter, run_digest
from .test_backup_restore import _unsubscribe_url, backup, restore
from .test_web_support import web_newsletter


def _kinds(db: Database, email: str) -> list[tuple[str, str | None, str, str | None]]:
    ref = reader_ref(subs.normalize_email(email))
    return [(e.kind, e.previous, e.source, e.issue_id) for e in events.events_for(db, ref)]


def test_every_change_of_status_is_kept_with_who_and_why(tmp_path: Path):
    with Database.open(tmp_path / "var" / "digest.sqlite3") as db:
        subs.add(db, "ada@example.com", source="operator")
        subs.add(db, "grace@example.com", status="pending", source="web")
        grace = reader_ref("grace@example.com")
        _, stamp = subs.get_by_ref(db, grace)
        assert subs.confirm_by_ref(db, grace, stamp)[0] == "activated"
        assert subs.set_status_by_ref(db, grace, "unsubscribed", ("active",),
                                      detail="one-click (RFC 8058)", issue_id=PINNED_WEEK)
        # A 5xx at RCPT during a send: the ledger marks the reader bounced.
        ada = subs.get(db, "ada@example.com")
        ledger.enqueue(db, PINNED_WEEK)
        ledger.claim(db, PINNED_WEEK, [ada])
        ledger.record(db, PINNED_WEEK, Outcome(ada.id, None, DeliveryResult(
            "ada@example.com", False, 550, "5.1.1 user unknown", permanent=True), 1))
        subs.remove(db, "grace@example.com")  # already unsubscribed: no new event
        assert _kinds(db, "ada@example.com") == [
            ("confirmed", None, "operator", None), ("bounced", "active", "smtp", PINNED_WEEK)]
        assert _kinds(db, "grace@example.com") == [
            ("subscribed", None, "web", None), ("confirmed", "pending", "web", None),
            ("unsubscribed", "active", "web", PINNED_WEEK)]
        reasons = events.last_reasons(db)
        assert reasons[reader_ref("ada@example.com")].detail == "550 5.1.1 user unknown"
    # The stopped statuses went to the suppression log too, one JSON line each.
    log = (tmp_path / "var" / events.LOG_NAME).read_text().splitlines()
    assert [json.loads(line)["status"] for line in log] == ["unsubscribed", "bounced"]


def test_a_rolled_back_change_leaves_no_log_line(tmp_path: Path):
    with Database.open(tmp_path / "digest.sqlite3") as db:
        subs.add(db, "ada@example.com")
        ada = subs.get(db, "ada@example.com")
        with pytest.raises(RuntimeError), db.atomic():
            subs.set_status(db, ada.id, "unsubscribed")
            raise RuntimeError("the transaction fails after the change")
        assert subs.get(db, "ada@example.com").status == "active"
        assert _kinds(db, "ada@example.com") == [("confirmed", None, "operator", None)]
    assert not (tmp_path / events.LOG_NAME).exists()


def test_migration_gives_known_readers_their_history(tmp_path: Path):
    """A database of schema 4 (readers, no events) gets their confirmations and departures."""
    path = tmp_path / "digest.sqlite3"
    conn = sqlite3.connect(path)
    conn.create_function("reader_ref", 1, reader_ref)  # migration 3 computes refs in SQL
    conn.create_function("normalize_name", 1, lambda name: name)
    for script in migrations.MIGRATIONS[:4]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version = 4")
    for address, status, unsubscribed in (("ada@example.com", "active", None),
                                          ("grace@example.com", "unsubscribed",
                                           "2026-11-20T10:00:00+00:00")):
        conn.execute("INSERT INTO subscribers (email, ref, status, source, created_at,"
                     " updated_at, confirmed_at, unsubscribed_at) VALUES (?, ?, ?, 'operator',"
                     " '2026-11-01T09:00:00+00:00', '2026-11-20T10:00:00+00:00',"
                     " '2026-11-01T09:00:00+00:00', ?)",
                     (address, reader_ref(address), status, unsubscribed))
    conn.commit()
    conn.close()
    with Database.open(path) as db:
        assert [k for k, *_ in _kinds(db, "ada@example.com")] == ["confirmed"]
        assert [(k, p, s) for k, p, s, _ in _kinds(db, "grace@example.com")] == [
            ("confirmed", None, "operator"), ("unsubscribed", "active", "migration")]
        [left] = [e for e in events.events_for(db, reader_ref("grace@example.com"))
                  if e.kind == "unsubscribed"]
        assert left.at == "2026-11-20T10:00:00+00:00"


def test_a_restored_backup_never_mails_a_reader_who_left_after_it(tmp_path: Path, serve):
    """README "Backup and restore": back up, a reader unsubscribes (one-click, through the real
    `digest serve`) and another is removed by the operator, the older backup is restored: the
    next send skips both, and `digest subscribers list` says why they left."""
    port = free_port()
    news = web_newsletter(tmp_path / "news", port)
    config = ("--config", news.config_path)
    for address in ("ada@example.com", "grace@example.com", "linus@example.com"):
        assert run_digest(*config, "subscribers", "add", address).returncode == 0
    assert run_digest(*config, "run", "--week", PINNED_WEEK, "--now", PINNED_NOW).returncode == 0
    folder = backup(news)

    serve(news, port)
    url = _unsubscribe_url(news, PINNED_WEEK, "grace@example.com")  # the message's own link
    response = httpx.post(url, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert run_digest(*config, "subscribers", "remove", "linus@example.com").returncode == 0

    restore(folder, news.root / "var")
    listed = run_digest(*config, "subscribers", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    status = {row["email"]: row["status"] for row in json.loads(listed.stdout)}
    assert status == {"ada@example.com": "active", "grace@example.com": "unsubscribed",
                      "linus@example.com": "unsubscribed"}

    next_week, next_now = "2026-W49", "2026-12-03T08:00:00+00:00"
    add_excerpt(news.root, next_week, "after-the-restore")
    sent = run_digest(*config, "run", "--week", next_week, "--now", next_now)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    readers = [m["To"].addresses[0].addr_spec for m in news.outbox_messages()
               if m["X-Digest-Issue"] == next_week]
    assert readers == ["ada@example.com"]
    with Database.open(news.root / "var" / "digest.sqlite3") as db:
        grace = events.events_for(db, reader_ref("grace@example.com"))
        assert grace[-1].source == "suppression-log" and grace[-1].kind == "unsubscribed"
        assert "web at" in (grace[-1].detail or "")


def test_a_resubscribe_after_the_backup_is_replayed_too(tmp_path: Path):
    """The log keeps changes out of a stopped status as well: a reader who came back after an
    unsubscribe ends active after the restore, as they were last."""
    news = make_newsletter(tmp_path / "news")
    config = ("--config", news.config_path)
    assert run_digest(*config, "subscribers", "add", "ada@example.com").returncode == 0
    assert run_digest(*config, "subscribers", "remove", "ada@example.com").returncode == 0
    folder = backup(news)
    revived = run_digest(*config, "subscribers", "add", "ada@example.com", "--force")
    assert revived.returncode == 0, revived.stderr
    restore(folder, news.root / "var")
    listed = run_digest(*config, "subscribers", "list", "--json")
    assert [row["status"] for row in json.loads(listed.stdout)] == ["active"]
