"""Item 8: `digest backup` copies the state (database and key) while a send runs, and the
restore path of the README works end to end with the real CLI and the real `digest serve`:
nothing is sent twice, and old unsubscribe links act on the right readers."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from .conftest import (
    PINNED_NOW,
    PINNED_WEEK,
    add_excerpt,
    free_port,
    make_newsletter,
    run_digest,
)
from .test_smtp_faults import FaultHandler, FaultServer, smtp_newsletter
from .test_web_support import web_newsletter

pytestmark = pytest.mark.slow  # backups, restores and `digest serve` in subprocesses

NEXT_WEEK, NEXT_NOW = "2026-W49", "2026-12-03T08:00:00+00:00"
DIGEST = str(Path(sys.executable).parent / "digest")


def backup(news, *path: str) -> Path:
    done = run_digest("--config", news.config_path, "backup", *path)
    assert done.returncode == 0, done.stdout + done.stderr
    return Path(re.search(r"backup written to (.+)", done.stdout).group(1).strip())


def restore(backup_folder: Path, state_dir: Path) -> None:
    """README, "Backup and restore": with the scheduler stopped, remove the database's -wal and
    -shm files and copy the backup's two files back into the state folder."""
    for suffix in ("-wal", "-shm"):
        (state_dir / f"digest.sqlite3{suffix}").unlink(missing_ok=True)
    for name in ("digest.sqlite3", "secret.key"):
        if (backup_folder / name).exists():  # no key when nothing was ever signed
            shutil.copy2(backup_folder / name, state_dir / name)


def sent_rows(db: Path, week: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM deliveries WHERE issue_id = ? AND"
                            " status = 'sent'", (week,)).fetchone()[0]
    finally:
        conn.close()


@dataclass
class GatedHandler(FaultHandler):
    """Accepts `hold_after` messages, then holds the next one until `release` is set: a send
    that is surely running, mid-way, while the test acts."""

    hold_after: int = 0
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server, session, envelope):
        while len(self.accepted) >= self.hold_after and not self.release.is_set():
            await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


