"""Must show (issue 10): one issue built by the real CLI over the hostile set — nested JSON,
control characters, servers dripping their status line, headers or body, a gzip bomb, a
redirect loop, XXE, billion laughs, a 20 MB body, deeply nested HTML, bad dates, duplicate
GUIDs, scripts everywhere — plus every good fixture: `digest build` exits 0 inside the overall
fetch deadline (6 s) plus a margin, leaves no process behind, names every bad feed with its
reason in report.json, and no output file (the issue, the email, the text part, the sent
messages, the archive's index pages) holds anything executable."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import FEEDS, PINNED_NOW, PINNED_WEEK, make_newsletter, run_digest
from .dripserver import start_drip_server
from .test_feeds_build import status_route, streamed

pytestmark = pytest.mark.slow  # the whole hostile feed set through the real CLI

DEADLINE = 6  # [fetch] deadline_seconds; the per-feed limit is set far above it
# Executable in HTML: script/iframe/object/embed/form elements, event-handler attributes,
# javascript: URLs (prose such as "JavaScript: the good parts" has a space after the colon).
ACTIVE = re.compile(r"<script|<iframe|<object|<embed|<form|<[^>]*\son[a-z]+\s*=|"
                    r"javascript:(?!\s)|vbscript:|data:text/html", re.I)

SCRIPTED_RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>
<title>&lt;script&gt;alert('feed')&lt;/script&gt;Scripted product blog</title>
<link>javascript:alert('home')</link>
<item>
 <title>&lt;img src=x onerror=alert(1)&gt;Product roadmap
 &lt;script&gt;alert(2)&lt;/script&gt;tips</title>
 <link>javascript:alert(3)</link>
 <guid isPermaLink="false">scripted-1</guid>
 <author>&lt;script&gt;alert(4)&lt;/script&gt;Mallory</author>
 <category>&lt;script&gt;alert(5)&lt;/script&gt;</category>
 <media:content url="javascript:alert(6)" medium="image"/>
 <description><![CDATA[<p onclick="alert(7)">Roadmap advice for a product manager career.
 <a href="javascript:alert(8)">click</a> <a href="https://example.com/ok" onmouseover="x()">ok</a>
 <script>alert(9)</script><iframe src="https://evil.example/"></iframe>
 <object data="x.swf"></object><embed src="x.swf"><form action="https://evil.example/">
 <input name="q"><button>go</button></form><svg onload="alert(10)"><circle/></svg>
 <img src="https://example.com/a.png" onerror="alert(11)">
 <a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>
 <a href="vbscript:msgbox(1)">vb</a></p>]]></description>
 <pubDate>Tue, 24 Nov 2026 09:00:00 GMT</pubDate>
</item>
<item>
 <title>Second: interview questions</title>
 <link>https://example.com/interview</link>
 <description>&lt;a href="JaVaScRiPt:alert(12)"&gt;x&lt;/a&gt;
 &amp;lt;script&amp;gt;alert(13)&amp;lt;/script&amp;gt; hiring</description>
 <pubDate>Tue, 24 Nov 2026 08:00:00 GMT</pubDate>
</item>
</channel></rss>"""

SCRIPTED_JSON = json.dumps({
    "version": "https://jsonfeed.org/version/1.1", "title": "<script>alert(1)</script>JSON",
    "home_page_url": "javascript:alert(2)",
    "items": [
        {"id": "j1\ud800", "url": "javascript:alert(3)", "external_url": "https://example.com/j1",
         "title": "<script>alert(4)</script>Career ladder \ud800 for product managers",
         "content_html": "<p onload=alert(5)>A product career ladder.<script>x()</script></p>",
         "authors": [{"name": "<img src=x onerror=alert(6)>Eve"}],
         "image": "javascript:alert(7)", "date_published": "2026-11-24T08:00:00Z"},
    ]}).encode()

