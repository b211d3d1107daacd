"""The orchestrator: the only place where stages meet I/O (HTTP, files, SQLite, transports)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..archive import files as archive
from ..archive import record as sendrecord
from ..config import Config
from ..curation import excerpts as curated
from ..delivery import loop as deliver
from ..errors import CheckFailed, ParseError, UsageError
from ..feeds.fetch import fetch_all
from ..feeds.parse import parse_document, unexpected_failure
from ..issue.assemble import assemble
from ..issue.render import render_issue
from ..mail.check import CheckReport, check_rendered
from ..mail.compose import public_version
from ..models import Entry, FeedReport, FetchResult, Issue, RenderedIssue, Subscriber
from ..safetext import redact_url, shown
from ..state import feeds as feedstate
from ..state.db import open_db, transaction, utcnow
from ..state.keys import signing_key
from ..state.published import item_keys, rebuild_history
from ..weeks import week_id


@dataclass
class Timings:
    stages: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def measure(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = round(time.perf_counter() - start, 4)


@dataclass(frozen=True)
class BuildResult:
    issue: Issue
    rendered: RenderedIssue
    folder: Path
    feeds: list[FeedReport]
    check: CheckReport
    timings: dict[str, float]
    frozen: bool = False  # delivery had started: the archived issue, not rebuilt


def db(config: Config) -> sqlite3.Connection:
    return open_db(config.db_path)


def fetch_and_parse(config: Config, timings: Timings, now: datetime | None = None
                    ) -> tuple[list[Entry], list[FeedReport]]:
    """Fetch every feed (conditionally), parse what changed, reuse what did not (304), date
    undated entries by when they were first seen, and report each feed's health. `now` is the
    build's clock (`--now`): "future" dates and "first seen" are relative to it."""
    now = now or datetime.now(UTC)
    words = config.issue.excerpt_words
    conn = db(config)
    try:
        states = feedstate.load_states(conn)
        with timings.measure("fetch"):
            results = fetch_all(config, {
                f.name: v for f in config.feeds
                if (v := feedstate.validators(states.get(f.name), f.url, words))})
        entries: list[Entry] = []
        reports: list[FeedReport] = []
        with timings.measure("parse"), transaction(conn):
            for result in results:
                feed_entries, report = _feed_outcome(conn, config, result,
                                                     states.get(result.feed_name), now)
                entries.extend(feed_entries)
                reports.append(report)
        return entries, reports
    finally:
        conn.close()


def _feed_outcome(conn: sqlite3.Connection, config: Config, result: FetchResult,
                  state: feedstate.FeedState | None, now: datetime
                  ) -> tuple[list[Entry], FeedReport]:
    """One feed's entries and report line; its state recorded (in the caller's transaction)."""
    words = config.issue.excerpt_words
    status, error, notes = result.status, result.error, [result.note]
    entries: list[Entry] = []
    new, entries_json = 0, None
    if status == "failed" and result.http_status == 410:
        status = "gone"
    elif status == "not_modified":
        stored = feedstate.stored_entries(state, result.url, words)
        if stored is None:  # validators are only sent with usable entries: a changed state
            status, error = "failed", "HTTP 304 but no stored entries to reuse"
        entries = stored or []
    elif status == "ok":
        try:
            parsed = parse_document(result, words, now)
        except ParseError as exc:
            status, error = "failed", exc.message
        except Exception as exc:  # noqa: BLE001 - a blow-up in one feed is that feed's failure
            status, error = "failed", unexpected_failure(exc)
        else:
            entries, new = feedstate.date_by_first_seen(conn, result.feed_name, parsed.entries,
                                                        now)
            if parsed.skipped and not entries:
                status, error = "failed", f"no usable item: {parsed.summary()}"
            else:
                entries_json = feedstate.encode_entries(entries, words)
                notes.append(parsed.summary())
    feedstate.record_fetch(conn, result.feed_name, result.url, result, status, new, now,
                           entries_json)
    if status in ("ok", "not_modified") and not new:
        stale = feedstate.stale_since(state, result.url, now, config.fetch.stale_weeks)
        if stale is not None:
            status = "stale"
            notes.insert(0, f"no new item since {stale.date().isoformat()}")
    note = "; ".join(n for n in notes if n) or None
    # What is shown (report.json, the table, logs, the editor's email) never carries the
    # credentials of a feed URL, nor a character a template or terminal would choke on.
    return entries, FeedReport(result.feed_name, redact_url(result.url), status,
                               result.http_status, len(entries), new, len(result.body),
                               round(result.seconds, 3), shown(error), shown(note))


def published_keys(conn: sqlite3.Connection, except_issue: str) -> set[str]:
    rows = conn.execute("SELECT key FROM published WHERE issue_id != ?", (except_issue,))
    return {row[0] for row in rows}


