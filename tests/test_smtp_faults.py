"""`digest send` over SMTP against a real aiosmtpd server on 127.0.0.1 that injects faults:
421/451 for a fraction of messages, 550 to RCPT for chosen addresses, dropped connections, and
no server at all. With and without PIPELINING, over several connections (worker processes)."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from .conftest import PINNED_NOW, PINNED_WEEK, free_port, make_newsletter, run_digest


@dataclass
class FaultHandler:
    """Accepts mail like a relay would, except where told to fail. Faults are decided per
    recipient and attempt number, so a run is reproducible."""

    pipelining: bool = True
    bounce: set[str] = field(default_factory=set)  # 550 to RCPT
    always_busy: set[str] = field(default_factory=set)  # 451 at end of DATA, every time
    busy_every: int = 0  # 451 on the first attempt of every n-th recipient
    closing_every: int = 0  # 421 (and the server closes) on the first attempt of every n-th
    drop_every: int = 0  # the connection drops after DATA on the first attempt of every n-th
    delay: float = 0.0  # seconds before answering DATA (to make a send last)
    accepted: list[tuple[str, bytes]] = field(default_factory=list)
    rcpts: list[str] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpts.append(address)
        if address in self.bounce:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def _nth(self, address: str, every: int) -> bool:
        number = int(address.split("@")[0].removeprefix("reader")) if every else 0
        return bool(every) and number % every == 0 and self.attempts[address] == 1

    async def handle_DATA(self, server, session, envelope):
        address = envelope.rcpt_tos[0]
        self.attempts[address] = self.attempts.get(address, 0) + 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if address in self.always_busy or self._nth(address, self.busy_every):
            return "451 4.3.0 try again later"
        if self._nth(address, self.closing_every):
            server.transport.close()
            return "421 4.3.2 closing, too busy"
        if self._nth(address, self.drop_every):
            server.transport.abort()  # gone before the reply: the client cannot know
            return "250 never seen"
        self.accepted.append((address, envelope.original_content or envelope.content))
        return "250 2.0.0 OK"

    def message_ids(self) -> list[str]:
        return [message_from_bytes(data, policy=policy.default)["Message-ID"]
                for _, data in self.accepted]


class FaultServer:
    def __init__(self, handler: FaultHandler, port: int | None = None, **smtp_options) -> None:
        from aiosmtpd.controller import Controller

        self.handler = handler
        self.port = port or free_port()
        self.controller = Controller(handler, hostname="127.0.0.1", port=self.port,
                                     **smtp_options)

    def __enter__(self) -> FaultServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


def smtp_newsletter(root: Path, port: int, readers: int, connections: int = 3,
                    max_attempts: int = 4, extra: str = "", timeout: int = 5):
    """A newsletter whose issue is built, with `readers` active subscribers
    reader0@example.com … and [delivery] pointing at 127.0.0.1:port."""
    news = make_newsletter(root, extra=f"""
