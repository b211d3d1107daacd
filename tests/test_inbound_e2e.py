"""Issue 12 end to end: an issue sent with VERP to a real SMTP server (aiosmtpd); a DSN for
one reader (to its VERP return path), a complaint for another, a mailto unsubscribe from a
third and an auto-reply from a fourth fed back through `digest inbound -` (a Postfix pipe);
next week's send skips the first three and still mails the fourth; the same DSN fed again
changes nothing."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from pipeline.inbound import verify_verp
from pipeline.tokens import reader_ref

from .conftest import PINNED_NOW, PINNED_WEEK, add_excerpt, make_newsletter, run_digest
from .inboundmail import arf, auto_reply, dsn, mailto_unsubscribe

DOMAIN = "pmcareerdigest.example.com"
READERS = ["ada@example.com", "grace@example.org", "linus@example.net", "margaret@example.com",
           "alan@example.org"]
NEXT_WEEK, NEXT_NOW = "2026-W49", "2026-12-03T08:00:00+00:00"


def smtp_newsletter(root: Path, port: int, domain: str = DOMAIN):
    """A newsletter sending through SMTP on 127.0.0.1:port with VERP on `domain`."""
    return make_newsletter(root, extra=f"""
[delivery]
transport = "smtp"
return_path = "bounces+{{token}}@{domain}"

[delivery.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
connections = 1
""")


def inbound_stdin(news, raw: bytes, *args: str) -> subprocess.CompletedProcess[bytes]:
    """`digest inbound -` as a Postfix pipe transport runs it: the message on stdin."""
    digest = Path(sys.executable).parent / "digest"
    return subprocess.run([str(digest), "--config", str(news.config_path), "inbound", *args,
                           "-"], input=raw, capture_output=True, timeout=60,
                          env={**os.environ})


def events(news) -> list[tuple]:
    with sqlite3.connect(news.root / "var" / "digest.sqlite3") as conn:
        return conn.execute("SELECT ref, kind, status, source, detail, issue_id"
                            " FROM subscriber_events ORDER BY id").fetchall()


def test_hearing_back_after_a_verp_send(tmp_path: Path, smtp_server) -> None:
    news = smtp_newsletter(tmp_path / "news", smtp_server.port)
    config = ("--config", news.config_path)
    for address in READERS:
        assert run_digest(*config, "subscribers", "add", address).returncode == 0
    sent = run_digest(*config, "run", "--week", PINNED_WEEK, "--now", PINNED_NOW)
    assert sent.returncode == 0, sent.stdout + sent.stderr

    # Each reader's message has its own envelope sender, naming the reader and the issue.
    by_reader = {rcpts[0]: (sender, data) for sender, rcpts, data in smtp_server.messages
                 if b"X-Digest-Issue: " + PINNED_WEEK.encode() in data}
    assert sorted(by_reader) == sorted(READERS)
    key = (news.root / "var" / "secret.key").read_text().strip().encode()
    for reader, (sender, _) in by_reader.items():
        local, domain = sender.split("@")
        assert domain == DOMAIN and local.startswith("bounces+")
        assert verify_verp(key, local.removeprefix("bounces+")) == (reader_ref(reader),
                                                                    PINNED_WEEK)
    # The editor's report names no reader: the plain return path.
    editor = [sender for sender, rcpts, _ in smtp_server.messages
              if rcpts == ["editor@pmcareerdigest.example.com"]]
    assert editor == [f"bounces@{DOMAIN}"]

    ada_sender, ada_message = by_reader["ada@example.com"]
    bounce = dsn(ada_message, "ada@example.com", to=ada_sender)
    complaint = arf(by_reader["grace@example.org"][1], "grace@example.org")
    unsubscribe = mailto_unsubscribe(by_reader["linus@example.net"][1], "linus@example.net")
    margaret_sender, margaret_message = by_reader["margaret@example.com"]
    vacation = auto_reply(margaret_message, "margaret@example.com", margaret_sender)

    outcomes = {}
    for name, raw in (("bounce", bounce), ("complaint", complaint),
                      ("unsubscribe", unsubscribe), ("vacation", vacation)):
        result = inbound_stdin(news, raw, "--json")
        assert result.returncode == 0, result.stderr
        (line,) = result.stdout.decode().splitlines()
        outcomes[name] = json.loads(line)
    assert outcomes["bounce"]["kind"] == "hard" and outcomes["bounce"]["status"] == "5.1.1"
    assert outcomes["complaint"]["kind"] == "complaint"
    assert outcomes["unsubscribe"]["kind"] == "unsubscribe"
    assert outcomes["vacation"]["kind"] == "auto-reply"
    assert list(outcomes["bounce"])[:5] == ["source", "kind", "recipients", "status", "reason"]

    listed = run_digest(*config, "subscribers", "list", "--json")
    rows = {row["email"]: row for row in json.loads(listed.stdout)}
    assert {address: rows[address]["status"] for address in READERS} == {
        "ada@example.com": "bounced", "grace@example.org": "complained",
        "linus@example.net": "unsubscribed", "margaret@example.com": "active",
        "alan@example.org": "active"}
    # Why each one left: the source, and a detail naming the message (for an appeal).
    ada = rows["ada@example.com"]["reason"]
    assert ada["source"] == "inbound" and ada["kind"] == "bounced"
    assert "5.1.1" in ada["detail"] and outcomes["bounce"]["key"] in ada["detail"]
    assert ada["issue_id"] == PINNED_WEEK
    assert rows["grace@example.org"]["reason"]["issue_id"] == PINNED_WEEK
    assert rows["margaret@example.com"]["reason"] is None

    before = events(news)
    again = inbound_stdin(news, bounce, "--json")
    assert again.returncode == 0
    assert json.loads(again.stdout)["duplicate"] is True
    assert events(news) == before

    add_excerpt(news.root, NEXT_WEEK, "after-the-bounces")
    smtp_server.messages.clear()
    following = run_digest(*config, "run", "--week", NEXT_WEEK, "--now", NEXT_NOW)
    assert following.returncode == 0, following.stdout + following.stderr
    mailed = sorted(rcpts[0] for _, rcpts, data in smtp_server.messages
                    if b"X-Digest-Issue: " + NEXT_WEEK.encode() in data)
    assert mailed == ["alan@example.org", "margaret@example.com"]

    # The editor hears of it: the first issue's bounce, complaint and unsubscribe, with rates.
    report = json.loads((news.issues / NEXT_WEEK / "report.json").read_text())
    first = next(item for item in report["feedback"] if item["issue"] == PINNED_WEEK)
    assert (first["sent"], first["hard_bounces"], first["complaints"],
            first["unsubscribes"]) == (5, 1, 1, 1)
    assert first["complaint_rate"] == 0.2
    assert any("complaints at 20.00%" in warning for warning in first["warnings"])
    assert any("hard bounces at 20.00%" in warning for warning in first["warnings"])
