"""SIGKILL `digest send` at random moments, resume each time: every active subscriber gets the
issue, and each kill repeats at most one message per SMTP connection (counted by Message-ID at
the receiving server)."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from .conftest import PINNED_WEEK, run_digest
from .test_smtp_faults import FaultHandler, FaultServer, ledger, smtp_newsletter

READERS = 300
CONNECTIONS = 4
KILLS = 4


def _start_send(config: Path) -> subprocess.Popen:
    digest = Path(sys.executable).parent / "digest"
    return subprocess.Popen([str(digest), "--config", str(config), "send", "--week", PINNED_WEEK],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _accepted(handler: FaultHandler) -> int:
    return len(handler.accepted)


@pytest.mark.slow
def test_sigkill_mid_send_then_resume(tmp_path):
    rng = random.Random(20261126)
    # A little latency per message so that a send lasts long enough to be killed mid-way.
    handler = FaultHandler(delay=0.004)
    with FaultServer(handler) as server:
        news = smtp_newsletter(tmp_path / "news", server.port, READERS, CONNECTIONS)
        for _ in range(KILLS):  # each new run resumes what the killed one left
            proc = _start_send(news.config_path)
            # Kill once the workers are sending: after a random number of messages arrived.
            target = _accepted(handler) + rng.randint(5, READERS // (KILLS + 1))
            deadline = time.monotonic() + 60
            while _accepted(handler) < target and proc.poll() is None:
                assert time.monotonic() < deadline, "the send made no progress"
                time.sleep(rng.uniform(0.001, 0.01))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            time.sleep(0.2)  # the workers die with their parent (PR_SET_PDEATHSIG)
        resumed = None
        for _ in range(20):  # the state lock may still be held for a moment by a dying worker
            resumed = run_digest("--config", news.config_path, "send", "--week", PINNED_WEEK)
            if resumed.returncode != 75:
                break
            time.sleep(0.2)
    assert resumed is not None and resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "0 remaining" in resumed.stdout

    ids = handler.message_ids()
    counts = Counter(ids)
    recipients = {address for address, _ in handler.accepted}
    assert recipients == {f"reader{i}@example.com" for i in range(READERS)}  # nothing lost
    assert len(counts) == READERS  # one Message-ID per (issue, subscriber)
    duplicates = len(ids) - len(counts)
    # At most one message in flight per connection at each kill.
    assert duplicates <= KILLS * CONNECTIONS, (duplicates, counts.most_common(5))
    assert max(counts.values()) <= 1 + KILLS
    rows = ledger(news)
    assert len(rows) == READERS and {s for s, _, _ in rows.values()} == {"sent"}


@pytest.mark.slow
def test_duplicates_bounded_per_kill(tmp_path):
    """One kill at a time, with the count checked after each resume: every kill costs at most
    `connections` repeated messages."""
    handler = FaultHandler(delay=0.004)
    readers = 120
    with FaultServer(handler) as server:
        news = smtp_newsletter(tmp_path / "news", server.port, readers, CONNECTIONS)
        for kill in range(2):
            proc = _start_send(news.config_path)
            target = _accepted(handler) + 15 + kill * 20
            deadline = time.monotonic() + 60
            while _accepted(handler) < target and proc.poll() is None:
                assert time.monotonic() < deadline
                time.sleep(0.002)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            time.sleep(0.2)
            # Resume briefly: the rows left `sending` by the kill are the first ones resent.
            for _ in range(20):
                done = run_digest("--config", news.config_path, "send", "--week", PINNED_WEEK)
                if done.returncode != 75:
                    break
                time.sleep(0.2)
            assert done.returncode == 0, done.stdout + done.stderr
            ids = handler.message_ids()
            assert len(ids) - len(set(ids)) <= CONNECTIONS, Counter(ids).most_common(5)
            assert {a for a, _ in handler.accepted} == {f"reader{i}@example.com"
                                                        for i in range(readers)}
            # Rewind the ledger so the same issue goes out again for the next kill, and the
            # archive's delivery record with it (a ledger behind the record stops a send).
            conn = sqlite3.connect(news.root / "var" / "digest.sqlite3")
            conn.execute("UPDATE deliveries SET status = 'queued'")
            conn.commit()
            conn.close()
            (news.issues / PINNED_WEEK / "delivery.json").unlink()
            handler.accepted.clear()


@pytest.mark.slow
def test_sigterm_stops_cleanly_and_repeats_nothing(tmp_path):
    """A polite stop (SIGTERM, Ctrl-C) lets every worker finish its batch and record it: the
    resumed send repeats no message at all."""
    handler = FaultHandler(delay=0.004)
    readers = 200
    with FaultServer(handler) as server:
        news = smtp_newsletter(tmp_path / "news", server.port, readers, CONNECTIONS)
        proc = _start_send(news.config_path)
        deadline = time.monotonic() + 60
        while _accepted(handler) < 20 and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.002)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, out + err
        stopped_at = _accepted(handler)
        if stopped_at < readers:
            assert "stopped by a signal" in out
        resumed = run_digest("--config", news.config_path, "send", "--week", PINNED_WEEK)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    ids = handler.message_ids()
    assert len(ids) == len(set(ids)) == readers  # everyone once, nobody twice