def issue_number(conn: sqlite3.Connection, config: Config, week: str) -> int:
    """The number this week's issue already has, else one more than any earlier issue."""
    row = conn.execute("SELECT number FROM issues WHERE id = ? AND status != 'skipped'",
                       (week,)).fetchone()
    if row:
        return row[0]
    # A skipped week gave its number back (store migration 2).
    skipped = {r[0] for r in conn.execute("SELECT id FROM issues WHERE status = 'skipped'")}
    known = [i.number for i in archive.list_issues(config.archive_dir)
             if i.id != week and i.id not in skipped]
    row = conn.execute("SELECT max(number) FROM issues WHERE status != 'skipped'").fetchone()
    return max([row[0] or 0, *known]) + 1


def restore_history(conn: sqlite3.Connection, config: Config) -> None:
    """A lost or fresh state folder beside an existing archive: rebuild the de-dup history
    from issues/*/issue.json, so no earlier item comes back. Only when the state knows no
    issue at all: an empty history beside known (skipped) weeks is real."""
    if conn.execute("SELECT 1 FROM issues LIMIT 1").fetchone() is None:
        if any(config.archive_dir.glob("*-W*/issue.json")):
            rebuild_history(conn, config.archive_dir)


def record_issue(conn: sqlite3.Connection, issue: Issue, entries: list[Entry]) -> None:
    guid_by_url = {e.url: e.guid for e in entries}
    with transaction(conn):
        # A skipped or approved week that is built again is a draft again (a rebuilt issue
        # needs a new approval), with the number it now has.
        conn.execute("INSERT INTO issues (id, number, built_at) VALUES (?, ?, ?)"
                     " ON CONFLICT(id) DO UPDATE SET built_at = excluded.built_at,"
                     " number = excluded.number, status = CASE WHEN status IN"
                     " ('skipped', 'approved') THEN 'built' ELSE status END,"
                     " approved_at = CASE WHEN status = 'approved' THEN NULL"
                     " ELSE approved_at END",
                     (issue.id, issue.number, utcnow()))
        conn.execute("DELETE FROM published WHERE issue_id = ?", (issue.id,))
        for item in issue.items:
            conn.executemany("INSERT OR IGNORE INTO published (key, issue_id, item_id)"
                             " VALUES (?, ?, ?)",
                             [(key, issue.id, item.id)
                              for key in item_keys(item, guid_by_url.get(item.url))])


def build(config: Config, week: str | None, now: datetime) -> BuildResult:
    """Fetch, parse, assemble, render, check and archive one issue. Sends nothing."""
    timings = Timings()
    week = week or week_id(now, config.newsletter.tz)
    conn = db(config)
    try:
        if sendrecord.started(config, conn, week):
            # A resumed send re-renders issue.json, and the archive must stay what readers got
            # (the archive's delivery record counts too: the database may have been lost).
            return archived_result(config, week, frozen=True)
        section_ids = {s.id for s in config.sections}
        with timings.measure("curate"):
            folder = config.existing_curated_dir()
            excerpts = curated.load_excerpts(folder, section_ids)
            intro = curated.load_intro(folder, week)
        entries, feeds = fetch_and_parse(config, timings, now)
        with timings.measure("assemble"):
            restore_history(conn, config)
            number = issue_number(conn, config, week)
            issue = assemble(config, week, number, now, excerpts, entries,
                             published_keys(conn, week), intro)
        with timings.measure("render"):
            rendered = render_issue(config, issue)
        key = signing_key(config)
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


def _send_setup(config: Config, week: str, now: datetime, subject_prefix: str = ""):
    """The checked issue prepared for composing (a Composer). CheckFailed when it fails."""
    from ..mail.compose import make_composer
    from ..mail.dkim import load_signer

    rendered = load_rendered(config, week)
    key = signing_key(config)
    report = check_rendered(config, rendered, key)
    if not report.ok:
        raise CheckFailed(f"issue {week} fails its check: " + "; ".join(report.errors),
                          hint=f"run `digest check --week {week}` and fix the issue")
    signer = load_signer(config.delivery.dkim)
    return make_composer(config, rendered, key, now, subject_prefix, signer)


def retry_policy(config: Config) -> deliver.RetryPolicy:
    return deliver.RetryPolicy(config.delivery.max_attempts,
                               config.delivery.retry_backoff_seconds)


def send(config: Config, week: str, now: datetime, transport: deliver.Transport,
         resend_failed: bool = False,
         on_progress: Callable[[Any], None] | None = None, *,
         should_stop: Callable[[], bool] | None = None,
         on_start: Callable[[int], None] | None = None,
         force_resend: bool = False) -> deliver.SendSummary:
    """Deliver a built issue to every active subscriber through the ledger; resumable. With
    several SMTP connections the workers are forked here, before the ledger is opened. The
    archive's delivery record (sendrecord.py) is written before the first message goes out;
    a ledger behind it stops the send (StaleStateError) unless `force_resend`."""
    from ..delivery.pool import open_pool
    from ..state.db import connect

    conn = db(config)  # migrated before any worker opens the ledger
    try:
        ensure_sendable(conn, config, week)
        previous = sendrecord.check(config, conn, week, force_resend)
    finally:
        conn.close()
    composer = _send_setup(config, week, now)
    journals = config.state_dir / "journal"
    pool = open_pool(transport, composer.compose, retry_policy(config),
                     lambda: connect(config.db_path), journals, week, config.delivery.rate_limit)
    try:
        conn = db(config)
        record = sendrecord.recorder(config, conn, week, previous, force_resend)
        complete = False
        try:
            summary = deliver.send_issue(conn, week, pool, resend_failed,
                                         record.then(on_progress), record.first(on_start),
                                         should_stop=should_stop, journal_dir=journals)
            complete = summary.remaining == 0 and summary.failed == 0
            if complete:
                with transaction(conn):
                    conn.execute("UPDATE issues SET status = 'sent', sent_at = ? WHERE id = ?"
                                 " AND status != 'sent'", (utcnow(), week))
            return summary
        finally:
            record.end(complete)
            conn.close()
    finally:
        pool.close()