BAD_DATES_RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Dates</title>
<link>https://dates.example.com/</link>
""" + b"".join(
    f"<item><title>Product manager note {n}</title><link>https://dates.example.com/{n}</link>"
    f"<pubDate>{date}</pubDate><description>Career note {n}.</description></item>\n".encode()
    for n, date in enumerate(["Thu, 01 Jan 2999 00:00:00 GMT", "Mon, 01 Jan 1900 00:00:00 GMT",
                              "not a date at all", "2026-13-45T99:99:99Z", "",
                              "Tue, 31 Feb 2026 10:00:00 GMT", "99999999999999999999"])
) + b"</channel></rss>"

DUPLICATE_GUIDS_RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Dupes</title>
<link>https://dupes.example.com/</link>
""" + b"".join(
    f"<item><guid>same-guid</guid><title>Product hiring story {n % 3}</title>"
    f"<link>https://dupes.example.com/{n % 3}</link><description>Story {n % 3}.</description>"
    f"<pubDate>Tue, 24 Nov 2026 0{n}:00:00 GMT</pubDate></item>\n".encode() for n in range(6)
) + b"</channel></rss>"

DEEP_HTML_RSS = (b'<rss version="2.0"><channel><title>Deep</title><item><title>Deep product'
                 b' design</title><link>https://deep.example.com/1</link><description>'
                 + b"&lt;div&gt;" * 100_000 + b"text</description></item></channel></rss>")

SCRIPTED_EXCERPT = """+++
title = "<script>alert('curated')</script>Discovery <img src=x onerror=alert(1)> habits"
url = "https://example.com/discovery"
source = "<b onmouseover=alert(2)>Product</b> Talk"
author = "javascript:alert(3)"
section = "craft"
note = "<iframe src=https://evil.example></iframe>Read this \\u0007 twice."
added = 2026-11-20T09:00:00Z
+++
> Discovery <script>alert(4)</script> is a habit. [click](javascript:alert(5))
> <a href="javascript:alert(6)" onclick="alert(7)">raw html</a>
"""


def _serve(http_server, drip) -> tuple[list[tuple[str, str]], dict[str, str], set[str]]:
    """The feeds (name, url); the ones that must fail → a phrase of their reason; the
    hostile ones that must still yield items."""
    http_server.server.socket.listen(64)
    feeds = []
    for path in sorted((FEEDS / "real").iterdir()):
        feeds.append((f"real/{path.name}", http_server.serve_file(f"/real/{path.name}", path)))
    extra = FEEDS / "broken-extra"
    served = {
        "nested-json": ("/nested.json", (extra / "json-nested-5000-deep.json").read_bytes()),
        "control-characters": ("/control.xml", (
            extra / "control-characters-and-bidi-in-titles.xml").read_bytes()),
        "xxe": ("/xxe.xml", (extra / "xxe-external-entities.xml").read_bytes()),
        "billion-laughs": ("/laughs.xml", (extra / "billion-laughs.xml").read_bytes()),
        "scripts-rss": ("/scripts.xml", SCRIPTED_RSS),
        "scripts-json": ("/scripts.json", SCRIPTED_JSON),
        "hostile-onerror": ("/onerror.xml", (
            FEEDS / "broken" / "hostile-onerror-attrs_workingsoftware-ghost.xml").read_bytes()),
        "hostile-crazy-html": ("/crazy.xml", (
            FEEDS / "broken" / "hostile-crazy-html_feedparser-suite.xml").read_bytes()),
        "bad-dates": ("/dates.xml", BAD_DATES_RSS),
        "duplicate-guids": ("/dupes.xml", DUPLICATE_GUIDS_RSS),
        "deep-html": ("/deep.xml", DEEP_HTML_RSS),
    }
    for name, (path, body) in served.items():
        feeds.append((name, http_server.serve_bytes(path, body)))
    bomb = gzip.compress(b"<rss>" + b" " * 20_000_000, compresslevel=9)  # 20 MB in ~20 KB
    http_server.serve_bytes("/bomb.xml", bomb, headers={"Content-Encoding": "gzip"})
    http_server.routes["/20mb.xml"] = streamed(20_000_000, declared=True)
    http_server.routes["/loop-a"] = status_route(302, {"Location": "/loop-b"})
    http_server.routes["/loop-b"] = status_route(302, {"Location": "/loop-a"})
    feeds += [("gzip-bomb", http_server.url("/bomb.xml")),
              ("20-megabytes", http_server.url("/20mb.xml")),
              ("redirect-loop", http_server.url("/loop-a")),
              ("drip-status-line", drip.url("/status")),
              ("drip-headers", drip.url("/headers")),
              ("drip-body", drip.url("/body"))]
    must_fail = {
        "nested-json": "not a feed: JSON nested deeper",
        "gzip-bomb": "over the 5.0 MB limit (stopped reading)",
        "20-megabytes": "body of 20.0 MB is over the 5.0 MB limit",
        "redirect-loop": "redirect loop",
        "drip-status-line": f"overall fetch deadline ({DEADLINE} s)",
        "drip-headers": f"overall fetch deadline ({DEADLINE} s)",
        "drip-body": f"overall fetch deadline ({DEADLINE} s)",
    }
    must_yield = set(served) - set(must_fail)
    return feeds, must_fail, must_yield


