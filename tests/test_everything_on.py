"""Every capability at once, as a real newsletter would run them together: clicks tracked
(aggregate) with UTM tags, a VERP return path, DKIM, a sponsor, an article quoted twice, SMTP
to a real server, `digest serve` answering the links of the delivered message, and the bounce
of one reader read back through `digest inbound -`. Each feature is tested alone elsewhere; this
is where they must not step on each other."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

import dkim
import httpx
import pytest

from pipeline.inbound import verify_verp
from pipeline.state.keys import signing_key
from pipeline.tokens import reader_ref

from .conftest import PINNED_NOW, PINNED_WEEK, add_excerpt, free_port, run_digest
from .inboundmail import dsn
from .test_compose_headers import make_dkim_keys
from .test_web_support import wait_for, web_newsletter

pytestmark = pytest.mark.slow
DOMAIN = "pmcareerdigest.example.com"
READERS = ("ada@example.com", "grace@example.org", "alan@example.net")
READER_AGENT = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, "
                "like Gecko) Version/18.1 Safari/605.1.15")


def test_every_capability_at_once(tmp_path, smtp_server, serve):
    private, record = make_dkim_keys(tmp_path)
    port = free_port()
    news = web_newsletter(tmp_path / "news", port, extra=f"""
[tracking]
utm = true
clicks = "aggregate"

[sponsor]
position = "after_intro"

[delivery]
transport = "smtp"
return_path = "bounces+{{token}}@{DOMAIN}"

[delivery.smtp]
host = "127.0.0.1"
port = {smtp_server.port}
security = "none"
connections = 1

[delivery.dkim]
domain = "{DOMAIN}"
selector = "digest"
key_file = "{private}"
""")
    config = ("--config", str(news.config_path))
    # An article quoted twice, from two excerpt files: one headline, two passages.
    add_excerpt(news.root, PINNED_WEEK, "twice-one")
    second = add_excerpt(news.root, PINNED_WEEK, "twice-two")
    second.write_text(second.read_text().replace("https://example.com/twice-two",
                                                 "https://example.com/twice-one"),
                      encoding="utf-8")
    sponsors = news.root / "curated" / "_sponsors"
    sponsors.mkdir()
    (sponsors / f"{PINNED_WEEK}.md").write_text(
        '+++\ntitle = "Plan less, ship more with Acme Roadmaps"\n'
        'url = "https://acme.example/pm"\nsponsor = "Acme"\n+++\n'
        "Acme Roadmaps turns a quarter of guesswork into one page.\n", encoding="utf-8")
    for address in READERS:
        assert run_digest(*config, "subscribers", "add", address).returncode == 0

    run = run_digest(*config, "run", "--week", PINNED_WEEK, "--now", PINNED_NOW)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "delivered: 3 new message(s)" in run.stdout
    key = signing_key(news.config())
    messages = {rcpts[0]: (sender, data) for sender, rcpts, data in smtp_server.messages
                if rcpts[0] in READERS}  # the editor's report goes out through the relay too
    assert sorted(messages) == sorted(READERS)

    def dnsfunc(name, timeout=5):
        return record

    for address, (sender, data) in messages.items():
        # VERP: the envelope names the reader and the issue; DKIM covers the message.
        local = sender.partition("@")[0].removeprefix("bounces+")
        assert verify_verp(key, local) == (reader_ref(address), PINNED_WEEK)
        assert dkim.verify(data, dnsfunc=dnsfunc), address
        message = message_from_bytes(data, policy=policy.default)
        html = message.get_body(("html",)).get_content()
        text = message.get_body(("plain",)).get_content()
        # One headline for the article quoted twice, both passages under it, in both parts.
        assert html.count(">Notes for 2026-W48: twice-one<") == 1
        for passage in ("about twice-one", "about twice-two"):
            assert passage in html and passage in text
        assert "Sponsored" in html and "Sponsored" in text.replace("SPONSORED", "Sponsored")
        # Article links go through /c/; the newsletter's own links never do.
        links = re.findall(r'href="([^"]+)"', html)
        assert any(link.startswith(f"http://127.0.0.1:{port}/c/") for link in links)
        assert not any("example.com/twice-one" in link for link in links)
        assert all("/c/" not in link for link in links if "/u/" in link or "/issues/" in link)

    # The reader's own links work through the real `digest serve`: a click, then unsubscribe.
    base = serve(news, port)
    with sqlite3.connect(news.config().db_path) as conn:  # the send was an hour ago
        conn.execute("UPDATE deliveries SET updated_at ="
                     " strftime('%Y-%m-%dT%H:%M:%S+00:00', updated_at, '-1 hour')")
    ada = message_from_bytes(messages["ada@example.com"][1], policy=policy.default)
    article = next(link for link in re.findall(r'href="([^"]+)"',
                                               ada.get_body(("html",)).get_content())
                   if re.match(re.escape(base) + r"/c/2026-W48\.[1-9]\d*\.", link))  # not the trap
    response = httpx.get(article, headers={"User-Agent": READER_AGENT}, follow_redirects=False)
    assert response.status_code == 302
    assert "utm_source=" in response.headers["location"]
    wait_for(lambda: _count(news, "SELECT count(*) FROM clicks") == 1)
    unsubscribe = re.search(r"<(http[^>]+/u/[^>]+)>", str(ada["List-Unsubscribe"])).group(1)
    assert httpx.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}).status_code == 200

    # grace's mailbox bounces: the DSN comes back to her VERP address.
    grace_sender, grace_data = messages["grace@example.org"]
    bounce = dsn(grace_data, "grace@example.org", to=grace_sender, status="5.1.1")
    inbound = subprocess.run([str(Path(sys.executable).parent / "digest"), *config, "inbound",
                              "--json", "-"], input=bounce, capture_output=True, timeout=120)
    assert inbound.returncode == 0, inbound.stdout + inbound.stderr
    verdict = json.loads(inbound.stdout.decode().splitlines()[0])
    assert verdict["kind"] == "hard" and verdict["recipients"] == ["grace@example.org"]

    stats = run_digest(*config, "stats", "--week", PINNED_WEEK, "--json")
    assert stats.returncode == 0, stats.stderr
    figures = json.loads(stats.stdout)
    assert figures["delivered"] == 3 and figures["clicks"]["human"] == 1

    listed = json.loads(run_digest(*config, "subscribers", "list", "--json").stdout)
    assert {row["email"]: row["status"] for row in listed} == {
        "ada@example.com": "unsubscribed", "grace@example.org": "bounced",
        "alan@example.net": "active"}
    # The aggregate mode kept no reader in the click rows.
    with sqlite3.connect(news.config().db_path) as conn:
        deliveries = [row[0] for row in conn.execute("SELECT delivery FROM clicks")]
    assert all(reader_ref(address) not in deliveries for address in READERS)


def _count(news, sql: str) -> int:
    with sqlite3.connect(news.config().db_path) as conn:
        return conn.execute(sql).fetchone()[0]