def send_test_copy(config: Config, week: str, address: str, now: datetime,
                   transport: deliver.Transport) -> deliver.Outcome:
    """`digest send --to`: one copy, subject prefixed "[TEST] ", personalised as the
    subscriber with that address would get it (or as a stranger). Never touches the ledger."""
    from ..state.subscribers import get, normalize_email

    address = normalize_email(address)
    composer = _send_setup(config, week, now, subject_prefix="[TEST] ")
    conn = db(config)
    try:
        known = get(conn, address)
    finally:
        conn.close()
    reader = known or Subscriber(id=0, email=address, name=None, status="active")
    outcome = deliver.deliver_one(reader, lambda s: composer.compose(s, recipient=address),
                                  transport, retry_policy(config))
    if outcome.fatal:
        raise deliver.DeliveryError(outcome.fatal, hint=outcome.hint)
    return outcome


def send_plan(config: Config, week: str, resend_failed: bool = False,
              sample: int = 5, force_resend: bool = False) -> tuple[str, int, list[str]]:
    """`digest send --dry-run`: (subject, how many would get it now, the first addresses).
    A ledger behind the archive's record stops it as it would stop the send."""
    rendered = load_rendered(config, week)
    conn = db(config)
    try:
        sendrecord.check(config, conn, week, force_resend)
        count, first = deliver.plan(conn, week, resend_failed, sample)
    finally:
        conn.close()
    return rendered.issue.subject, count, first


def make_transport(config: Config) -> deliver.Transport:
    """The configured transport (unconnected): the Maildir outbox or an SMTP relay."""
    if config.delivery.transport == "maildir":
        from ..delivery.transports.maildir import MaildirTransport

        return MaildirTransport(config.state_dir / "outbox")
    from ..delivery.transports.smtp import SmtpTransport  # noqa: PLC0415 - optional adapter

    return SmtpTransport.from_config(config)


def check_built(config: Config, week: str, links: bool = False) -> CheckReport:
    """`digest check`: every pre-flight check of a built issue; `links` also requests each
    outbound link (a failing one is a warning: the web is flaky, the issue is not wrong)."""
    rendered = load_rendered(config, week)
    return check_rendered(config, rendered, signing_key(config), links=links)


def issue_statuses(config: Config) -> dict[str, str]:
    conn = db(config)
    try:
        return {row[0]: row[1] for row in conn.execute("SELECT id, status FROM issues")}
    finally:
        conn.close()


def seed_subscribers(conn: sqlite3.Connection, config: Config) -> None:
    """Import [subscribers] seed_csv once, into an empty list (the bundled sample readers)."""
    from ..state.subscribers import import_csv

    seed = config.subscribers.seed_csv
    if seed is None:
        return
    if conn.execute("SELECT 1 FROM subscribers LIMIT 1").fetchone() is None:
        import_csv(conn, seed)


def archived_result(config: Config, week: str, frozen: bool = False) -> BuildResult:
    """The archived issue as a BuildResult (a frozen or approved week is not rebuilt)."""
    rendered = load_rendered(config, week)
    previous = archive.read_report(config.archive_dir, week) or {}
    return BuildResult(rendered.issue, rendered, archive.issue_dir(config.archive_dir, week),
                       [FeedReport(**f) for f in previous.get("feeds", [])],
                       check_rendered(config, rendered, signing_key(config)), {},
                       frozen=frozen)


def ensure_sendable(conn: sqlite3.Connection, config: Config, week: str) -> None:
    """`digest send` never sends a skipped week (its items rolled over to the next issue) nor,
    in approval mode, an unapproved one; a delivery already under way (as the ledger or the
    archive knows) always resumes."""
    if sendrecord.started(config, conn, week):
        return
    row = conn.execute("SELECT status FROM issues WHERE id = ?", (week,)).fetchone()
    status = row[0] if row else None
    if status == "skipped":
        raise UsageError(f"issue {week} was skipped: its items roll over to the next issue,"
                         " so sending it would repeat them",
                         hint=f"`digest run --week {week}` rebuilds the week and sends it if"
                              " it is due")
    if config.schedule.mode == "approval" and status != "approved":
        raise UsageError(f"issue {week} is not approved ([schedule] mode = \"approval\")",
                         hint=f"review it, then `digest approve {week}`")

