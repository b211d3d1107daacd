"""The fetch stage against a real HTTP server on 127.0.0.1: bounded concurrency, time limits,
the streaming size limit, gzip, redirects, Retry-After, conditional GET, local paths."""

from __future__ import annotations

import gzip
import threading
import time
from datetime import UTC, datetime

import pytest

from pipeline.feeds.fetch import Validators, fetch_all, retry_after

from .conftest import FEEDS, make_newsletter

KAGI = (FEEDS / "real" / "rss2_kagi-blog_summary-only.xml").read_bytes()


def _config(tmp_path, feeds, **fetch):
    settings = {"timeout_seconds": 5, "deadline_seconds": 30, **fetch}
    extra = "\n[fetch]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items())
    return make_newsletter(tmp_path / "news", feeds=feeds, extra=extra, curated=False).config()


def _by_name(results):
    return {r.feed_name: r for r in results}


@pytest.mark.slow  # slow feeds, timed
def test_concurrent_fetch_is_bounded_by_the_pool(tmp_path, http_server):
    active, peak, lock = [0], [0], threading.Lock()

    def slow(h):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.3)
        with lock:
            active[0] -= 1
        h.send_response(200)
        h.send_header("Content-Length", str(len(KAGI)))
        h.end_headers()
        h.wfile.write(KAGI)

    feeds = []
    for i in range(8):
        http_server.routes[f"/f{i}.xml"] = slow
        feeds.append((f"Feed {i}", http_server.url(f"/f{i}.xml")))
    config = _config(tmp_path, feeds, concurrency=3)
    results = fetch_all(config)
    assert [r.status for r in results] == ["ok"] * 8
    assert [r.feed_name for r in results] == [f"Feed {i}" for i in range(8)]  # config order
    assert peak[0] == 3  # concurrent (three at once), and never more than the pool


def test_user_agent_names_the_newsletter(tmp_path, http_server):
    url = http_server.serve_bytes("/feed.xml", KAGI)
    fetch_all(_config(tmp_path, [("Kagi", url)]))
    agent = http_server.requests[0][2]["User-Agent"]
    assert agent.startswith("PMCareerDigest/") and "https://pmcareerdigest.example.com" in agent


@pytest.mark.slow  # waits out the time limits
def test_per_feed_timeout_and_overall_deadline(tmp_path, http_server):
    def stall(h):
        time.sleep(3)

    http_server.routes["/stall.xml"] = stall
    fast = http_server.serve_bytes("/fast.xml", KAGI)
    config = _config(tmp_path, [("Stalls", http_server.url("/stall.xml")), ("Fast", fast)],
                     timeout_seconds=0.5)
    results = _by_name(fetch_all(config))
    assert results["Fast"].status == "ok"
    assert results["Stalls"].status == "failed"
    assert "timed out after 0.5 s" in results["Stalls"].error

    # The overall deadline cuts every fetch short, even within its own time limit.
    config = _config(tmp_path / "2", [("Stalls", http_server.url("/stall.xml"))],
                     timeout_seconds=10, deadline_seconds=0.5)
    [result] = fetch_all(config)
    assert result.status == "failed" and "overall fetch deadline" in result.error


