"""Against the real thing: Postfix's smtp-sink (PIPELINING) takes every message of a send over
several connections, each to its own recipient, intact (smtp-sink dumps each transaction)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from .conftest import PINNED_WEEK, free_port, require_tool, run_digest
from .test_smtp_faults import ledger, smtp_newsletter

READERS = 30


@pytest.mark.postfix
def test_send_to_postfix_smtp_sink(tmp_path):
    sink = require_tool("smtp-sink", "Postfix's SMTP sink (Debian package postfix)")
    # smtp-sink writes as an unprivileged user, who cannot enter pytest's private tmp folder.
    dump = Path(tempfile.mkdtemp(prefix="digest-sink-"))
    dump.chmod(0o777)
    port = free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    proc = subprocess.Popen([sink, *user, "-d", f"{dump}/%H%M%S.", f"127.0.0.1:{port}", "64"])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        news = smtp_newsletter(tmp_path / "news", port, READERS, connections=3)
        result = run_digest("--config", news.config_path, "send", "--week", PINNED_WEEK)
        messages = [message_from_bytes(p.read_bytes(), policy=policy.default)
                    for p in dump.iterdir()]
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(dump, ignore_errors=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{READERS} sent" in result.stdout
    assert len(messages) == READERS
    recipients = sorted(m["X-Rcpt-Args"].strip("<>") for m in messages)
    assert recipients == sorted(f"reader{i}@example.com" for i in range(READERS))
    for message in messages:
        assert message["To"].addresses[0].addr_spec == message["X-Rcpt-Args"].strip("<>")
        html = message.get_body(("html",)).get_content()
        assert html.rstrip().endswith("</html>") and "%%" not in html
    assert len({m["Message-ID"] for m in messages}) == READERS
    assert {s for s, _, _ in ledger(news).values()} == {"sent"}
