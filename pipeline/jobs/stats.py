"""Click and growth figures from the state: `digest stats`, the editor's report, the source
weights of `[issue] learn_from_clicks`, and `settle`, which keeps the reasons of settled clicks
and drops what privacy says to drop.

An issue's clicks are classified (tracking/classify.py) whenever they are read, against the
issue's link table (rebuilt from its issue.json) and the moment its send began (the ledger):
the same rows always give the same figures. Clicks from before the send began come from test
copies and previews: not counted. `keep_days` after the send began, `settle` keeps the issue's
totals (stats.WeekStats) and deletes its rows, and with them every delivery part.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from ..archive import files as archive
from ..errors import ArchiveError, UsageError
from ..issue.links import tracked_links
from ..state import clicks, events, issues, ledger, subscribers
from ..state.handle import State
from ..state.statuses import IssueStatus
from ..stats import (
    GrowthRow,
    SubscriberEvent,
    WeekStats,
    editor_results,
    growth_rows,
    recent_weeks,
    source_weights,
    week_stats,
)
from ..tracking import ClassifiedClick, ClickEvent, classify_clicks
from ..weeks import parse_week, week_id

LEARN_FROM_ISSUES = 8  # learn_from_clicks: the source weights of the last issues


@dataclass(frozen=True)
class IssueClicks:
    stats: WeekStats
    reasons: dict[str, int]  # machine clicks per reason (a click may have several)


def _at(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # stored in UTC


def tracked_weeks(state: State) -> list[str]:
    """Weeks whose send began (sending or sent), or whose totals are kept; oldest first."""
    began = {week for week, status in issues.statuses(state.db).items()
             if status in (IssueStatus.SENDING, IssueStatus.SENT)}
    return sorted(began | set(clicks.totals(state.db)))


def _classified(state: State, week: str) -> tuple[list[clicks.ClickRow],
                                                   tuple[ClassifiedClick, ...]]:
    began = ledger.send_began(state.db, week)
    start = _at(began) if began else None
    rows = [r for r in clicks.for_issue(state.db, week) if start is None or _at(r.at) >= start]
    events_ = [ClickEvent(r.delivery, r.link_index, _at(r.at), r.user_agent, r.method)
               for r in rows]
    return rows, classify_clicks(events_, start, state.now)


def issue_clicks(state: State, week: str) -> IssueClicks | None:
    """The week's figures: from its raw clicks, or the totals kept once they were dropped;
    None for a week with neither and no archived issue."""
    kept = clicks.totals(state.db).get(week)
    if kept is not None:  # the raw clicks were dropped (a late one is not counted)
        return IssueClicks(WeekStats.from_json(kept["stats"]), dict(kept.get("reasons", {})))
    rows, classified = _classified(state, week)
    try:
        issue = archive.read_issue(state.config.archive_dir, week)
    except ArchiveError:
        return None
    stats = week_stats(week, ledger.sent_count(state.db, week),
                       tracked_links(state.config, issue), classified)
    reasons = Counter(reason.value for c in classified if not c.human for reason in c.reasons)
    return IssueClicks(stats, dict(sorted(reasons.items())))


def history(state: State, last: str, count: int) -> list[WeekStats]:
    """The figures of up to `count` tracked issues ending with `last`, oldest first."""
    weeks = [w for w in tracked_weeks(state) if w <= last][-count:]
    found = (issue_clicks(state, week) for week in weeks)
    return [f.stats for f in found if f is not None]


def _monday(week: str, state: State) -> datetime:
    year, number = parse_week(week)
    return datetime.combine(date.fromisocalendar(year, number, 1), time(0),
                            tzinfo=state.config.newsletter.tz)


def growth(state: State, last: str, count: int) -> tuple[GrowthRow, ...]:
    """Confirmed, unsubscribed, bounced, complained, net and size per week, `count` weeks
    ending with `last`. A change counts when it moves a reader into or out of the active
    list: a pending signup that unsubscribes, a bounced address that complains, do not."""
    weeks = recent_weeks(last, count)
    tz = state.config.newsletter.tz
    moves: list[SubscriberEvent] = []
    for event in events.between(state.db, _monday(weeks[0], state), state.now + timedelta(1)):
        joined = event.status == "active" and event.previous != "active"
        left = event.previous == "active" and event.status in ("unsubscribed", "bounced",
                                                                "complained")
        if joined or left:
            moves.append(SubscriberEvent("confirmed" if joined else event.status, _at(event.at)))
    active = len(subscribers.list_subscribers(state.db, "active"))
    # Events after `now` (a pinned clock) are in the future of these figures: not counted.
    moves = [m for m in moves if m.at <= state.now]
    return growth_rows(moves, weeks, tz, active)


def default_week(state: State) -> str:
    """The latest tracked week up to this one (the newsletter's time zone)."""
    this_week = week_id(state.now, state.config.newsletter.tz)
    weeks = [w for w in tracked_weeks(state) if w <= this_week]
    if not weeks:
        raise UsageError("no issue has been sent yet: there are no statistics",
                         hint="`digest run` sends the weekly issue; `--week W` names another")
    return weeks[-1]


def source_weights_before(state: State, week: str) -> dict[str, float]:
    """learn_from_clicks: the source weights of the last issues sent before `week`."""
    earlier = [w for w in tracked_weeks(state) if w < week][-LEARN_FROM_ISSUES:]
    found = (issue_clicks(state, w) for w in earlier)
    return source_weights([f.stats for f in found if f is not None])


@dataclass(frozen=True)
class Settled:
    classified: int  # clicks whose class and reasons were stored
    pruned: dict[str, int]  # week → raw clicks deleted (their totals kept)
    keys_dropped: list[str]


def settle(state: State) -> Settled:
    """Store the class and reasons of every settled click; drop the click key of every
    issue whose send is complete; `keep_days` after an issue's send began, keep its totals
    and delete its clicks (and their delivery parts)."""
    db, keep = state.db, timedelta(days=state.config.tracking.keep_days)
    sent = issues.sent(db)
    dropped = [week for week in clicks.click_keys(db)
               if week in sent and clicks.drop_key(db, week)]
    stored, pruned = 0, {}
    kept = clicks.totals(db)
    for week in clicks.issues_with_clicks(db):
        if week in kept:  # a click after its totals were kept: not counted, not kept
            pruned[week] = clicks.save_totals(db, week, kept[week])
            continue
        rows, classified = _classified(state, week)
        new = [(row.id, c.kind, ",".join(c.reasons)) for row, c in zip(rows, classified,
                                                                         strict=True)
               if c.settled and row.kind is None and row.id is not None]
        clicks.set_classes(db, new)
        stored += len(new)
        began = ledger.send_began(db, week)
        if began and state.now - _at(began) > keep:
            found = issue_clicks(state, week)
            if found is not None:
                pruned[week] = clicks.save_totals(db, week, {"stats": found.stats.to_json(),
                                                             "reasons": found.reasons})
    return Settled(stored, pruned, dropped)


def stats_json_extra(found: IssueClicks) -> dict[str, Any]:
    return {"machine_reasons": found.reasons}


GROWTH_WEEKS = 4  # the editor's report: growth of the last weeks


def last_results(state: State, week: str) -> dict[str, Any]:
    """The editor's report of `week`: the last issue sent before it (its clicks, when they
    were tracked), the feeds never clicked, growth up to this week."""
    earlier = [w for w in tracked_weeks(state) if w < week]
    found = issue_clicks(state, earlier[-1]) if earlier else None
    tracked = found is not None and (state.config.tracking.clicks != "off"
                                     or found.stats.human + found.stats.machine > 0)
    recent = history(state, earlier[-1], LEARN_FROM_ISSUES) if tracked else []
    return editor_results(found.stats if tracked and found else None, recent,
                          growth(state, week, GROWTH_WEEKS))
