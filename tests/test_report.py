"""The run report: issues/<week>/report.json and the editor's email, which arrives at a real
SMTP server (aiosmtpd) and is never counted with the subscribers' messages."""

from __future__ import annotations

import json
import sqlite3

from tests.conftest import FEEDS, PINNED_NOW, make_newsletter, run_digest

SUBSCRIBERS = ("ada@example.com", "grace@example.com")


def news_with_feeds(tmp_path, http_server, extra: str = ""):
    good = http_server.serve_file("/kagi.xml", FEEDS / "real" / "rss2_kagi-blog_summary-only.xml")
    news = make_newsletter(tmp_path / "news", feeds=[("Kagi", good),
                                                     ("Gone", http_server.url("/gone.xml"))],
                           extra=extra)
    from pipeline.state.db import Database
    from pipeline.state.subscribers import add

    conn = Database.open(news.config().db_path)
    for email in SUBSCRIBERS:
        add(conn, email, None)
    conn.close()
    return news


def test_editor_report_arrives_by_smtp_apart_from_the_deliveries(tmp_path, http_server,
                                                                 smtp_server, cli):
    smtp = (f'\n[delivery]\ntransport = "smtp"\n\n[delivery.smtp]\nhost = "127.0.0.1"\n'
            f'port = {smtp_server.port}\nsecurity = "none"\nconnections = 1\n')
    news = news_with_feeds(tmp_path, http_server, smtp)
    result = cli("--config", news.config_path, "run", "--now", PINNED_NOW)
    assert result.exit_code == 0, result.output
    assert "delivered: 2 new message(s) to subscribers" in result.output
    assert "editor's report: sent to editor@pmcareerdigest.example.com" in result.output

    by_rcpt = {rcpts[0]: data for _, rcpts, data in smtp_server.messages}
    assert sorted(by_rcpt) == sorted([*SUBSCRIBERS, "editor@pmcareerdigest.example.com"])
    [report_mail] = [m for m in smtp_server.parsed() if m["X-Digest-Report"]]
    assert report_mail["Subject"].startswith(
        "[PM Career Digest] editor report 2026-W48: sent to 2 subscriber(s)")
    assert report_mail["To"] == "editor@pmcareerdigest.example.com"
    assert report_mail["Auto-Submitted"] == "auto-generated"
    body = report_mail.get_content()
    assert "Delivery: sent 2, failed 0" in body
    assert "failed: Gone" in body  # the broken feed is named
    assert "Time per stage:" in body and "send " in body
    # The ledger holds the subscribers only: the report is not a delivery.
    with sqlite3.connect(news.root / "var" / "digest.sqlite3") as conn:
        rows = conn.execute("SELECT s.email FROM deliveries d JOIN subscribers s"
                            " ON s.id = d.subscriber_id").fetchall()
    assert sorted(r[0] for r in rows) == sorted(SUBSCRIBERS)
    # A second run sends no subscriber anything new; the editor hears about it.
    again = cli("--config", news.config_path, "run", "--now", PINNED_NOW)
    assert again.exit_code == 0 and "delivered: 0 new message(s)" in again.output
    assert [rcpts[0] for _, rcpts, _ in smtp_server.messages].count(SUBSCRIBERS[0]) == 1


def test_report_json_holds_sections_feeds_checks_delivery_and_timings(tmp_path, http_server):
    news = news_with_feeds(tmp_path, http_server)
    result = run_digest("--config", news.config_path, "--log-json", "run", "--now", PINNED_NOW)
    assert result.returncode == 0, result.stderr
    report = json.loads((news.issues / "2026-W48" / "report.json").read_text())
    issue = json.loads((news.issues / "2026-W48" / "issue.json").read_text())
    assert report["status"] == "sent" and report["mode"] == "auto"
    assert report["sections"] == {s["id"]: len(s["items"]) for s in issue["sections"]}
    assert report["new_items"] == sum(report["sections"].values()) > 0
    assert report["feeds_failed"] == ["Gone"] and report["feeds_stale"] == []
    assert {"errors", "warnings"} <= set(report["check"])
    assert report["delivery"] == {"sent": 2, "failed": 0, "bounced": 0, "already_sent": 0,
                                  "remaining": 0}
    assert {"fetch", "render", "send"} <= set(report["timings"])
    assert report["editor_report"] == "sent to editor@pmcareerdigest.example.com"
    # With the Maildir transport the editor's copy has its own Maildir, not the outbox.
    assert len(news.outbox_messages()) == 2
    assert len(list((news.root / "var" / "outbox-editor" / "new").iterdir())) == 1
    # --log-json: every stderr line is a JSON object; the run's outcome carries fields.
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    outcome = [rec for rec in lines if rec.get("week") == "2026-W48"]
    assert outcome and outcome[-1]["status"] == "sent"
    assert outcome[-1]["delivery"]["sent"] == 2 and outcome[-1]["feeds_failed"] == ["Gone"]


def test_a_build_that_fails_still_tells_the_editor(newsletter, cli):
    """A malformed excerpt file stops `digest run` (exit 2, naming the file): the editor, who
    wrote it, gets the report mail saying so, not silence."""
    (newsletter.root / "curated" / "broken.md").write_text("no front matter\n",
                                                           encoding="utf-8")
    result = cli("--config", newsletter.config_path, "run", "--now", PINNED_NOW)
    assert result.exit_code == 2
    assert "broken.md" in result.output
    folder = newsletter.root / "var" / "outbox-editor" / "new"
    from email import message_from_bytes, policy

    [mail] = [message_from_bytes(p.read_bytes(), policy=policy.default)
              for p in folder.iterdir()]
    assert mail["Subject"] == "[PM Career Digest] editor report 2026-W48: NOT sent"
    body = mail.get_content()
    assert "not built:" in body and "broken.md" in body
