"""The editor's desk where it meets the state (`digest candidates`, `digest desk`): a week's
review from the stored feed entries (no network: `digest fetch` refreshes them), the curated
folder and the week's vetoes; its preview in the reader-neutral public version; approval of
exactly the issue the editor looked at. The edits themselves are jobs/edits.py."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ..archive import files as archive
from ..config import Config
from ..curation import drops, excerpts
from ..errors import UsageError
from ..issue.assemble import assemble
from ..issue.candidates import Review, as_sent, review
from ..issue.render import render_issue
from ..mail.check import CheckReport, check_rendered
from ..mail.compose import public_version
from ..models import CuratedExcerpt, Entry, Issue
from ..state import issues, published
from ..state.handle import State
from ..state.statuses import IssueStatus
from ..weeks import parse_week, week_id
from . import guard
from .build import build, stored_entries
from .calendar import send_at
from .weekly import approve, rollover_config


@dataclass(frozen=True)
class WeekReview:
    """A week as the desk shows it."""

    week: str
    review: Review
    excerpts: tuple[CuratedExcerpt, ...]  # every excerpt file, as read
    drops: drops.Drops
    status: IssueStatus | None
    frozen: bool  # delivery started: the archived issue, no edits
    archived: Issue | None  # the issue readers got (frozen weeks)
    config: Config  # the config the week assembles with (the lookback after skipped weeks)

    @property
    def issue(self) -> Issue:
        return self.archived if self.archived is not None else self.review.issue

    @property
    def approval(self) -> bool:
        return self.config.schedule.mode == "approval"

    @property
    def can_approve(self) -> bool:
        return self.approval and not self.frozen and self.status not in (
            IssueStatus.SENT, IssueStatus.SENDING, IssueStatus.SKIPPED, IssueStatus.APPROVED)


def upcoming_week(config: Config, now: datetime) -> str:
    """The next issue to go out: this week's until its send time, then the next one's."""
    week = week_id(now, config.newsletter.tz)
    if now >= send_at(config, week):
        week = week_id(send_at(config, week) + timedelta(days=7), config.newsletter.tz)
    return week


@dataclass(frozen=True)
class _Inputs:
    """What the build would assemble the week from now (without fetching)."""

    config: Config
    excerpts: list[CuratedExcerpt]
    vetoes: drops.Drops
    number: int
    published_keys: set[str]
    intro: str | None
    entries: list[Entry]


def _inputs(state: State, week: str) -> _Inputs:
    parse_week(week)
    config = rollover_config(state, week)
    folder = config.existing_curated_dir()
    number = issues.number_for(state.db, week, lambda: {
        i.id: i.number for i in archive.list_issues(config.archive_dir)})
    return _Inputs(config, excerpts.load_excerpts(folder, {s.id for s in config.sections}),
                   drops.load_drops(folder, week), number,
                   published.keys_except(state.db, week), excerpts.load_intro(folder, week),
                   stored_entries(state))


def load_review(state: State, week: str) -> WeekReview:
    """The week's draft and candidates as the build would assemble them now."""
    found = _inputs(state, week)
    result = review(found.config, week, found.number, state.now, found.excerpts, found.entries,
                    found.published_keys, found.vetoes.reasons, found.intro)
    frozen = guard.started(state, week)
    archived = archive.read_issue(found.config.archive_dir, week) if frozen else None
    if archived is not None:
        result = replace(result, rows=as_sent(result.rows, archived))
    return WeekReview(week, result, tuple(found.excerpts), found.vetoes,
                      issues.status(state.db, week), frozen, archived, found.config)


def draft_issue(state: State, week: str) -> Issue:
    """Only the issue of load_review (the preview's): the archived one once delivery began."""
    if guard.started(state, week):
        return archive.read_issue(state.config.archive_dir, week)
    found = _inputs(state, week)
    return assemble(found.config, week, found.number, state.now, found.excerpts, found.entries,
                    found.published_keys, found.intro, found.vetoes.urls)


def preview(state: State, issue: Issue) -> tuple[str, str, CheckReport]:
    """The issue as readers would get it, reader-neutral (the archive's public version: no
    address, no personal link): HTML, text, and the pre-flight check of the message."""
    config = state.config
    rendered = render_issue(config, issue)
    html, text = public_version(config, state.key, rendered)
    return html, text, check_rendered(config, rendered, state.key)


def approve_reviewed(state: State, week: str) -> str:
    """The desk's Approve: build the week from the stored entries (the issue the editor saw,
    not a fresh fetch), then `digest approve`'s own operation. Hold the edit lock."""
    config = state.config
    if config.schedule.mode != "approval":
        raise UsageError('approval is off: [schedule] mode = "auto" sends what the build makes',
                         hint='set [schedule] mode = "approval" to approve issues first')
    if guard.started(state, week):
        raise UsageError(f"issue {week} is already being delivered; nothing to approve")
    if issues.status(state.db, week) == IssueStatus.SKIPPED:
        return approve(state, week)  # refused there, with its reason: the items rolled over
    build(state, week, rollover_config(state, week), offline=True)
    return approve(state, week)
