"""Scheduling decisions with an injected clock: no sleeping, across both 2026 DST changes in
America/New_York (2026-03-08 spring forward, 2026-11-01 fall back)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from pipeline.jobs.calendar import WeekState, build_at, decide, next_week, send_at, wall_time
from tests.conftest import make_newsletter

NY = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def config(tmp_path):
    return make_newsletter(tmp_path / "news", curated=False).config()


def with_schedule(config, **kwargs):
    return replace(config, schedule=replace(config.schedule, **kwargs))


def test_send_time_keeps_local_wall_time_across_fall_back(config):
    # Monday 07:00 New York: 11:00 UTC under EDT, 12:00 UTC after the 2026-11-01 fall back.
    before, after = send_at(config, "2026-W44"), send_at(config, "2026-W45")
    assert before == utc(2026, 10, 26, 11, 0)
    assert after == utc(2026, 11, 2, 12, 0)
    assert before.astimezone(NY).hour == after.astimezone(NY).hour == 7
    # Elapsed time, not wall-clock difference (same-tzinfo subtraction ignores the offset).
    elapsed = after.astimezone(UTC) - before.astimezone(UTC)
    assert elapsed.total_seconds() == 7 * 86400 + 3600  # that week has 169 hours


def test_send_time_across_spring_forward(config):
    assert send_at(config, "2026-W10") == utc(2026, 3, 2, 12, 0)  # EST
    assert send_at(config, "2026-W11") == utc(2026, 3, 9, 11, 0)  # EDT after 2026-03-08


def test_wall_times_in_the_gap_and_the_overlap():
    from datetime import date

    # 02:30 does not exist on 2026-03-08: it happens at 03:30 EDT (07:30 UTC).
    gap = wall_time(date(2026, 3, 8), "02:30", NY)
    assert gap.astimezone(UTC) == utc(2026, 3, 8, 7, 30)
    assert (gap.hour, gap.minute, gap.tzname()) == (3, 30, "EDT")
    # 01:30 happens twice on 2026-11-01: the first one (EDT) is taken, and only once.
    overlap = wall_time(date(2026, 11, 1), "01:30", NY)
    assert overlap.astimezone(UTC) == utc(2026, 11, 1, 5, 30)


def test_auto_mode_waits_then_runs_then_waits_for_next_week_across_dst(config):
    config = with_schedule(config, weekday="monday", time="07:00")
    # Sunday 2026-11-01 10:00 UTC (after the fall back), week 2026-W44 already sent.
    now = utc(2026, 11, 1, 10, 0)
    states = {"2026-W44": WeekState("sent", True, 0)}
    decision = decide(config, now, states)
    assert (decision.action, decision.week) == ("wait", "2026-W45")
    assert decision.due == utc(2026, 11, 2, 12, 0)  # 07:00 EST, not 11:00 UTC
    assert "07:00 EST" in decision.describe(NY)
    # One minute early: still waiting. On time: run.
    assert decide(config, utc(2026, 11, 2, 11, 59), {}).action == "wait"
    due = decide(config, utc(2026, 11, 2, 12, 0), {})
    assert (due.action, due.week) == ("run", "2026-W45")
    # Later that week, once sent, nothing until the next Monday.
    later = decide(config, utc(2026, 11, 4, 9, 0), {"2026-W45": WeekState("sent", True, 0)})
    assert (later.action, later.week, later.due) == ("wait", "2026-W46", utc(2026, 11, 9, 12))


def test_missed_week_is_due_until_done_and_can_be_ignored(config):
    now = utc(2026, 11, 27, 15, 0)  # Friday of 2026-W48; Monday's run never happened
    assert decide(config, now, {}).action == "run"
    # A crash mid-send left rows queued: still due (the ledger resumes it).
    assert decide(config, now, {"2026-W48": WeekState("built", True, 5)}).action == "run"
    assert decide(config, now, {"2026-W48": WeekState("built", True, 0)}).action == "wait"
    assert decide(config, now, {"2026-W48": WeekState("skipped")}).action == "wait"
    ignored = decide(config, now, {}, ignore={"2026-W48"})
    assert (ignored.action, ignored.week) == ("wait", "2026-W49")


def test_approval_mode_builds_a_draft_then_sends_only_when_approved(config):
    config = with_schedule(config, mode="approval", weekday="monday", time="07:00")
    week = "2026-W45"
    # The draft defaults to the day before at the same time: Sunday 07:00, the day of the
    # fall back (12:00 UTC), which is in the previous ISO week.
    assert build_at(config, week) == utc(2026, 11, 1, 12, 0)
    done = {"2026-W44": WeekState("sent", True, 0)}
    early = decide(config, utc(2026, 11, 1, 11, 0), done)
    assert (early.action, early.week, early.reason) == ("wait", week, "next draft due")
    build = decide(config, utc(2026, 11, 1, 12, 0), done)
    assert (build.action, build.week) == ("build", week)
    drafted = {**done, week: WeekState("built")}
    waiting = decide(config, utc(2026, 11, 1, 12, 5), drafted)
    assert (waiting.action, waiting.due) == ("wait", utc(2026, 11, 2, 12, 0))
    at_send = utc(2026, 11, 2, 12, 0)
    assert decide(config, at_send, {week: WeekState("built")}).action == "skip"
    never_drafted = decide(config, at_send, {week: WeekState(None)})
    assert (never_drafted.action, never_drafted.week) == ("wait", "2026-W46")
    assert decide(config, at_send, {week: WeekState("approved")}).action == "send"
    # An approved issue whose send crashed halfway resumes.
    assert decide(config, at_send, {week: WeekState("approved", True, 3)}).action == "run"


def test_build_time_is_the_last_one_before_the_send(config):
    config = with_schedule(config, mode="approval", weekday="monday", time="07:00",
                           build_weekday="friday", build_time="16:30")
    assert build_at(config, "2026-W11") == datetime(2026, 3, 6, 16, 30, tzinfo=NY)
    same_day = with_schedule(config, build_weekday="monday", build_time="09:00")
    # Monday 09:00 is after the Monday 07:00 send: the draft is the Monday before.
    assert build_at(same_day, "2026-W11") == datetime(2026, 3, 2, 9, 0, tzinfo=NY)


def test_iso_week_arithmetic_over_the_year_end():
    assert next_week("2026-W53") == "2027-W01"
    assert next_week("2027-W52") == "2028-W01"