def test_one_build_over_the_hostile_set(tmp_path, http_server):
    drip = start_drip_server()
    try:
        feeds, must_fail, must_yield = _serve(http_server, drip)
        news = make_newsletter(tmp_path / "news", feeds=feeds, lookback_days=10000,
                               max_items=25,  # headlines: 6 curated articles, 19 feed items
                               extra=f"\n[fetch]\ntimeout_seconds = 120\n"
                                     f"deadline_seconds = {DEADLINE}\nconcurrency = 16\n")
        (news.root / "curated" / "2026-11-20-scripted.md").write_text(SCRIPTED_EXCERPT,
                                                                     encoding="utf-8")
        digest = Path(sys.executable).parent / "digest"
        # Its own session, so any process it left behind could be found by its group.
        process = subprocess.Popen([str(digest), "--config", str(news.config_path), "build",
                                    "--now", PINNED_NOW], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            # Generous: every drip would go on for minutes; the deadline is 6 s.
            out, err = process.communicate(timeout=90)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
        assert process.returncode == 0, (out, err)
        try:
            os.killpg(process.pid, 0)
            leftover = True
        except ProcessLookupError:
            leftover = False
        assert not leftover, "a process of the build's session is still running"

        folder = news.issues / PINNED_WEEK
        report = json.loads((folder / "report.json").read_text())
        by_name = {f["name"]: f for f in report["feeds"]}
        print(f"\nfetch stage: {report['timings']['fetch']} s (deadline {DEADLINE} s)")
        assert sorted(report["feeds_failed"]) == sorted(must_fail)
        for name, reason in must_fail.items():
            assert reason in (by_name[name]["error"] or ""), by_name[name]
            assert f"✗ {name}: " in out  # the build names it too
        for name in must_yield:
            assert by_name[name]["status"] == "ok" and by_name[name]["entries"] > 0, name
        for name in ("xxe", "billion-laughs"):
            assert "malformed XML" in by_name[name]["note"], by_name[name]
        assert "repaired" in by_name["control-characters"]["note"]
        assert by_name["duplicate-guids"]["entries"] == 3  # exact repeats dropped
        assert "repeated" in by_name["duplicate-guids"]["note"]
        for name, feed in by_name.items():
            if name.startswith("real/"):
                assert feed["status"] == "ok" and feed["entries"] > 0, feed

        issue = json.loads((folder / "issue.json").read_text())
        items = [i for s in issue["sections"] for i in s["items"]]
        assert len(items) == 25
        for item in items:
            assert re.match(r"^https?://[^\s/]+", item["url"]), item
            assert item["published"] is None or item["published"] <= PINNED_NOW

        # Send it (two readers, the Maildir outbox) and write the archive's pages, then look
        # at every file the pipeline wrote.
        for address in ("ann@example.com", "bob@example.com"):
            added = run_digest("--config", news.config_path, "subscribers", "add", address)
            assert added.returncode == 0, added.stderr
        sent = run_digest("--config", news.config_path, "send", "--week", PINNED_WEEK)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert len(news.outbox_messages()) == 2
        site = run_digest("--config", news.config_path, "site")
        assert site.returncode == 0, site.stderr
        written = [p for p in (*news.issues.rglob("*"), *news.outbox.iterdir())
                   if p.is_file() and p.suffix != ".png"]
        assert {"index.html", "feed.xml", "email.html", "email.mjml", "email.txt",
                "issue.json", "report.json"} <= {p.name for p in written}
        for path in written:
            text = path.read_text(encoding="utf-8", errors="replace")
            if path.parent == news.outbox:  # quoted-printable: decode the parts
                from email import message_from_bytes, policy

                message = message_from_bytes(path.read_bytes(), policy=policy.default)
                text = "\n".join(part.get_content() for part in message.walk()
                                 if part.get_content_maintype() == "text")
            match = ACTIVE.search(text)
            assert match is None, (path.name, text[max(0, match.start() - 100):match.end() + 100])
    finally:
        drip.close()
