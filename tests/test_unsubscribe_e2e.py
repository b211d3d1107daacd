"""End to end: a delivered message's own List-Unsubscribe URL, POSTed as Gmail's one-click
button does, unsubscribes its reader, and the next `digest send` skips that address."""

from __future__ import annotations

import re

import httpx

from .conftest import PINNED_NOW, PINNED_WEEK, add_excerpt
from .test_web_support import add_subscriber, subscriber, web

NEXT_WEEK, NEXT_NOW = "2026-W49", "2026-12-03T08:00:00+00:00"


def _message_to(news, week: str, address: str):
    found = [m for m in news.outbox_messages()
             if m["X-Digest-Issue"] == week and address in m["To"]]
    return found[0] if found else None


def test_one_click_from_the_delivered_header_and_the_next_send_skips(tmp_path, cli):
    with web(tmp_path / "news") as server:
        news = server.news
        add_subscriber(news, "ada@example.com", "Ada Lovelace")
        add_subscriber(news, "grace@example.com", "Grace Hopper")
        config = str(news.config_path)
        assert cli("--config", config, "build", "--week", PINNED_WEEK, "--now",
                   PINNED_NOW).exit_code == 0
        assert cli("--config", config, "send", "--week", PINNED_WEEK).exit_code == 0

        message = _message_to(news, PINNED_WEEK, "ada@example.com")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        urls = re.findall(r"<([^>]+)>", message["List-Unsubscribe"])
        http_url = next(u for u in urls if u.startswith("http"))
        assert http_url.startswith(server.base + "/u/")  # base_url is this server
        # What a mailbox provider does (RFC 8058 §3.2): POST, no cookies, no redirects.
        response = httpx.post(http_url, data={"List-Unsubscribe": "One-Click"},
                              follow_redirects=False)
        assert response.status_code == 200
        assert subscriber(news, "ada@example.com").status == "unsubscribed"
        assert subscriber(news, "grace@example.com").status == "active"

        add_excerpt(news.root, NEXT_WEEK, "next-week")  # an empty issue is never sent
        assert cli("--config", config, "build", "--week", NEXT_WEEK, "--now",
                   NEXT_NOW).exit_code == 0
        sent = cli("--config", config, "send", "--week", NEXT_WEEK)
        assert sent.exit_code == 0, sent.output
        assert "1 sent" in sent.output
        assert _message_to(news, NEXT_WEEK, "grace@example.com") is not None
        assert _message_to(news, NEXT_WEEK, "ada@example.com") is None


def test_one_click_during_the_send_stops_the_queued_message(tmp_path, cli):
    """A reader whose row is already queued (and read into the sender's batch) unsubscribes
    while the issue is going out: their message is not sent."""
    from pipeline.delivery.transports.maildir import MaildirTransport
    from pipeline.jobs.send import send
    from pipeline.mail.compose import reader_links
    from pipeline.state.handle import State
    from pipeline.state.keys import signing_key
    from pipeline.weeks import parse_now

    with web(tmp_path / "news") as server:
        news = server.news
        readers = [add_subscriber(news, f"reader{i}@example.com") for i in range(8)]
        config = news.config()
        assert cli("--config", str(news.config_path), "build", "--week", PINNED_WEEK, "--now",
                   PINNED_NOW).exit_code == 0
        last = readers[-1]
        url = reader_links(config, signing_key(config), last, PINNED_WEEK).unsubscribe
        assert url.startswith(server.base + "/u/")

        class ClickDuringSend(MaildirTransport):
            def send(self, message):
                if not self._count:  # the first message: the last reader clicks meanwhile
                    response = httpx.post(url, data={"List-Unsubscribe": "One-Click"})
                    assert response.status_code == 200
                return super().send(message)

        with State(config, parse_now(PINNED_NOW)) as state:
            summary = send(state, PINNED_WEEK, ClickDuringSend(config.state_dir / "outbox"))
    assert subscriber(news, last.email).status == "unsubscribed"
    assert (summary.sent, summary.remaining) == (7, 0)
    recipients = sorted(str(m["To"]) for m in news.outbox_messages())
    assert recipients == sorted(r.email for r in readers[:-1])