[delivery]
transport = "smtp"
max_attempts = {max_attempts}
retry_backoff_seconds = 0.01
{extra}
[delivery.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
connections = {connections}
timeout_seconds = {timeout}
""")
    csv = root / "readers.csv"
    csv.write_text("email,name\n" + "".join(f"reader{i}@example.com,Reader {i}\n"
                                            for i in range(readers)), encoding="utf-8")
    from pipeline.jobs.build import build
    from pipeline.state.handle import State
    from pipeline.state.subscribers import import_csv
    from pipeline.weeks import parse_now

    with State(news.config(), parse_now(PINNED_NOW)) as state:
        import_csv(state.db, csv)
        build(state, PINNED_WEEK)
    return news


def ledger(news) -> dict[str, tuple[str, int, int | None]]:
    """email → (delivery status, attempts, last code)."""
    conn = sqlite3.connect(news.root / "var" / "digest.sqlite3")
    try:
        rows = conn.execute("SELECT s.email, d.status, d.attempts, d.last_code FROM deliveries d"
                            " JOIN subscribers s ON s.id = d.subscriber_id").fetchall()
        return {r[0]: (r[1], r[2], r[3]) for r in rows}
    finally:
        conn.close()


def subscriber_status(news, email: str) -> str:
    conn = sqlite3.connect(news.root / "var" / "digest.sqlite3")
    try:
        return conn.execute("SELECT status FROM subscribers WHERE email = ?",
                            (email,)).fetchone()[0]
    finally:
        conn.close()


def send(news, *args: str):
    return run_digest("--config", news.config_path, "send", "--week", PINNED_WEEK, *args,
                      timeout=120)


@pytest.mark.parametrize(("pipelining", "connections"), [(True, 3), (False, 1)],
                         ids=["pipelining-3-workers", "no-pipelining-in-process"])
@pytest.mark.slow  # retries with backoff against a faulty server
def test_faults_are_retried_bounces_are_not(tmp_path, pipelining, connections):
    h = handler = FaultHandler(pipelining=pipelining,
                           bounce={"reader3@example.com", "reader17@example.com"},
                           busy_every=4, closing_every=7, drop_every=11)
    with FaultServer(handler) as server:
        news = smtp_newsletter(tmp_path / "news", server.port, 40, connections)
        result = send(news)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "38 sent, 0 failed, 2 bounced" in result.stdout
    rows = ledger(news)
    expected = {f"reader{i}@example.com" for i in range(40)} - h.bounce
    got = {address for address, _ in h.accepted}
    assert got == expected  # every reader but the bounced ones got the issue
    for address in expected:
        status, attempts, code = rows[address]
        assert status == "sent" and code == 250, address
    # 451, 421 and a dropped connection each cost one more try, then it went through.
    assert rows["reader4@example.com"][1] == 2
    assert rows["reader7@example.com"][1] == 2
    assert rows["reader11@example.com"][1] == 2
    assert rows["reader1@example.com"][1] == 1
    # A 5xx to RCPT: bounced at once (one attempt), the subscriber too, never asked again.
    for address in h.bounce:
        assert rows[address] == ("bounced", 1, 550)
        assert subscriber_status(news, address) == "bounced"
    asked = len(h.rcpts)
    # Only the dropped one can be a duplicate (the server took it, the client never knew):
    # here the handler dropped before accepting, so there are none.
    assert len(h.message_ids()) == len(set(h.message_ids())) == 38

    # A second run sends nothing new, and the bounced addresses are not tried again.
    with FaultServer(handler, port=server.port):
        again = send(news)
    assert again.returncode == 0, again.stderr
    assert "0 sent" in again.stdout and "38 sent before" in again.stdout
    assert len(h.accepted) == 38
    assert len(h.rcpts) == asked  # nobody was asked for again, bounced addresses included


@pytest.mark.slow  # retries with backoff
def test_persistent_4xx_fails_then_resend_failed(tmp_path):
    h = handler = FaultHandler(always_busy={"reader2@example.com"})
    with FaultServer(handler) as server:
        news = smtp_newsletter(tmp_path / "news", server.port, 6, max_attempts=3)
        first = send(news)
        assert first.returncode == 1  # a failure is an unfinished job
        assert "5 sent, 1 failed" in first.stdout
        retry_hint = f"`digest send --week {PINNED_WEEK} --resend-failed` retries them"
        assert f"{PINNED_WEEK}: 1 message(s) failed now: {retry_hint}" in first.stdout
        assert ledger(news)["reader2@example.com"] == ("failed", 3, 451)
        assert h.attempts["reader2@example.com"] == 3  # max_attempts, then it stopped

        plain = send(news)  # without --resend-failed a failed row waits, and it says so
        assert "0 sent, 0 failed" in plain.stdout
        assert (f"{PINNED_WEEK}: 1 message(s) failed earlier and were not retried: "
                f"{retry_hint}") in plain.stdout

        handler.always_busy.clear()  # the relay recovered
        retry = send(news, "--resend-failed")
    assert retry.returncode == 0, retry.stdout + retry.stderr
    assert "1 sent" in retry.stdout
    assert ledger(news)["reader2@example.com"][0] == "sent"
    assert sorted(a for a, _ in h.accepted).count("reader2@example.com") == 1


@pytest.mark.slow  # retries against a closed port
def test_unreachable_server_exits_1_and_the_ledger_resumes(tmp_path):
    port = free_port()  # nothing listens here yet
    news = smtp_newsletter(tmp_path / "news", port, 12, max_attempts=2)
    result = send(news)
    assert result.returncode == 1
    assert f"cannot reach the SMTP server 127.0.0.1:{port}" in result.stderr
    assert "run `digest send` again to resume" in result.stderr
    rows = ledger(news)
    assert len(rows) == 12
    assert {status for status, _, _ in rows.values()} <= {"queued", "sending"}

    h = handler = FaultHandler()
    with FaultServer(handler, port=port):
        resumed = send(news)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "12 sent" in resumed.stdout
    assert sorted(a for a, _ in h.accepted) == sorted(rows)
    assert {status for status, _, _ in ledger(news).values()} == {"sent"}


def test_test_copy_and_dry_run_leave_the_ledger_alone(tmp_path):
    h = handler = FaultHandler()
    with FaultServer(handler) as server:
        news = smtp_newsletter(tmp_path / "news", server.port, 8)
        dry = send(news, "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "to 8 subscriber(s)" in dry.stdout
        assert "reader0@example.com" in dry.stdout and "… and 3 more" in dry.stdout
        assert h.accepted == []

        copy = send(news, "--to", "Editor@Example.com")
        assert copy.returncode == 0, copy.stdout + copy.stderr
    assert [a for a, _ in h.accepted] == ["Editor@example.com"]
    message = message_from_bytes(h.accepted[0][1], policy=policy.default)
    assert message["Subject"].startswith("[TEST] ")
    assert message["To"] == "Editor@example.com"
    assert ledger(news) == {}  # never touches the ledger


def test_wrong_password_env_is_a_config_error(tmp_path):
    news = smtp_newsletter(tmp_path / "news", free_port(), 1)
    text = news.config_path.read_text().replace(
        'security = "none"', 'security = "none"\nusername = "digest"\n'
                             'password_env = "DIGEST_TEST_NO_SUCH_VARIABLE"')
    news.write_config(text)
    result = send(news)
    assert result.returncode == 2
    assert "DIGEST_TEST_NO_SUCH_VARIABLE" in result.stderr
    assert "delivery.smtp.password_env" in result.stderr


def test_run_stopped_by_the_relay_reports_how_far_it_got(tmp_path, cli):
    """`digest run` that loses its relay mid-issue exits 1 and its report says "partly sent"
    with the ledger's counts, not "NOT sent"."""
    import json

    from pipeline.delivery.transports import open_transport
    from pipeline.jobs.send import send as send_issue
    from pipeline.state.handle import State
    from pipeline.weeks import parse_now

    handler = FaultHandler()
    with FaultServer(handler) as server:
        news = smtp_newsletter(tmp_path / "news", server.port, 12, connections=1,
                               max_attempts=2)
        config = news.config()
        asked = iter([False])  # one batch goes out, then a stop request
        transport = open_transport(config)
        try:
            with State(config, parse_now(PINNED_NOW)) as state:
                first = send_issue(state, PINNED_WEEK, transport,
                                   should_stop=lambda: next(asked, True))
        finally:
            transport.close()
    assert 0 < first.sent < 12 and first.remaining == 12 - first.sent
    result = cli("--config", news.config_path, "run", "--week", PINNED_WEEK, "--now",
                 PINNED_NOW)  # the relay is gone now
    assert result.exit_code == 1
    report = json.loads((news.issues / PINNED_WEEK / "report.json").read_text())
    assert report["status"] == "partial", report
    assert "cannot reach the SMTP server" in report["message"]
    assert report["delivery"]["sent"] == first.sent
    assert report["delivery"]["remaining"] == 12 - first.sent
