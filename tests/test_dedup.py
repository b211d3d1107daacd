"""Identity across feeds and issues: canonical URLs, GUIDs, near-identical titles, and the
history that is rebuildable from issues/*/issue.json."""

from __future__ import annotations

import json

import pytest

from pipeline.identity import (
    TitleIndex,
    canonical_url,
    history_keys,
    jaccard,
    strip_tracking,
    title_tokens,
)
from pipeline.state.db import Database
from pipeline.state.published import rebuild_history


@pytest.mark.parametrize("variant", [
    "https://example.com/post/1",
    "http://example.com/post/1",
    "HTTPS://WWW.Example.COM/post/1/",
    "https://example.com:443/post/1",
    "https://example.com/post/1?utm_source=rss&utm_medium=feed",
    "https://example.com/post/1?fbclid=abc&gclid=def",
    "https://example.com/post/1#comments",
    "https://example.com/post/1/amp",
    "https://amp.example.com/post/1/amp/",
    "https://example.com/post/1?amp=1",
])
def test_canonical_url_folds_variants(variant):
    assert canonical_url(variant) == "https://example.com/post/1"


def test_canonical_url_keeps_what_matters():
    assert canonical_url("https://example.com/p?id=2&page=1") == "https://example.com/p?id=2&page=1"
    assert canonical_url("https://example.com/p?page=1&id=2") == canonical_url(
        "https://example.com/p?id=2&page=1")
    assert canonical_url("https://example.com:8443/p") == "https://example.com:8443/p"
    assert canonical_url("https://example.com/a") != canonical_url("https://example.com/b")
    assert canonical_url("https://example.com/story.amp.html") == "https://example.com/story.html"


def test_strip_tracking_for_the_reader_keeps_everything_else():
    assert strip_tracking("https://x.test/a?utm_source=rss&id=3#frag") == "https://x.test/a?id=3#frag"
    assert strip_tracking("https://medium.com/p/abc?source=rss----1") == "https://medium.com/p/abc"
    assert strip_tracking("https://x.test/a?source=newsletter") == "https://x.test/a?source=newsletter"
    assert strip_tracking("https://x.test/a") == "https://x.test/a"


def test_history_keys_use_only_global_guids_and_long_titles():
    keys = history_keys("https://x.test/a?utm_source=z", "https://x.test/?p=12",
                        "Five words in this title")
    assert keys == ["url:https://x.test/a", "guid:https://x.test/?p=12",
                    "title:five in this title words"]
    # "1234" could be any feed's item 1234; "Links" is many posts' title.
    assert history_keys("https://x.test/a", "1234", "Links") == ["url:https://x.test/a"]
    assert "guid:tag:x.test,2026:1" in history_keys("https://x.test/a", "tag:x.test,2026:1", "")


def test_near_identical_titles():
    a = "How to break into product management in 2026"
    b = "How to Break Into Product Management in 2026!"
    c = "How to break into product management in 2026: a guide"
    assert jaccard(title_tokens(a), title_tokens(b)) == 1.0
    assert jaccard(title_tokens(a), title_tokens(c)) >= 0.8
    assert jaccard(title_tokens(a), title_tokens("Product management salaries in 2026")) < 0.5
    index = TitleIndex([title_tokens(a)])
    assert index.near(title_tokens(c))
    assert not index.near(title_tokens("Why product managers should write more"))
    assert not TitleIndex([title_tokens("Links")]).near(title_tokens("Links"))  # too short
    history = TitleIndex.from_history(["url:https://x.test/a", "title:" + " ".join(
        sorted(title_tokens(a)))])
    assert history.near(title_tokens(b))


def _issue(week: str, number: int, items: list[dict]) -> dict:
    return {"id": week, "number": number, "date": "2026-11-23", "subject": "s",
            "preheader": "p", "intro": None,
            "sections": [{"id": "craft", "title": "The craft", "items": items}]}


def _item(kind: str, item_id: str, url: str, title: str) -> dict:
    return {"id": item_id, "kind": kind, "title": title, "url": url, "source": "S",
            "author": None, "published": None, "excerpt": "e", "note": None}


def test_history_is_rebuildable_from_the_archive(tmp_path):
    archive = tmp_path / "issues"
    issues = {
        "2026-W47": _issue("2026-W47", 1, [
            _item("curated", "c-2026-11-17-roadmaps", "https://x.test/roadmaps",
                  "Roadmaps are a communication tool"),
            _item("feed", "f-1", "https://x.test/a?utm_source=rss", "A feed item about discovery"),
        ]),
        "2026-W48": _issue("2026-W48", 2, [
            _item("feed", "f-2", "https://www.x.test/a/", "The same article seen again"),
            _item("feed", "f-3", "https://x.test/b", "Another feed item about hiring"),
        ]),
    }
    for week, data in issues.items():
        (archive / week).mkdir(parents=True)
        (archive / week / "issue.json").write_text(json.dumps(data), encoding="utf-8")
    (archive / "2026-W49").mkdir()  # a half-written folder is not an issue
    conn = Database.open(tmp_path / "var" / "digest.sqlite3")
    try:
        conn.execute("INSERT INTO published VALUES ('url:https://stale.test/', '2020-W01', 'x')")
        count = rebuild_history(conn, archive)
        rows = {k: (i, item) for k, i, item in conn.execute("SELECT * FROM published")}
    finally:
        conn.close()
    assert count == len(rows) == 8
    assert "url:https://stale.test/" not in rows
    assert rows["curated:2026-11-17-roadmaps"] == ("2026-W47", "c-2026-11-17-roadmaps")
    # A curated article's title too: a feed's copy of it under another URL stays out.
    assert rows["title:a are communication roadmaps tool"] == ("2026-W47", "c-2026-11-17-roadmaps")
    # The first issue to carry an article keeps it.
    assert rows["url:https://x.test/a"] == ("2026-W47", "f-1")
    assert rows["title:a about discovery feed item"] == ("2026-W47", "f-1")
    assert rows["title:about another feed hiring item"] == ("2026-W48", "f-3")
