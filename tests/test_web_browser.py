"""The signup in a real browser: headless Chromium (driven by Playwright, the system's
Chromium) loads the form, submits it; the confirmation mail arrives at a real SMTP server
(aiosmtpd) through the configured SMTP transport; the browser opens its link and presses
Confirm; the subscriber is active and the welcome mail arrives."""

from __future__ import annotations

import importlib.util
import re
import smtplib
import sys
import types

import pytest

from pipeline.models import DeliveryResult

from .conftest import chromium_browser, free_port
from .test_web_support import running, subscriber, wait_for, web_newsletter

pytestmark = pytest.mark.chromium


def _ensure_smtp_transport(monkeypatch) -> None:
    """The delivery area ships pipeline/delivery/transports/smtp.py; until it is there, this
    test uses a minimal plain-SMTP stand-in of its own (test-local, never shipped)."""
    if importlib.util.find_spec("pipeline.delivery.transports.smtp") is not None:
        return

    class SmtpTransport:
        def __init__(self, config) -> None:
            smtp = config.delivery.smtp
            self.client = smtplib.SMTP(smtp.host, smtp.port, timeout=10)

        def send(self, message) -> DeliveryResult:
            self.client.sendmail(message.sender, [message.recipient], message.data)
            return DeliveryResult(message.recipient, True, 250)

        def close(self) -> None:
            self.client.quit()

    module = types.ModuleType("pipeline.delivery.transports.smtp")
    module.SmtpTransport = SmtpTransport
    monkeypatch.setitem(sys.modules, "pipeline.delivery.transports.smtp", module)


def _mail(smtp_server, subject: str, to: str):
    return [m for m in smtp_server.parsed() if m["Subject"].startswith(subject)
            and to in m["To"]]


def test_signup_in_chromium_with_mail_through_smtp(tmp_path, smtp_server, monkeypatch):
    _ensure_smtp_transport(monkeypatch)
    port = free_port()
    news = web_newsletter(tmp_path / "news", port, curated=False, extra=(
        f'\n[delivery]\ntransport = "smtp"\n\n[delivery.smtp]\nhost = "127.0.0.1"\n'
        f'port = {smtp_server.port}\nsecurity = "none"\n'))
    with (chromium_browser("the signup page must be seen in a real browser") as browser,
          running(news, port) as server):
        page = browser.new_page()
        page.goto(server.url("/subscribe"))
        assert page.title().startswith("Subscribe")
        page.fill("#email", "browser.reader@example.org")
        page.fill("#name", "Bea <b>Reader</b>")
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert "Check your inbox" in page.inner_text("body")

        confirm = wait_for(lambda: _mail(smtp_server, "Confirm", "browser.reader@example.org"),
                           what="the confirmation mail over SMTP")[0]
        assert subscriber(news, "browser.reader@example.org").status == "pending"
        html = confirm.get_body(("html",)).get_content()
        assert "Bea &lt;b&gt;Reader&lt;/b&gt;" in html  # the name is escaped
        link = re.search(r'href="(http://127\.0\.0\.1:\d+/confirm/[^"]+)"', html).group(1)

        page.goto(link)  # opening the link only shows the button (scanners open it)
        assert page.title().startswith("Confirm")
        assert subscriber(news, "browser.reader@example.org").status == "pending"
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert "You are subscribed" in page.inner_text("body")
        assert subscriber(news, "browser.reader@example.org").status == "active"
        welcome = wait_for(lambda: _mail(smtp_server, "Welcome", "browser.reader@example.org"),
                           what="the welcome mail over SMTP")[0]
        assert "/u/" in welcome["List-Unsubscribe"]
