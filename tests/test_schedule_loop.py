"""`digest schedule` as a real process, and a stop signal mid-send."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipeline.jobs.weekly import run_job, scheduled
from pipeline.state.db import Database
from pipeline.state.handle import State
from pipeline.state.subscribers import add
from tests.conftest import PINNED_NOW, PINNED_WEEK, free_port, make_newsletter, run_digest

DIGEST = str(Path(sys.executable).parent / "digest")


def add_readers(news, count: int) -> None:
    conn = Database.open(news.config().db_path)
    for i in range(count):
        add(conn, f"reader{i}@example.com", None)
    conn.close()


@pytest.mark.slow  # a scheduler process and a signal
def test_schedule_runs_a_missed_job_at_once_then_stops_cleanly_on_sigterm(tmp_path):
    today = datetime.now(ZoneInfo("America/New_York")).strftime("%A").lower()
    # Due at 00:00 today in New York: always already due, so it runs at start.
    news = make_newsletter(tmp_path / "news",
                           extra=f'\n[schedule]\nweekday = "{today}"\ntime = "00:00"\n')
    add_readers(news, 2)
    proc = subprocess.Popen([DIGEST, "--config", str(news.config_path), "schedule"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: list[str] = []
    guard = threading.Timer(60, proc.kill)  # a hung scheduler fails the test, never hangs it
    guard.start()
    try:
        for line in proc.stderr:
            seen.append(line)
            if "next send due for" in line:
                break
        assert any("has not run: running it now" in line for line in seen), seen
        assert len(news.outbox_messages()) == 2
        # Sleeping, it does not hold the lock: other commands work meanwhile.
        added = run_digest("--config", news.config_path, "subscribers", "add", "z@example.com")
        assert added.returncode == 0, added.stderr
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=30)
    finally:
        guard.cancel()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, "".join(seen) + rest
    assert "SIGTERM received" in rest and "stopped after 1 job(s)" in rest
    # "Next" is next week's run, on the same weekday at 00:00 New York time.
    due = next(line for line in seen if "next send due for" in line)
    assert f"{today.capitalize()} " in due and " 00:00 E" in due


def test_a_stop_request_finishes_the_message_in_flight_and_the_next_run_resumes(tmp_path):
    news = make_newsletter(tmp_path / "news")
    add_readers(news, 5)
    config = news.config()
    now = datetime.fromisoformat(PINNED_NOW)
    # "Stop" as soon as two messages are in the outbox: no third one is started.
    with State(config, now) as state:
        stopped = run_job(state, PINNED_WEEK,
                          should_stop=lambda: len(news.outbox_messages()) >= 2)
    assert stopped.send is not None
    first = stopped.send.sent
    assert 2 <= first < 5 and first + stopped.send.remaining == 5  # stopped early
    assert stopped.status == "partial" and "stopped by a signal" in stopped.message
    with State(config, now) as state:
        resumed = run_job(state, PINNED_WEEK)
    assert (resumed.send.sent, resumed.send.remaining) == (5 - first, 0)
    recipients = [m["To"].addresses[0].addr_spec for m in news.outbox_messages()]
    assert sorted(recipients) == [f"reader{i}@example.com" for i in range(5)]


@pytest.mark.slow  # a scheduler process and a signal
def test_sigint_mid_send_finishes_in_flight_and_exits_cleanly(tmp_path):
    """A real `digest run` over SMTP; the server holds the first message until the test has
    sent SIGINT, so the signal surely lands mid-send."""
    import asyncio

    from aiosmtpd.controller import Controller

    received: list[str] = []
    arrived, release = threading.Event(), threading.Event()

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.extend(envelope.rcpt_tos)
            if len(received) == 1:
                arrived.set()
                await asyncio.get_running_loop().run_in_executor(None, release.wait, 60)
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        news = make_newsletter(tmp_path / "news", extra=(
            f'\n[delivery]\ntransport = "smtp"\n\n[delivery.smtp]\nhost = "127.0.0.1"\n'
            f'port = {port}\nsecurity = "none"\nconnections = 1\n'))
        add_readers(news, 20)
        args = [DIGEST, "--config", str(news.config_path), "run", "--now", PINNED_NOW]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert arrived.wait(60), proc.communicate()
            proc.send_signal(signal.SIGINT)
            release.set()
            out, err = proc.communicate(timeout=60)
        finally:
            release.set()
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 1, out + err
        assert "Traceback" not in err and "SIGINT received" in err
        assert "stopped by a signal" in out
        subscribers = [r for r in received if r.startswith("reader")]
        assert 1 <= len(subscribers) < 20  # it stopped early …
        conn = Database.open(news.config().db_path)
        ledger = dict(conn.execute("SELECT status, count(*) FROM deliveries GROUP BY status"))
        conn.close()
        assert ledger.get("sent") == len(subscribers)  # … with every accepted one recorded
        assert "sending" not in ledger
        resumed = run_digest(*args[1:])
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        subscribers = [r for r in received if r.startswith("reader")]
        assert sorted(subscribers) == sorted(f"reader{i}@example.com" for i in range(20))
    finally:
        controller.stop()


def test_run_missed_on_start_false_leaves_the_missed_week_alone(tmp_path):
    from threading import Event

    from pipeline.jobs.scheduler import ScheduleLoop

    thursday = datetime.fromisoformat(PINNED_NOW)  # Monday's 07:00 run of 2026-W48 was missed
    for missed_ok, expected in ((False, "wait"), (True, "run")):
        news = make_newsletter(tmp_path / str(missed_ok), extra=(
            f"\n[schedule]\nrun_missed_on_start = {str(missed_ok).lower()}\n"))
        add_readers(news, 1)
        stop = Event()
        loop = ScheduleLoop(news.config(), stop, scheduled(news.config(), stop),
                            clock=lambda: thursday)
        assert loop.start().action == "run"  # it was due …
        decision = loop.tick()  # … and only runs when configured to
        assert decision.action == expected
        assert (news.issues / PINNED_WEEK).is_dir() is missed_ok
        assert len(news.outbox_messages()) == int(missed_ok)
        if not missed_ok:
            assert decision.week == "2026-W49"