def test_backup_during_a_send_and_restoring_it_sends_nothing_twice(tmp_path):
    readers, held = 40, 15
    handler = GatedHandler(hold_after=held)
    with FaultServer(handler) as server:
        # One connection (in-process: each outcome committed), a patient client.
        news = smtp_newsletter(tmp_path / "news", server.port, readers, connections=1,
                               timeout=120)
        state = news.root / "var"
        sender = subprocess.Popen([DIGEST, "--config", str(news.config_path), "send", "--week",
                                   PINNED_WEEK], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        try:
            deadline = time.monotonic() + 60
            while sent_rows(state / "digest.sqlite3", PINNED_WEEK) < held:
                assert sender.poll() is None and time.monotonic() < deadline, "no progress"
                time.sleep(0.05)
            # The send holds the state lock and has a message in flight: backup needs neither.
            folder = backup(news)
            assert sender.poll() is None
        finally:
            handler.release.set()
        out, err = sender.communicate(timeout=120)
        assert sender.returncode == 0, out + err
        assert len({a for a, _ in handler.accepted}) == len(handler.accepted) == readers

        # A consistent snapshot of the moment: the messages recorded by then, no more.
        assert folder.parent == state / "backups"
        copy = folder / "digest.sqlite3"
        assert sent_rows(copy, PINNED_WEEK) == held
        with sqlite3.connect(copy) as conn:
            assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert (folder / "secret.key").read_bytes() == (state / "secret.key").read_bytes()
        for path in (folder.parent, folder):
            assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
        for path in folder.iterdir():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path

        # Restored from before the end of the send: the archive knows more, nothing goes out.
        restore(folder, state)
        stopped = run_digest("--config", news.config_path, "send", "--week", PINNED_WEEK)
        assert stopped.returncode == 1, stopped.stdout + stopped.stderr
        assert f"counts only {held}" in stopped.stderr and "Traceback" not in stopped.stderr
        assert len(handler.accepted) == readers


def test_backup_names_the_key_in_the_environment(tmp_path):
    news = make_newsletter(tmp_path / "news")
    assert run_digest("--config", news.config_path, "subscribers", "add",
                      "ada@example.com").returncode == 0
    target = tmp_path / "elsewhere" / "nightly"
    done = run_digest("--config", news.config_path, "backup", target,
                      env={"DIGEST_SECRET": "s" * 40})
    assert done.returncode == 0, done.stderr
    assert "DIGEST_SECRET is set" in done.stdout and "not in this backup" in done.stdout
    assert (target / "digest.sqlite3").is_file() and not (target / "secret.key").exists()
    with sqlite3.connect(target / "digest.sqlite3") as conn:
        assert conn.execute("SELECT email FROM subscribers").fetchall() == [("ada@example.com",)]
    # Written again into the same folder: replaced, not refused (a nightly cron line).
    assert run_digest("--config", news.config_path, "backup", target).returncode == 0


def _unsubscribe_url(news, week: str, address: str) -> str:
    message = next(m for m in news.outbox_messages()
                   if m["X-Digest-Issue"] == week and m["To"].addresses[0].addr_spec == address)
    return next(u for u in re.findall(r"<([^>]+)>", message["List-Unsubscribe"])
                if u.startswith("http"))


def _status(news, address: str) -> str | None:
    with sqlite3.connect(news.root / "var" / "digest.sqlite3") as conn:
        row = conn.execute("SELECT status FROM subscribers WHERE email = ?",
                           (address,)).fetchone()
    return row[0] if row else None


def _weeks(news) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for m in news.outbox_messages():
        found.setdefault(m["X-Digest-Issue"], []).append(m["To"].addresses[0].addr_spec)
    return {week: sorted(readers) for week, readers in found.items()}


def restored_newsletter(root: Path, port: int):
    """Week A to ada and grace, a backup, linus joins, week B to the three, then the backup
    (from before B) restored as the README says."""
    news = web_newsletter(root, port)
    add_excerpt(news.root, NEXT_WEEK, "after-the-backup")  # week B has an item of its own
    config = ("--config", news.config_path)
    for address in ("ada@example.com", "grace@example.com"):
        assert run_digest(*config, "subscribers", "add", address).returncode == 0
    assert run_digest(*config, "run", "--week", PINNED_WEEK, "--now", PINNED_NOW).returncode == 0
    folder = backup(news)
    assert run_digest(*config, "subscribers", "add", "linus@example.com").returncode == 0
    assert run_digest(*config, "run", "--week", NEXT_WEEK, "--now", NEXT_NOW).returncode == 0
    restore(folder, news.root / "var")
    return news


def test_restore_an_older_backup_then_run_sends_nothing_twice(tmp_path, serve):
    port = free_port()
    news = restored_newsletter(tmp_path / "news", port)
    config = ("--config", news.config_path)
    before = _weeks(news)
    assert before == {PINNED_WEEK: ["ada@example.com", "grace@example.com"],
                      NEXT_WEEK: ["ada@example.com", "grace@example.com", "linus@example.com"]}

    # Week B was sent after the backup: the restored ledger does not know it, the archive does.
    again = run_digest(*config, "run", "--week", NEXT_WEEK, "--now", NEXT_NOW)
    assert again.returncode == 1, again.stdout + again.stderr
    assert "looks lost or restored from an older backup" in again.stderr
    assert "--force-resend" in again.stderr and "Traceback" not in again.stderr
    # Week A's readers are recorded as sent in the backup: not mailed again.
    week_a = run_digest(*config, "run", "--week", PINNED_WEEK, "--now", PINNED_NOW)
    assert week_a.returncode == 0, week_a.stdout + week_a.stderr
    assert "delivered: 0 new message(s)" in week_a.stdout
    assert _weeks(news) == before

    # An unsubscribe link from a delivered message still acts on its own reader.
    base = serve(news, port)
    url = _unsubscribe_url(news, PINNED_WEEK, "grace@example.com")
    assert url.startswith(base + "/u/")
    response = httpx.post(url, data={"List-Unsubscribe": "One-Click"}, follow_redirects=False)
    assert response.status_code == 200
    assert _status(news, "grace@example.com") == "unsubscribed"
    assert _status(news, "ada@example.com") == "active"


def test_an_old_link_never_acts_on_another_reader_after_a_restore(tmp_path, serve):
    """A reader who joined after the backup is gone from the restored database; a new reader
    who takes his place (and his row id) is not unsubscribed by his old link."""
    port = free_port()
    news = restored_newsletter(tmp_path / "news", port)
    linus_link = _unsubscribe_url(news, NEXT_WEEK, "linus@example.com")
    # linus is not in the restored database; a new reader now gets the row id he had.
    assert _status(news, "linus@example.com") is None
    assert run_digest("--config", news.config_path, "subscribers", "add",
                      "mallory@example.com").returncode == 0
    serve(news, port)
    httpx.post(linus_link, data={"List-Unsubscribe": "One-Click"}, follow_redirects=False)
    assert _status(news, "mallory@example.com") == "active"


def test_restore_keeps_the_modes(tmp_path):
    """The README's restore copies with permissions (cp -p): the state stays private."""
    news = make_newsletter(tmp_path / "news")
    assert run_digest("--config", news.config_path, "subscribers", "add",
                      "ada@example.com").returncode == 0
    assert run_digest("--config", news.config_path, "build", "--now",
                      PINNED_NOW).returncode == 0  # makes the key
    folder = backup(news)
    state = news.root / "var"
    for name in ("digest.sqlite3", "secret.key"):
        (state / name).unlink(missing_ok=True)
    restore(folder, state)
    listed = run_digest("--config", news.config_path, "subscribers", "list")
    assert listed.returncode == 0 and "ada@example.com" in listed.stdout
    for name in ("digest.sqlite3", "secret.key"):
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600
    assert os.access(state / "digest.sqlite3", os.R_OK)
