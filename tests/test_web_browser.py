"""The signup in a real browser: headless Chromium (driven over the DevTools protocol) loads
the form, submits it; the confirmation mail arrives at a real SMTP server (aiosmtpd) through
the configured SMTP transport; the browser opens its link and presses Confirm; the subscriber
is active and the welcome mail arrives."""

from __future__ import annotations

import importlib.util
import json
import re
import smtplib
import subprocess
import sys
import time
import types
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import pytest
from websockets.sync.client import connect

from pipeline.models import DeliveryResult

from .conftest import free_port, require_tool
from .test_web_support import running, subscriber, wait_for, web_newsletter

pytestmark = pytest.mark.chromium

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--remote-debugging-port=0"]


class Browser:
    """Just enough of the DevTools protocol: navigate, evaluate, wait for a page load."""

    def __init__(self, chromium: str, profile: Path) -> None:
        self.process = subprocess.Popen(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        wait_for(lambda: port_file.is_file() and port_file.read_text().strip(), 30,
                 "Chromium's DevTools port")
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            pages = [t for t in json.load(r) if t["type"] == "page"]
        self.stack = ExitStack()
        self.ws = self.stack.enter_context(
            connect(pages[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=15))
        self.ids = 0
        self.events: list[str] = []
        self.call("Page.enable")

    def _receive(self, timeout: float) -> dict:
        message = json.loads(self.ws.recv(timeout=timeout))
        if "method" in message:
            self.events.append(message["method"])
        return message

    def call(self, method: str, **params) -> dict:
        self.ids += 1
        self.ws.send(json.dumps({"id": self.ids, "method": method, "params": params}))
        while True:
            message = self._receive(30)
            if message.get("id") == self.ids:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def wait_load(self) -> None:
        deadline = time.monotonic() + 30
        while "Page.loadEventFired" not in self.events:
            self._receive(max(deadline - time.monotonic(), 0.1))
        self.events.clear()

    def goto(self, url: str) -> None:
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_load()

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def close(self) -> None:
        try:
            self.stack.close()
        finally:
            self.process.terminate()
            self.process.wait(10)


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
    chromium = require_tool("chromium", "the signup page must be seen in a real browser")
    _ensure_smtp_transport(monkeypatch)
    port = free_port()
    news = web_newsletter(tmp_path / "news", port, curated=False, extra=(
        f'\n[delivery]\ntransport = "smtp"\n\n[delivery.smtp]\nhost = "127.0.0.1"\n'
        f'port = {smtp_server.port}\nsecurity = "none"\n'))
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    with running(news, port) as server:
        browser = Browser(chromium, profile)
        try:
            browser.goto(server.url("/subscribe"))
            assert browser.evaluate("document.title").startswith("Subscribe")
            browser.evaluate("""
                document.querySelector('#email').value = 'browser.reader@example.org';
                document.querySelector('#name').value = 'Bea <b>Reader</b>';
                document.querySelector('button[type=submit]').click();""")
            browser.wait_load()
            assert "Check your inbox" in browser.evaluate("document.body.innerText")

            confirm = wait_for(lambda: _mail(smtp_server, "Confirm",
                                             "browser.reader@example.org"),
                               what="the confirmation mail over SMTP")[0]
            assert subscriber(news, "browser.reader@example.org").status == "pending"
            html = confirm.get_body(("html",)).get_content()
            assert "Bea &lt;b&gt;Reader&lt;/b&gt;" in html  # the name is escaped
            link = re.search(r'href="(http://127\.0\.0\.1:\d+/confirm/[^"]+)"', html).group(1)

            browser.goto(link)  # opening the link only shows the button (scanners open it)
            assert browser.evaluate("document.title").startswith("Confirm")
            assert subscriber(news, "browser.reader@example.org").status == "pending"
            browser.evaluate("document.querySelector('button[type=submit]').click();")
            browser.wait_load()
            assert "You are subscribed" in browser.evaluate("document.body.innerText")
            assert subscriber(news, "browser.reader@example.org").status == "active"
            welcome = wait_for(lambda: _mail(smtp_server, "Welcome",
                                             "browser.reader@example.org"),
                               what="the welcome mail over SMTP")[0]
            assert "/u/" in welcome["List-Unsubscribe"]
        finally:
            browser.close()
