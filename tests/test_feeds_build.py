"""A build over every fixture feed (real and broken) plus injected faults, all served by a
local HTTP server: the build succeeds, each failed feed is named with its reason, no active
content reaches any output file, and a second `digest fetch` is answered with 304s."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import time

import pytest

from .conftest import FEEDS, PINNED_NOW, PINNED_WEEK, make_newsletter

LAST_MODIFIED = "Tue, 24 Nov 2026 10:00:00 GMT"
TIMEOUT = 1.5
# In HTML: script and iframe elements, event-handler attributes, javascript: URLs. Prose such
# as "Best Practices in JavaScript: …" is not a URL (a URL has no space after the colon).
ACTIVE = re.compile(r"<script|<iframe|<[^>]*\son[a-z]+\s*=|javascript:(?!\s)", re.I)


def _content_type(name: str) -> str:
    if name.endswith(".json"):
        return "application/feed+json"
    if name.endswith(".html"):
        return "text/html; charset=utf-8"
    return "application/atom+xml" if name.startswith("atom") else "application/rss+xml"


def conditional(body: bytes, content_type: str, encoding: str | None = None,
                last_modified: str = LAST_MODIFIED):
    """A route with ETag and Last-Modified that answers a matching conditional GET with 304."""
    etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
    payload = gzip.compress(body) if encoding == "gzip" else body

    def handler(h):
        if h.headers.get("If-None-Match") == etag \
                or h.headers.get("If-Modified-Since") == last_modified:
            h.send_response(304)
            h.send_header("ETag", etag)
            h.end_headers()
            return
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(payload)))
        h.send_header("ETag", etag)
        h.send_header("Last-Modified", last_modified)
        if encoding:
            h.send_header("Content-Encoding", encoding)
        h.end_headers()
        h.wfile.write(payload)

    return handler


def status_route(code: int, headers: dict[str, str] | None = None):
    def handler(h):
        h.send_response(code)
        for key, value in (headers or {}).items():
            h.send_header(key, value)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return handler


def _slow(h):
    time.sleep(TIMEOUT + 2)


def streamed(size: int, declared: bool = False):
    """A route answering `size` bytes of body generated while streaming, 64 KB at a time;
    with `declared`, a Content-Length says so up front."""

    def handler(h):
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        if declared:
            h.send_header("Content-Length", str(size))
        else:
            h.send_header("Connection", "close")
        h.end_headers()
        chunk = b"<rss><channel>" + b" " * (65536 - 14)
        try:
            for _ in range(size // len(chunk)):
                h.wfile.write(chunk)
        except OSError:
            pass  # the client stopped reading at its limit
        h.close_connection = True

    return handler


def serve_everything(http_server) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """(feed name, url) for every fixture and every fault; and the expected failures:
    feed name → a phrase of its reason."""
    # 16 connections at once overflow socketserver's listen backlog of 5 on a busy machine
    # (a dropped SYN is retried after 1 s): give this server a deeper one.
    http_server.server.socket.listen(64)
    feeds = []
    for folder in ("real", "broken"):
        for path in sorted((FEEDS / folder).iterdir()):
            route = f"/{folder}/{path.name}"
            http_server.routes[route] = conditional(path.read_bytes(), _content_type(path.name))
            feeds.append((f"{folder}/{path.name}", http_server.url(route)))
    kottke = (FEEDS / "real" / "atom_kottke_60-entries.xml").read_bytes()
    iso = (FEEDS / "real" / "rss2_iso-8859-1_jornal-de-noticias.xml").read_bytes()
    routes = {
        "/fault/slow": _slow,
        "/fault/500": status_route(500),
        "/fault/410": status_route(410),
        "/fault/moved": status_route(301, {"Location": "/real/rss2_kagi-blog_summary-only.xml"}),
        "/fault/loop-a": status_route(302, {"Location": "/fault/loop-b"}),
        "/fault/loop-b": status_route(302, {"Location": "/fault/loop-a"}),
        "/fault/50mb": streamed(50_000_000),
        "/fault/gzip": conditional(kottke, "application/atom+xml", "gzip"),
        "/fault/wrong-type": conditional(iso, "application/octet-stream"),
    }
    http_server.routes.update(routes)
    feeds += [(f"fault{path.removeprefix('/fault')}", http_server.url(path))
              for path in (*routes, "/fault/404") if path != "/fault/loop-b"]
    expected = {
        "broken/empty-document_feedparser-suite.xml": "not a feed",
        "broken/html-homepage-not-feed_inessential.html": "not a feed: HTML page",
        "fault/slow": "timed out",
        "fault/500": "HTTP 500",
        "fault/410": "HTTP 410 Gone",
        "fault/loop-a": "redirect loop",
        "fault/50mb": "over the 5.0 MB limit",
        "fault/404": "HTTP 404",
    }
    return feeds, expected


@pytest.mark.slow  # every fixture feed and fault, including a 50 MB body
def test_build_over_every_fixture_and_fault(tmp_path, http_server, cli):
    feeds, expected = serve_everything(http_server)
    news = make_newsletter(tmp_path / "news", feeds=feeds, lookback_days=10000, max_items=30,
                           extra=f"\n[fetch]\ntimeout_seconds = {TIMEOUT}\n")
    built = cli("--config", news.config_path, "build", "--now", PINNED_NOW)
    assert built.exit_code == 0, built.output

    folder = news.issues / PINNED_WEEK
    report = json.loads((folder / "report.json").read_text())
    by_name = {f["name"]: f for f in report["feeds"]}
    assert len(by_name) == len(feeds) == 39 + 9
    assert sorted(report["feeds_failed"]) == sorted(expected)
    for name, reason in expected.items():
        assert reason in (by_name[name]["error"] or ""), (name, by_name[name])
        assert f"✗ {name}: " in built.output  # the build names it with its reason
    assert by_name["fault/410"]["status"] == "gone"
    assert by_name["fault/moved"]["status"] == "ok"
    assert "update the URL in config.toml to " in by_name["fault/moved"]["note"]
    assert by_name["fault/gzip"]["entries"] == 60
    assert by_name["fault/wrong-type"]["entries"] == 40
    for name, feed in by_name.items():
        if name.startswith("real/"):
            assert feed["status"] == "ok" and feed["entries"] > 0, feed
            assert feed["http_status"] == 200 and feed["bytes"] > 0

    issue = json.loads((folder / "issue.json").read_text())
    items = [i for s in issue["sections"] for i in s["items"]]
    feed_items = [i for i in items if i["kind"] == "feed"]
    curated = len(items) - len(feed_items)
    assert curated > 0 and len(feed_items) == 30 - curated  # every slot the excerpts leave
    assert len({i["url"] for i in feed_items}) == len(feed_items)
    assert all(sum(i["source"] == f["source"] for i in feed_items) <= 2 for f in feed_items)
    for item in items:
        assert re.match(r"^https?://", item["url"]) and item["title"].strip()
    for path in sorted(folder.iterdir()):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            match = ACTIVE.search(text)
            assert match is None, (path.name, text[max(0, match.start() - 80):match.end() + 80])

    # A second fetch is conditional: every fixture answers 304 and nothing is parsed again.
    http_server.requests.clear()
    fetched = cli("--config", news.config_path, "fetch", "--now", PINNED_NOW)
    assert fetched.exit_code == 0, fetched.output
    ok_paths = {"/" + name for name, feed in by_name.items()
                if feed["status"] == "ok" and name.startswith(("real/", "broken/"))}
    sent = {path: h for _, path, h in http_server.requests if path in ok_paths}
    assert set(sent) == ok_paths
    for path, headers in sent.items():
        assert headers.get("If-None-Match", "").startswith('"'), path
        assert headers.get("If-Modified-Since") == LAST_MODIFIED, path
    rows = {line.split()[0]: line.split() for line in fetched.output.splitlines()[1:-1]}
    for name, feed in by_name.items():
        if feed["status"] == "ok" and name.startswith(("real/", "broken/")):
            row = rows[name[:40]]  # the table cuts names at 40 characters
            assert row[1:3] == ["not_modified", "304"], row
            assert int(row[3]) == feed["entries"]  # the stored entries, reused
            assert row[4] == "0"  # nothing new

    # A rebuild from the stored entries gives the same issue, byte for byte.
    before = (folder / "issue.json").read_bytes()
    rebuilt = cli("--config", news.config_path, "build", "--now", PINNED_NOW)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert (folder / "issue.json").read_bytes() == before
