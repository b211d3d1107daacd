"""A thin week is skipped, the editor is told, and its items appear in the next issue."""

from __future__ import annotations

import json
import sqlite3

from tests.conftest import make_newsletter

ITEM = """<item><title>{title}</title><link>https://example.com/{slug}</link>
<guid>https://example.com/{slug}</guid><pubDate>{date}</pubDate>
<description>Notes on product management careers: {title}.</description></item>"""


def write_feed(path, items: list[tuple[str, str, str]]) -> None:
    body = "".join(ITEM.format(title=t, slug=s, date=d) for t, s, d in items)
    path.write_text(f'<?xml version="1.0"?><rss version="2.0"><channel><title>{path.stem}'
                    f"</title><link>https://example.com/</link>{body}</channel></rss>")


A1 = ("How I negotiated my first PM salary", "a1", "Tue, 24 Nov 2026 10:00:00 GMT")
B1 = ("Interview loops at product-led startups", "b1", "Wed, 25 Nov 2026 10:00:00 GMT")
A2 = ("Writing a roadmap nobody ignores", "a2", "Tue, 01 Dec 2026 10:00:00 GMT")
B2 = ("From engineer to product manager in a year", "b2", "Wed, 02 Dec 2026 10:00:00 GMT")


def titles(news, week: str) -> list[str]:
    issue = json.loads((news.issues / week / "issue.json").read_text())
    return [item["title"] for s in issue["sections"] for item in s["items"]]


def test_thin_week_is_skipped_and_its_items_roll_over(tmp_path, cli):
    root = tmp_path / "news"
    (root / "feeds").mkdir(parents=True)
    news = make_newsletter(root, feeds=[("A", "feeds/a.xml"), ("B", "feeds/b.xml")],
                           lookback_days=7, curated=False,
                           extra="\n[schedule]\nmin_new_items = 3\n")
    write_feed(root / "feeds" / "a.xml", [A1])
    write_feed(root / "feeds" / "b.xml", [B1])
    config = ("--config", news.config_path)
    assert cli(*config, "subscribers", "add", "ada@example.com").exit_code == 0

    thin = cli(*config, "run", "--now", "2026-11-26T08:00:00+00:00")
    assert thin.exit_code == 0, thin.output
    assert "skipped: 2 new item(s), fewer than [schedule] min_new_items = 3" in thin.output
    assert news.outbox_messages() == []
    db = root / "var" / "digest.sqlite3"
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status FROM issues WHERE id = '2026-W48'").fetchone() == (
            "skipped",)
        assert conn.execute("SELECT count(*) FROM published WHERE issue_id = '2026-W48'"
                            ).fetchone() == (0,)
    report = json.loads((news.issues / "2026-W48" / "report.json").read_text())
    assert (report["status"], report["new_items"]) == ("skipped", 2)
    editor = list((root / "var" / "outbox-editor" / "new").iterdir())
    assert len(editor) == 1 and "editor report 2026-W48: skipped" in editor[0].read_text()

    # Next week two more items arrive; last week's two are 8-9 days old, beyond the 7-day
    # lookback, and still go out because the week they belonged to was skipped.
    write_feed(root / "feeds" / "a.xml", [A2, A1])
    write_feed(root / "feeds" / "b.xml", [B2, B1])
    full = cli(*config, "run", "--now", "2026-12-03T08:00:00+00:00")
    assert full.exit_code == 0, full.output
    assert "delivered: 1 new message(s)" in full.output, full.output
    # The skipped week gave its number back: readers see no gap.
    assert "Issue #1 (2026-W49)" in full.output
    assert sorted(titles(news, "2026-W49")) == sorted(t for t, _, _ in (A1, B1, A2, B2))
    [message] = news.outbox_messages()
    text = message.get_body(("plain",)).get_content()
    assert A1[0] in text and B1[0] in text
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status FROM issues WHERE id = '2026-W49'").fetchone() == (
            "sent",)
