"""Build: fetch → parse → assemble → render → check → archive, where those stages meet the
state (feed state, the de-dup history, issue numbers) through the command's State. Sends
nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..archive import files as archive
from ..config import Config
from ..curation import drops, excerpts
from ..errors import ParseError
from ..feeds import cache
from ..feeds.cache import FeedState
from ..feeds.fetch import fetch_all
from ..feeds.parse import parse_document, unexpected_failure
from ..issue.assemble import assemble
from ..issue.render import render_issue
from ..mail.check import CheckReport, check_rendered
from ..mail.compose import public_version
from ..models import Entry, FeedReport, FetchResult, Issue, RenderedIssue
from ..safetext import redact_url, shown
from ..state import feeds, issues, published
from ..state.handle import State
from ..weeks import week_id
from . import guard
from .report import RunReport


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


def fetch_and_parse(state: State, timings: Timings) -> tuple[list[Entry], list[FeedReport]]:
    """Fetch every feed (conditionally), parse what changed, reuse what did not (304), date
    undated entries by when they were first seen, and report each feed's health. The
    state's clock (`--now`) is the build's: "future" dates and "first seen" are relative
    to it."""
    config, db = state.config, state.db
    words = config.issue.excerpt_words
    states = feeds.load_states(db)
    with timings.measure("fetch"):
        results = fetch_all(config, {
            f.name: v for f in config.feeds
            if (v := cache.validators(states.get(f.name), f.url, words))})
    entries: list[Entry] = []
    reports: list[FeedReport] = []
    with timings.measure("parse"), db.atomic():
        for result in results:
            feed_entries, report = _feed_outcome(state, result, states.get(result.feed_name))
            entries.extend(feed_entries)
            reports.append(report)
    return entries, reports


def stored_entries(state: State) -> list[Entry]:
    """The entries of every configured feed as its last full parse left them (the feed state;
    `digest fetch` refreshes it): what the desk and `digest candidates` show, no network."""
    config = state.config
    words = config.issue.excerpt_words
    states = feeds.load_states(state.db)
    entries: list[Entry] = []
    for feed in config.feeds:
        if feed.enabled:
            entries.extend(cache.stored_entries(states.get(feed.name), feed.url, words) or [])
    return entries


def _feed_outcome(state: State, result: FetchResult, feed_state: FeedState | None
                  ) -> tuple[list[Entry], FeedReport]:
    """One feed's entries and report line; its state recorded (in the caller's transaction)."""
    config, now = state.config, state.now
    words = config.issue.excerpt_words
    status, error, notes = result.status, result.error, [result.note]
    entries: list[Entry] = []
    new, entries_json = 0, None
    if status == "failed" and result.http_status == 410:
        status = "gone"
    elif status == "not_modified":
        stored = cache.stored_entries(feed_state, result.url, words)
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
            seen, new = feeds.first_seen(state.db, result.feed_name,
                                         [e.guid for e in parsed.entries], now)
            entries = cache.date_by_first_seen(parsed.entries, seen, now)
            if parsed.skipped and not entries:
                status, error = "failed", f"no usable item: {parsed.summary()}"
            else:
                entries_json = cache.encode_entries(entries, words)
                notes.append(parsed.summary())
    feeds.record_fetch(state.db, result.feed_name, result.url, result, status, new, now,
                       entries_json)
    if status in ("ok", "not_modified") and not new:
        stale = cache.stale_since(feed_state, result.url, now, config.fetch.stale_weeks)
        if stale is not None:
            status = "stale"
            notes.insert(0, f"no new item since {stale.date().isoformat()}")
    note = "; ".join(n for n in notes if n) or None
    # What is shown (report.json, the table, logs, the editor's email) never carries the
    # credentials of a feed URL, nor a character a template or terminal would choke on.
    return entries, FeedReport(result.feed_name, redact_url(result.url), status,
                               result.http_status, len(entries), new, len(result.body),
                               round(result.seconds, 3), shown(error), shown(note))


def restore_history(state: State) -> None:
    """A lost or fresh state folder beside an existing archive: rebuild the de-dup history
    from issues/*/issue.json, so no earlier item comes back. Only when the state knows no
    issue at all: an empty history beside known (skipped) weeks is real."""
    archive_dir = state.config.archive_dir
    if not issues.any_known(state.db) and any(archive_dir.glob("*-W*/issue.json")):
        published.rebuild_history(state.db, archive_dir)


def build(state: State, week: str | None = None, config: Config | None = None,
          offline: bool = False) -> BuildResult:
    """Fetch, parse, assemble, render, check and archive one issue. Sends nothing. `config`
    replaces the state's for assembling (the weekly job widens the lookback after skipped
    weeks, so their items roll over). `offline` takes the stored entries instead of fetching
    (the desk's Approve: the issue the editor saw)."""
    config, now = config or state.config, state.now
    timings = Timings()
    week = week or week_id(now, config.newsletter.tz)
    if guard.started(state, week):
        # A resumed send re-renders issue.json, and the archive must stay what readers got
        # (the archive's delivery record counts too: the database may have been lost).
        return archived_result(state, week, frozen=True)
    section_ids = {s.id for s in config.sections}
    with timings.measure("curate"):
        folder = config.existing_curated_dir()
        curated = excerpts.load_excerpts(folder, section_ids)
        intro = excerpts.load_intro(folder, week)
        vetoed = drops.load_drops(folder, week).urls
    entries, feed_reports = ((stored_entries(state), []) if offline
                             else fetch_and_parse(state, timings))
    with timings.measure("assemble"):
        restore_history(state)
        number = issues.number_for(state.db, week, lambda: {
            i.id: i.number for i in archive.list_issues(config.archive_dir)})
        issue = assemble(config, week, number, now, curated, entries,
                         published.keys_except(state.db, week), intro, vetoed)
    with timings.measure("render"):
        rendered = render_issue(config, issue)
    key = state.key
    with timings.measure("check"):
        report = check_rendered(config, rendered, key)
    with timings.measure("archive"):
        html, text = public_version(config, key, rendered)
        folder = archive.write_issue(config.archive_dir, rendered, html, text)
        issues.record_built(state.db, issue, {e.url: e.guid for e in entries})
    result = BuildResult(issue, rendered, folder, feed_reports, report, timings.stages)
    archive.write_report(config.archive_dir, week,
                         RunReport.of_build(issue, feed_reports, report, timings.stages).to_json())
    return result


def load_rendered(config: Config, week: str) -> RenderedIssue:
    """Re-render a built issue from its issue.json (MJML compiles in well under a millisecond;
    the archived HTML is the public version, without the per-reader tokens)."""
    return render_issue(config, archive.read_issue(config.archive_dir, week))


def archived_result(state: State, week: str, frozen: bool = False) -> BuildResult:
    """The archived issue as a BuildResult (a frozen or approved week is not rebuilt)."""
    config = state.config
    rendered = load_rendered(config, week)
    previous = RunReport.from_json(archive.read_report(config.archive_dir, week) or {})
    return BuildResult(rendered.issue, rendered, archive.issue_dir(config.archive_dir, week),
                       list(previous.feeds), check_rendered(config, rendered, state.key), {},
                       frozen=frozen)


def check_built(state: State, week: str, links: bool = False) -> CheckReport:
    """`digest check`: every pre-flight check of a built issue; `links` also requests each
    outbound link (a failing one is a warning: the web is flaky, the issue is not wrong)."""
    rendered = load_rendered(state.config, week)
    return check_rendered(state.config, rendered, state.key, links=links)
