"""`digest serve` itself, the headers every response carries, no open redirect, error pages,
and the rate limiter's window."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from pipeline.web.ratelimit import RateLimiter

from .conftest import free_port, make_newsletter
from .test_web_support import wait_for, web


@pytest.mark.slow  # a fresh interpreter importing the stack: 2-5 s on this machine
def test_digest_serve_runs_uvicorn_on_the_given_port(tmp_path):
    news = make_newsletter(tmp_path / "news", curated=False)
    port = free_port()
    digest = Path(sys.executable).parent / "digest"
    process = subprocess.Popen(
        [str(digest), "--config", str(news.config_path), "serve", "--host", "127.0.0.1",
         "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "DIGEST_SECRET": "test-secret-" + "s" * 32})
    try:
        def healthy():
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            except httpx.TransportError:
                return None

        response = wait_for(healthy, 30, "digest serve to answer")
        assert response.status_code == 200 and response.text == "ok"
        assert "server" not in response.headers  # no version banner
        form = httpx.get(f"http://127.0.0.1:{port}/subscribe")
        assert form.status_code == 200 and 'action="/subscribe"' in form.text
    finally:
        process.terminate()
        process.wait(10)


class _Raw:
    """A response to a request target sent byte for byte (httpx would normalise it)."""

    def __init__(self, response: http.client.HTTPResponse, url: str) -> None:
        self.status_code = response.status
        self.headers = httpx.Headers(response.getheaders())
        self.text = response.read().decode()
        self.url = url


def _raw_get(base: str, target: str) -> _Raw:
    connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=10)
    try:
        connection.request("GET", target)
        return _Raw(connection.getresponse(), target)
    finally:
        connection.close()


def test_security_headers_everywhere_and_no_open_redirect(tmp_path):
    with web(tmp_path / "news", curated=False) as server:
        with server.client() as client:
            responses = [client.get("/"), client.get("/subscribe?next=https://evil.example/"),
                         client.get("/nope"), _raw_get(server.base, "//evil.example/"),
                         client.get("/u/x"), client.put("/subscribe"),
                         client.get("/issues/"), client.get("/unsubscribe")]
            for response in responses:
                headers = response.headers
                assert "frame-ancestors 'none'" in headers["content-security-policy"]
                assert "default-src 'none'" in headers["content-security-policy"]
                assert headers["x-content-type-options"] == "nosniff"
                assert headers["x-frame-options"] == "DENY"
                assert "location" not in headers, response.url
            assert [r.status_code for r in responses] == [200, 200, 404, 404, 400, 405, 200, 200]
            assert "evil.example" not in responses[1].text
            cookie = responses[0].headers["set-cookie"].lower()
            assert "httponly" in cookie and "samesite=strict" in cookie
            assert responses[0].headers["cache-control"] == "no-store"


def test_rate_limiter_window():
    now = [1000.0]
    limiter = RateLimiter(2, 60, clock=lambda: now[0], max_keys=3)
    assert limiter.hit("a") == 0 and limiter.hit("a") == 0
    assert 59 < limiter.hit("a") <= 60
    assert limiter.hit("b") == 0
    now[0] += 61
    assert limiter.hit("a") == 0
    for key in ("c", "d", "e", "f"):  # more keys than max_keys: old ones are evicted
        assert limiter.hit(key) == 0
    assert len(limiter._hits) <= 3


def test_access_log_never_shows_tokens():
    import logging

    from pipeline.web.app import RedactTokens

    # The shape of uvicorn's access-log record: (client, method, path, http version, status).
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "POST", "/u/MTI.MjAyNi1XNDg..abc?x=1", "1.1",
                                200), None)
    assert RedactTokens().filter(record)
    line = record.getMessage()
    assert "/u/<token>?x=1" in line and "MTI" not in line
    confirm = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "%s %s",
                                ("GET", "/confirm/abc.def"), None)
    RedactTokens().filter(confirm)
    assert confirm.getMessage() == "GET /confirm/<token>"
