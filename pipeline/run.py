"""The orchestrator: the only place where stages meet I/O (HTTP, files, SQLite, transports)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from . import archive, curated, deliver
from .assemble import assemble
from .check import CheckReport, check_rendered
from .compose import build_message, public_version
from .config import Config
from .dedup import history_keys
from .errors import CheckFailed, ParseError
from .fetch import fetch_all
from .models import Entry, FeedReport, Issue, RenderedIssue, Subscriber
from .parse import parse_feed
from .render import render_issue
from .store import open_db, transaction, utcnow
from .tokens import signing_key
from .weeks import week_id


@dataclass
class Timings:
    stages: dict[str, float] = field(default_factory=dict)

    def measure(self, name: str):
        timings = self

        class _Timer:
            def __enter__(self_inner):
                self_inner.start = time.perf_counter()

            def __exit__(self_inner, *exc):
                timings.stages[name] = round(time.perf_counter() - self_inner.start, 4)

        return _Timer()


@dataclass(frozen=True)
class BuildResult:
    issue: Issue
    rendered: RenderedIssue
    folder: Path
    feeds: list[FeedReport]
    check: CheckReport
    timings: dict[str, float]


def db(config: Config) -> sqlite3.Connection:
    return open_db(config.db_path)


def fetch_and_parse(config: Config, timings: Timings) -> tuple[list[Entry], list[FeedReport]]:
    with timings.measure("fetch"):
        results = fetch_all(config)
    entries: list[Entry] = []
    reports: list[FeedReport] = []
    with timings.measure("parse"):
        for result in results:
            if result.status == "failed":
                reports.append(FeedReport(result.feed_name, result.url, "failed",
                                          result.http_status, 0, 0, len(result.body),
                                          round(result.seconds, 3), result.error, result.note))
                continue
            try:
                parsed = parse_feed(result, config.issue.excerpt_words)
            except ParseError as exc:
                reports.append(FeedReport(result.feed_name, result.url, "failed",
                                          result.http_status, 0, 0, len(result.body),
                                          round(result.seconds, 3), exc.message, result.note))
                continue
            entries.extend(parsed)
            reports.append(FeedReport(result.feed_name, result.url, "ok", result.http_status,
                                      len(parsed), len(parsed), len(result.body),
                                      round(result.seconds, 3), None, result.note))
    return entries, reports


def published_keys(conn: sqlite3.Connection, except_issue: str) -> set[str]:
    rows = conn.execute("SELECT key FROM published WHERE issue_id != ?", (except_issue,))
    return {row[0] for row in rows}


def issue_number(conn: sqlite3.Connection, config: Config, week: str) -> int:
    """The number this week's issue already has, else one more than any earlier issue."""
    row = conn.execute("SELECT number FROM issues WHERE id = ?", (week,)).fetchone()
    if row:
        return row[0]
    known = [i.number for i in archive.list_issues(config.archive_dir) if i.id != week]
    row = conn.execute("SELECT max(number) FROM issues").fetchone()
    return max([row[0] or 0, *known]) + 1


def record_issue(conn: sqlite3.Connection, issue: Issue, entries: list[Entry]) -> None:
    guid_by_url = {e.url: e.guid for e in entries}
    with transaction(conn):
        conn.execute("INSERT INTO issues (id, number, built_at) VALUES (?, ?, ?)"
                     " ON CONFLICT(id) DO UPDATE SET built_at = excluded.built_at",
                     (issue.id, issue.number, utcnow()))
        conn.execute("DELETE FROM published WHERE issue_id = ?", (issue.id,))
        for item in issue.items:
            keys = history_keys(item.url, guid_by_url.get(item.url), item.title)
            if item.kind == "curated":
                keys = [f"curated:{item.id.removeprefix('c-')}", keys[0]]
            for key in keys:
                conn.execute("INSERT OR IGNORE INTO published (key, issue_id, item_id)"
                             " VALUES (?, ?, ?)", (key, issue.id, item.id))


def build(config: Config, week: str | None, now: datetime) -> BuildResult:
    """Fetch, parse, assemble, render, check and archive one issue. Sends nothing."""
    timings = Timings()
    week = week or week_id(now, config.newsletter.tz)
    conn = db(config)
    try:
        section_ids = {s.id for s in config.sections}
        with timings.measure("curate"):
            excerpts = curated.load_excerpts(config.curated_dir, section_ids)
            intro = curated.load_intro(config.curated_dir, week)
        entries, feeds = fetch_and_parse(config, timings)
        with timings.measure("assemble"):
            number = issue_number(conn, config, week)
            issue = assemble(config, week, number, now, excerpts, entries,
                             published_keys(conn, week), intro)
        with timings.measure("render"):
            rendered = render_issue(config, issue)
        key = signing_key(config.state_dir)
        with timings.measure("check"):
            report = check_rendered(config, rendered, key)
        with timings.measure("archive"):
            html, text = public_version(config, key, rendered)
            folder = archive.write_issue(config.archive_dir, rendered, html, text)
            record_issue(conn, issue, entries)
        result = BuildResult(issue, rendered, folder, feeds, report, timings.stages)
        archive.write_report(config.archive_dir, week, build_report(result))
        return result
    finally:
        conn.close()


