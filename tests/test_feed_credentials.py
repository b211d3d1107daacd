"""A feed URL with credentials (https://user:password@host/feed): the request uses them (HTTP
Basic), but report.json, the `digest fetch` table, the logs, the editor's report and the
issue itself never show them, and links in the feed are not resolved against them."""

from __future__ import annotations

import base64
import json
from email import message_from_bytes, policy

from .conftest import PINNED_NOW, PINNED_WEEK, make_newsletter, run_digest
from .test_feeds_build import status_route

USER, PASSWORD = "reader", "s3cret-Pa55"
FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Private product notes</title>
<item><title>Roadmap review for product managers</title><link>/notes/roadmap</link>
<guid>note-1</guid><pubDate>Tue, 24 Nov 2026 10:00:00 GMT</pubDate>
<description>&lt;p&gt;Our product roadmap, see
&lt;a href="/notes/detail"&gt;details&lt;/a&gt;.&lt;/p&gt;</description></item></channel></rss>"""


def _authorized(h) -> bool:
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return h.headers.get("Authorization") == expected


def test_credentials_are_used_but_never_shown(tmp_path, http_server):
    def private(h):
        body, status = (FEED, 200) if _authorized(h) else (b"who are you?", 401)
        h.send_response(status)
        h.send_header("Content-Type", "application/rss+xml")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    http_server.routes["/private.xml"] = private
    http_server.routes["/loop-a"] = status_route(302, {"Location": "/loop-b"})
    http_server.routes["/loop-b"] = status_route(302, {"Location": "/loop-a"})
    host = http_server.base.removeprefix("http://")
    private_url = f"http://{USER}:{PASSWORD}@{host}/private.xml"
    news = make_newsletter(tmp_path / "news", feeds=[
        ("Private", private_url),
        ("Looping", f"http://{USER}:{PASSWORD}@{host}/loop-a")])

    fetched = run_digest("--config", news.config_path, "-v", "fetch", "--now", PINNED_NOW)
    assert fetched.returncode == 0, fetched.stderr
    assert PASSWORD not in fetched.stdout + fetched.stderr
    rows = {line.split()[0]: line for line in fetched.stdout.splitlines()[1:-1]}
    assert " ok " in rows["Private"]
    assert "redirect loop: http://***@" in rows["Looping"]
    requests = [(path, headers) for _, path, headers in http_server.requests]
    assert any(path == "/private.xml" and "Authorization" in headers for path, headers in requests)

    ran = run_digest("--config", news.config_path, "-v", "--log-json", "run", "--now",
                     PINNED_NOW)
    assert ran.returncode == 0, ran.stderr
    assert PASSWORD not in ran.stdout + ran.stderr
    folder = news.issues / PINNED_WEEK
    report = json.loads((folder / "report.json").read_text())
    feeds = {f["name"]: f for f in report["feeds"]}
    assert feeds["Private"]["url"] == f"http://***@{host}/private.xml"
    assert feeds["Private"]["status"] == "ok" and feeds["Private"]["entries"] == 1
    assert feeds["Looping"]["error"].startswith(f"redirect loop: http://***@{host}/loop-a")
    for path in folder.iterdir():
        assert PASSWORD not in path.read_text(encoding="utf-8", errors="replace"), path.name
        assert f"{USER}:" not in path.read_text(encoding="utf-8", errors="replace"), path.name
    issue = json.loads((folder / "issue.json").read_text())
    urls = [i["url"] for s in issue["sections"] for i in s["items"]]
    assert f"http://{host}/notes/roadmap" in urls  # resolved against the URL, not the userinfo

    editor_mail = sorted((news.root / "var" / "outbox-editor" / "new").iterdir())
    assert editor_mail
    message = message_from_bytes(editor_mail[-1].read_bytes(), policy=policy.default)
    body = message.get_body(("plain",)).get_content()
    assert "Looping: redirect loop: http://***@" in body
    assert PASSWORD not in editor_mail[-1].read_text(errors="replace")
