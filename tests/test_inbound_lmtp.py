"""`digest inbound --lmtp HOST:PORT` (a real subprocess) driven by smtplib.LMTP as an MTA would:
one reply per recipient after DATA, a 451 while the state cannot be written (the MTA retries,
and the retry is applied), and a clean stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import free_port
from .inboundmail import auto_reply, dsn
from .test_inbound_apply import DOMAIN, Sent


@pytest.fixture
def lmtp_server():
    started: list[subprocess.Popen] = []

    def start(news, port: int) -> subprocess.Popen:
        digest = Path(sys.executable).parent / "digest"
        proc = subprocess.Popen(
            [str(digest), "--config", str(news.config_path), "inbound", "--json", "--lmtp",
             f"127.0.0.1:{port}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, "DIGEST_TEST_BUSY_TIMEOUT_SECONDS": "0.5"})
        started.append(proc)
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return proc
            except OSError:
                assert time.monotonic() < deadline, "the LMTP server did not start"
                time.sleep(0.1)

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def deliver(port: int, raw: bytes, recipients: list[str]) -> list[tuple[int, bytes]]:
    """One LMTP transaction: the replies to DATA, one per recipient (RFC 2033 §4.2)."""
    with smtplib.LMTP("127.0.0.1", port, timeout=30) as client:
        assert client.ehlo("mx.example.net")[0] == 250  # LHLO: smtplib.LMTP.ehlo_msg
        assert client.mail("<>")[0] == 250
        for recipient in recipients:
            assert client.rcpt(recipient)[0] == 250
        # SMTP's line ending, as an MTA sends it (smtplib sends bytes as they are).
        replies = [client.data(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))]
        replies += [client.getreply() for _ in recipients[1:]]
    return replies


def test_lmtp_per_recipient_replies_retry_and_sigterm(tmp_path: Path, cli, lmtp_server):
    sent = Sent(tmp_path / "news", cli)
    port = free_port()
    proc = lmtp_server(sent.news, port)

    ada_verp = sent.verp("ada@example.com")
    bounce = dsn(sent.messages["ada@example.com"], "ada@example.com", to=ada_verp)
    replies = deliver(port, bounce, [ada_verp, f"bounces@{DOMAIN}"])
    assert [code for code, _ in replies] == [250, 250]
    assert replies[0][1].startswith(f"2.0.0 <{ada_verp}> hard".encode())
    assert replies[1][1].startswith(f"2.0.0 <bounces@{DOMAIN}> hard".encode())
    assert sent.statuses()["ada@example.com"] == "bounced"
    assert [row[1] for row in sent.events() if row[0] == sent.events()[-1][0]][-1] == "bounced"

    # The state is locked by another program: this recipient gets 451, nothing is applied…
    vacation = auto_reply(sent.messages["grace@example.org"], "grace@example.org",
                          sent.verp("grace@example.org"))
    grace_bounce = dsn(sent.messages["grace@example.org"], "grace@example.org",
                       to=sent.verp("grace@example.org"))
    conn = sqlite3.connect(sent.news.root / "var" / "digest.sqlite3")
    conn.execute("BEGIN IMMEDIATE")
    try:
        ((code, text),) = deliver(port, grace_bounce, [sent.verp("grace@example.org")])
    finally:
        conn.rollback()
        conn.close()
    assert code == 451 and b"try again later" in text
    assert sent.statuses()["grace@example.org"] == "active"
    # …and the MTA's retry is.
    ((code, text),) = deliver(port, grace_bounce, [sent.verp("grace@example.org")])
    assert (code, text.split()[-1]) == (250, b"hard")
    assert sent.statuses()["grace@example.org"] == "bounced"
    ((code, text),) = deliver(port, vacation, [sent.verp("grace@example.org")])
    assert (code, text.split()[-1]) == (250, b"auto-reply")

    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert b"serving LMTP on 127.0.0.1" in out and b"stopped; 4 message(s) handled" in out
    assert out.count(b'"kind": "hard"') == 3  # JSON lines, one per recipient applied