def build_report(result: BuildResult, delivery: dict[str, Any] | None = None) -> dict[str, Any]:
    issue = result.issue
    return {
        "id": issue.id,
        "number": issue.number,
        "sections": {s.id: len(s.items) for s in issue.sections},
        "items": len(issue.items),
        "feeds": [f.to_json() for f in result.feeds],
        "feeds_failed": [f.name for f in result.feeds if f.status in ("failed", "gone")],
        "check": {"errors": list(result.check.errors), "warnings": list(result.check.warnings),
                  **result.check.facts},
        "delivery": delivery,
        "timings": result.timings,
    }


def load_rendered(config: Config, week: str) -> RenderedIssue:
    """Re-render a built issue from its issue.json (MJML compiles in well under a millisecond;
    the archived HTML is the public version, without the per-reader tokens)."""
    return render_issue(config, archive.read_issue(config.archive_dir, week))


def send(config: Config, week: str, now: datetime, transport: deliver.Transport,
         resend_failed: bool = False,
         on_progress: Callable[[Any], None] | None = None) -> deliver.SendSummary:
    rendered = load_rendered(config, week)
    key = signing_key(config.state_dir)
    report = check_rendered(config, rendered, key)
    if not report.ok:
        raise CheckFailed(f"issue {week} fails its check: " + "; ".join(report.errors),
                          hint=f"run `digest check --week {week}` and fix the issue")
    conn = db(config)
    try:
        def compose(subscriber: Subscriber):
            return build_message(config, rendered, subscriber, key, now)

        summary = deliver.send_issue(conn, week, transport, compose, resend_failed,
                                     config.delivery.max_attempts, on_progress)
        if summary.remaining == 0 and summary.failed == 0:
            with transaction(conn):
                conn.execute("UPDATE issues SET status = 'sent', sent_at = ? WHERE id = ?"
                             " AND status != 'sent'", (utcnow(), week))
        return summary
    finally:
        conn.close()


def make_transport(config: Config) -> deliver.Transport:
    if config.delivery.transport == "maildir":
        from .transports.maildir import MaildirTransport

        return MaildirTransport(config.state_dir / "outbox")
    from .transports.smtp import SmtpTransport  # noqa: PLC0415 - optional adapter

    return SmtpTransport(config)


def check_built(config: Config, week: str, links: bool = False) -> CheckReport:
    rendered = load_rendered(config, week)
    return check_rendered(config, rendered, signing_key(config.state_dir))


def issue_statuses(config: Config) -> dict[str, str]:
    conn = db(config)
    try:
        return {row[0]: row[1] for row in conn.execute("SELECT id, status FROM issues")}
    finally:
        conn.close()


def seed_subscribers(conn: sqlite3.Connection, config: Config) -> None:
    """Import [subscribers] seed_csv once, into an empty list (the bundled sample readers)."""
    from .subscribers import import_csv

    seed = config.subscribers.seed_csv
    if seed is None:
        return
    if conn.execute("SELECT 1 FROM subscribers LIMIT 1").fetchone() is None:
        import_csv(conn, seed)


def delivery_started(conn: sqlite3.Connection, week: str) -> bool:
    return conn.execute("SELECT 1 FROM deliveries WHERE issue_id = ? LIMIT 1",
                        (week,)).fetchone() is not None


@dataclass(frozen=True)
class RunOutcome:
    build: BuildResult
    send: deliver.SendSummary | None
    ok: bool
    message: str = ""
    outbox: Path | None = None


def run_job(config: Config, week: str, now: datetime, dry_run: bool = False) -> RunOutcome:
    """The weekly job. Once delivery of a week has started its issue is frozen: a re-run
    resumes the send of the archived issue instead of rebuilding it."""
    conn = db(config)
    try:
        seed_subscribers(conn, config)
        frozen = delivery_started(conn, week)
        active = conn.execute("SELECT count(*) FROM subscribers WHERE status = 'active'"
                              ).fetchone()[0]
    finally:
        conn.close()
    if frozen:
        rendered = load_rendered(config, week)
        key = signing_key(config.state_dir)
        previous = archive.read_report(config.archive_dir, week) or {}
        result = BuildResult(rendered.issue, rendered,
                             archive.issue_dir(config.archive_dir, week),
                             [FeedReport(**f) for f in previous.get("feeds", [])],
                             check_rendered(config, rendered, key), {})
    else:
        result = build(config, week, now)
    if not result.check.ok:
        return RunOutcome(result, None, False,
                          "not sent: the issue fails its check (see `digest check`)")
    if dry_run:
        return RunOutcome(result, None, True,
                          f"dry run: would send to {active} active subscriber(s)")
    transport = make_transport(config)
    try:
        summary = send(config, week, now, transport)
    finally:
        transport.close()
    delivery = {"sent": summary.sent, "failed": summary.failed, "bounced": summary.bounced,
                "already_sent": summary.already_sent, "remaining": summary.remaining}
    report = archive.read_report(config.archive_dir, week) or build_report(result)
    report["delivery"] = delivery
    archive.write_report(config.archive_dir, week, report)
    outbox = config.state_dir / "outbox" if config.delivery.transport == "maildir" else None
    return RunOutcome(result, summary, summary.failed == 0, outbox=outbox)
