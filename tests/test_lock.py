"""One run at a time: two real `digest` processes against one state folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.errors import EXIT_LOCKED, LockedError
from pipeline.state.lock import HOLD_ENV, lock_path, read_holder, state_lock
from tests.conftest import PINNED_NOW, make_newsletter, run_digest

DIGEST = str(Path(sys.executable).parent / "digest")


@pytest.fixture
def news(tmp_path):
    from pipeline.state.db import Database
    from pipeline.state.subscribers import add

    news = make_newsletter(tmp_path / "news")
    conn = Database.open(news.config().db_path)
    for email in ("ada@example.com", "grace@example.com", "linus@example.com"):
        add(conn, email, None)
    conn.close()
    return news


def start_run(news) -> subprocess.Popen[str]:
    # Both hold the lock 3 s once they have it, so the second surely finds it taken.
    return subprocess.Popen([DIGEST, "--config", str(news.config_path), "run", "--now",
                             PINNED_NOW], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, HOLD_ENV: "3"})


@pytest.mark.slow  # each run holds the lock 3 s
def test_two_runs_started_together_send_once(news):
    first, second = start_run(news), start_run(news)
    outputs = {p.pid: p.communicate(timeout=60) for p in (first, second)}
    codes = sorted([first.returncode, second.returncode])
    assert codes == [0, EXIT_LOCKED], outputs
    winner, loser = (first, second) if first.returncode == 0 else (second, first)
    _, loser_err = outputs[loser.pid]
    assert f"process {winner.pid}" in loser_err and "run --now" in loser_err, loser_err
    assert "delivered: 3 new message(s)" in outputs[winner.pid][0]
    # Exactly one message per subscriber: the refused run sent nothing.
    recipients = sorted(m["To"].addresses[0].addr_spec for m in news.outbox_messages())
    assert recipients == ["ada@example.com", "grace@example.com", "linus@example.com"]
    # The lock is free again and names no holder.
    assert read_holder(lock_path(news.config())) == {}
    assert run_digest("--config", news.config_path, "run", "--now", PINNED_NOW).returncode == 0
    assert len(news.outbox_messages()) == 3


HOLDER = """
import sys
from pipeline.config import load_config
from pipeline.state.lock import state_lock
with state_lock(load_config(sys.argv[1]), "digest run (test holder)"):
    print("locked", flush=True)
    sys.stdin.read()  # hold until the test closes our stdin
"""


@pytest.mark.slow  # five digest processes start at once
def test_every_state_writer_shares_the_lock(news):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(news.config_path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        writers = [("subscribers", "add", "new@example.com"), ("build",), ("fetch",),
                   ("send",), ("approve", "2026-W48")]
        running = [subprocess.Popen([DIGEST, "--config", str(news.config_path), *args],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                   for args in writers]
        for args, proc in zip(writers, running, strict=True):
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == EXIT_LOCKED, (args, err)
            assert f"process {holder.pid} (`digest run (test holder)`" in err, err
        # Reading is not writing: listing needs no lock.
        listed = run_digest("--config", news.config_path, "subscribers", "list")
        assert listed.returncode == 0 and "ada@example.com" in listed.stdout
    finally:
        holder.communicate("", timeout=60)
    assert holder.returncode == 0
    added = run_digest("--config", news.config_path, "subscribers", "add", "new@example.com")
    assert added.returncode == 0, added.stderr


def test_lock_is_reentrant_in_one_process_and_refuses_another(news):
    config = news.config()
    with state_lock(config, "outer"):
        with state_lock(config, "inner"):
            assert read_holder(lock_path(config))["command"] == "outer"
        assert read_holder(lock_path(config))["pid"] == os.getpid()
        code = ("import sys\nfrom pipeline.config import load_config\n"
                "from pipeline.state.lock import state_lock\n"
                f"with state_lock(load_config({str(news.config_path)!r}), 'child'):\n"
                "    sys.exit(0)\n")
        child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert child.returncode != 0
        assert LockedError.__name__ in child.stderr and f"process {os.getpid()}" in child.stderr
    assert read_holder(lock_path(config)) == {}
