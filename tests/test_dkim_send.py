"""`digest send` with [delivery.dkim] set: every message that reaches the SMTP server carries
the bulk-sender headers and its DKIM signature verifies (dkimpy, offline, against the test
key), covering both RFC 8058 headers."""

from __future__ import annotations

import re
from email import message_from_bytes, policy

import dkim

from pipeline.state.keys import signing_key
from pipeline.tokens import reader_ref, verify

from .conftest import PINNED_WEEK, run_digest
from .test_compose_headers import make_dkim_keys
from .test_smtp_faults import FaultHandler, FaultServer, smtp_newsletter


def test_every_sent_message_is_signed_and_complete(tmp_path):
    private, record = make_dkim_keys(tmp_path)
    handler = FaultHandler()
    with FaultServer(handler) as server:
        news = smtp_newsletter(tmp_path / "news", server.port, 6, connections=2, extra=f"""
[delivery.dkim]
domain = "pmcareerdigest.example.com"
selector = "digest"
key_file = "{private}"
""")
        result = run_digest("--config", news.config_path, "send", "--week", PINNED_WEEK)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(handler.accepted) == 6
    key = signing_key(news.config())  # what `digest send` signed the links with

    def dnsfunc(name, timeout=5):
        assert name == b"digest._domainkey.pmcareerdigest.example.com."
        return record

    for address, data in handler.accepted:
        assert dkim.verify(data, dnsfunc=dnsfunc), address
        msg = message_from_bytes(data, policy=policy.default)
        signed = msg["DKIM-Signature"].replace(" ", "").replace("\r\n", "")
        assert re.search(r"h=[^;]*list-unsubscribe:list-unsubscribe-post", signed)
        assert msg["To"].addresses[0].addr_spec == address
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert msg["Precedence"] == "bulk" and msg["List-Id"] and msg["Date"]
        assert msg["Message-ID"].endswith("@pmcareerdigest.example.com>")
        token = re.search(r"<https://[^>]+/u/([^>]+)>", str(msg["List-Unsubscribe"])).group(1)
        assert verify(key, "unsubscribe", token) == (reader_ref(address), PINNED_WEEK)
        assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