def _endless(h):
    """A body that never ends (no Content-Length): 64 KB chunks until the client hangs up."""
    h.send_response(200)
    h.send_header("Content-Type", "application/rss+xml")
    h.send_header("Connection", "close")
    h.end_headers()
    chunk = b"<!-- padding -->" * 4096
    try:
        for _ in range(50_000_000 // len(chunk)):
            h.wfile.write(chunk)
    except OSError:
        pass
    h.close_connection = True


def test_body_size_limit_while_streaming(tmp_path, http_server):
    http_server.routes["/huge.xml"] = _endless

    def declared(h):
        h.send_response(200)
        h.send_header("Content-Length", "50000000")
        h.end_headers()

    http_server.routes["/declared.xml"] = declared
    config = _config(tmp_path, [("Huge", http_server.url("/huge.xml")),
                                ("Declared", http_server.url("/declared.xml"))],
                     max_bytes=1_000_000)
    results = _by_name(fetch_all(config))
    assert results["Huge"].status == "failed"
    assert "over the 1.0 MB limit" in results["Huge"].error
    assert results["Huge"].body == b""
    assert results["Declared"].error == "body of 50.0 MB is over the 1.0 MB limit"


def test_gzip_and_deflate_bodies_are_decoded(tmp_path, http_server):
    packed = gzip.compress(KAGI)
    http_server.serve_bytes("/gz.xml", packed, headers={"Content-Encoding": "gzip"})
    [result] = fetch_all(_config(tmp_path, [("Gzip", http_server.url("/gz.xml"))]))
    assert result.status == "ok" and result.body == KAGI
    assert "gzip" in http_server.requests[0][2].get("Accept-Encoding", "")


def _redirect(to: str, code: int = 302):
    def handler(h):
        h.send_response(code)
        h.send_header("Location", to)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return handler


def test_redirects_at_most_five_loops_named_and_301_noted(tmp_path, http_server):
    http_server.serve_bytes("/feed.xml", KAGI)
    for i in range(1, 6):  # /r1 → /r2 → … → /r5 → /feed.xml: five redirects
        http_server.routes[f"/r{i}"] = _redirect(f"/r{i + 1}" if i < 5 else "/feed.xml")
    http_server.routes["/s0"] = _redirect("/r1")  # six redirects
    http_server.routes["/loop-a"] = _redirect("/loop-b")
    http_server.routes["/loop-b"] = _redirect("/loop-a")
    http_server.routes["/moved"] = _redirect("/feed.xml", 301)
    config = _config(tmp_path, [("Five", http_server.url("/r1")), ("Six", http_server.url("/s0")),
                                ("Loop", http_server.url("/loop-a")),
                                ("Moved", http_server.url("/moved"))])
    results = _by_name(fetch_all(config))
    assert results["Five"].status == "ok" and results["Five"].body == KAGI
    assert results["Five"].final_url == http_server.url("/feed.xml")
    assert results["Five"].note is None  # temporary redirects: keep the URL
    assert results["Six"].status == "failed" and "more than 5 redirects" in results["Six"].error
    assert results["Loop"].status == "failed" and results["Loop"].error.startswith(
        "redirect loop: ")
    assert results["Moved"].status == "ok"
    assert results["Moved"].note == ("moved permanently: update the URL in config.toml to "
                                     + http_server.url("/feed.xml"))


def test_http_errors_are_reasons(tmp_path, http_server):
    http_server.serve_bytes("/500", b"oops", status=500)
    http_server.serve_bytes("/410", b"", status=410)
    config = _config(tmp_path, [("Broken", http_server.url("/500")),
                                ("Missing", http_server.url("/404")),
                                ("Gone", http_server.url("/410")),
                                ("Nowhere", "http://127.0.0.1:9/feed.xml")])
    results = _by_name(fetch_all(config))
    assert results["Broken"].error == "HTTP 500 Internal Server Error"
    assert results["Missing"].error == "HTTP 404 Not Found"
    assert results["Gone"].http_status == 410 and "410 Gone" in results["Gone"].error
    assert results["Nowhere"].error.startswith("cannot connect")


@pytest.mark.slow  # waits for Retry-After
def test_retry_after_is_honoured_within_the_deadline(tmp_path, http_server):
    calls = []

    def busy(h):
        calls.append(time.monotonic())
        if len(calls) == 1:
            h.send_response(503)
            h.send_header("Retry-After", "1")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        h.send_response(200)
        h.send_header("Content-Length", str(len(KAGI)))
        h.end_headers()
        h.wfile.write(KAGI)

    def throttled(h):
        h.send_response(429)
        h.send_header("Retry-After", "3600")
        h.send_header("Content-Length", "0")
        h.end_headers()

    http_server.routes["/busy"] = busy
    http_server.routes["/throttled"] = throttled
    config = _config(tmp_path, [("Busy", http_server.url("/busy")),
                                ("Throttled", http_server.url("/throttled"))])
    results = _by_name(fetch_all(config))
    assert results["Busy"].status == "ok" and len(calls) == 2
    assert calls[1] - calls[0] >= 0.95
    assert results["Throttled"].status == "failed"
    assert results["Throttled"].error == ("HTTP 429 Too Many Requests "
                                          "(Retry-After 3600 is past the deadline)")


def test_retry_after_header_forms():
    now = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    assert retry_after("120") == 120
    assert retry_after("Thu, 26 Nov 2026 08:00:30 GMT", now) == 30
    assert retry_after("soon") is None and retry_after(None) is None


def test_conditional_get_sends_validators_and_gets_304(tmp_path, http_server):
    def conditional(h):
        if h.headers.get("If-None-Match") == '"v1"':
            h.send_response(304)
            h.send_header("ETag", '"v1"')
            h.end_headers()
            return
        h.send_response(200)
        h.send_header("ETag", '"v1"')
        h.send_header("Last-Modified", "Tue, 24 Nov 2026 10:00:00 GMT")
        h.send_header("Content-Length", str(len(KAGI)))
        h.end_headers()
        h.wfile.write(KAGI)

    http_server.routes["/feed.xml"] = conditional
    config = _config(tmp_path, [("Kagi", http_server.url("/feed.xml"))])
    [first] = fetch_all(config)
    assert first.status == "ok" and first.headers["etag"] == '"v1"'
    [second] = fetch_all(config, {"Kagi": Validators('"v1"', "Tue, 24 Nov 2026 10:00:00 GMT")})
    assert second.status == "not_modified" and second.http_status == 304
    assert second.body == b""
    sent = http_server.requests[1][2]
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Tue, 24 Nov 2026 10:00:00 GMT"


def test_local_paths_are_relative_to_the_config(tmp_path):
    news = make_newsletter(tmp_path / "news", feeds=[("Local", "feeds/kagi.xml"),
                                                     ("Absent", "feeds/none.xml")],
                           curated=False)
    (news.root / "feeds").mkdir()
    (news.root / "feeds" / "kagi.xml").write_bytes(KAGI)
    results = _by_name(fetch_all(news.config()))
    assert results["Local"].status == "ok" and results["Local"].body == KAGI
    assert results["Local"].final_url.startswith("file://")
    assert results["Absent"].status == "failed" and "cannot read" in results["Absent"].error
