"""When the weekly job is due: pure functions of the config, the clock and the weeks' states.

`decide(config, now, states)` takes the clock and the state as arguments, so tests move the
clock across a daylight-saving change without sleeping. Due times are computed with zoneinfo
(a wall time in `newsletter.timezone` → an aware datetime), not with `schedule`'s own
`.at(time, tz)`: that needs pytz, and DST arithmetic is easier to prove on plain aware
datetimes. The loop that acts on the decisions is scheduler.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from ..config import WEEKDAYS, Config
from ..weeks import week_day, week_id, week_start

Action = Literal["wait", "run", "build", "send", "skip"]


def wall_time(day: date, hhmm: str, tz: ZoneInfo) -> datetime:
    """`hhmm` on `day` in `tz`. A wall time that does not exist (the spring-forward gap) is
    read with the offset before the change, i.e. it happens one hour later on the clock."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
    return local.astimezone(UTC).astimezone(tz)


def send_at(config: Config, week: str) -> datetime:
    """When week `week`'s issue goes out: [schedule] weekday and time in the newsletter's zone."""
    s = config.schedule
    return wall_time(week_day(week, s.weekday), s.time, config.newsletter.tz)


def build_at(config: Config, week: str) -> datetime:
    """When the draft of `week` is built. In auto mode that is the send time. In approval mode it
    is the last build_weekday/build_time strictly before the send time (default: the day before
    the send, same time), so the editor has time to approve; it may fall in the previous week."""
    s = config.schedule
    send = send_at(config, week)
    if s.mode == "auto":
        return send
    weekday = s.build_weekday or WEEKDAYS[(WEEKDAYS.index(s.weekday) - 1) % 7]
    hhmm = s.build_time or s.time
    send_day = send.date()
    for back in range(8):
        day = send_day - timedelta(days=back)
        if WEEKDAYS[day.weekday()] != weekday:
            continue
        moment = wall_time(day, hhmm, config.newsletter.tz)
        if moment < send:
            return moment
    raise AssertionError("unreachable: a weekday recurs within 8 days")  # pragma: no cover


def next_week(week: str) -> str:
    return week_id(week_start(week, ZoneInfo("UTC")) + timedelta(days=7), ZoneInfo("UTC"))


def previous_week(week: str) -> str:
    return week_id(week_start(week, ZoneInfo("UTC")) - timedelta(days=1), ZoneInfo("UTC"))


@dataclass(frozen=True)
class WeekState:
    status: str | None = None  # issues.status; None when nothing was built for the week
    started: bool = False  # delivery has started (ledger rows exist)
    queued: int = 0  # ledger rows still queued or in flight

    @property
    def done(self) -> bool:
        """Nothing left to do for this week: sent, skipped, or every ledger row settled."""
        return self.status in ("sent", "skipped") or (self.started and self.queued == 0)


@dataclass(frozen=True)
class Decision:
    action: Action  # wait | run (auto) | build (approval draft) | send (approved) | skip
    week: str  # the week the action is about (or the next one due, when waiting)
    due: datetime  # when it was due, or when the next event is due (wait)
    reason: str

    def describe(self, tz: ZoneInfo) -> str:
        local = self.due.astimezone(tz)
        when = (f"{local:%A %Y-%m-%d %H:%M} {local.tzname()}"
                f" ({self.due.astimezone(UTC):%H:%M} UTC)")
        return f"{self.reason} for {self.week}: {when}"


def decide(config: Config, now: datetime, states: Mapping[str, WeekState],
           ignore: frozenset[str] | set[str] = frozenset()) -> Decision:
    """What to do at `now`. `states` holds this week's and next week's WeekState; weeks in
    `ignore` (missed on start with run_missed_on_start = false, or waiting for a retry) are
    treated as done."""
    tz = config.newsletter.tz
    approval = config.schedule.mode == "approval"
    week = week_id(now, tz)
    state = states.get(week, WeekState())
    send = send_at(config, week)
    # In approval mode a week that never had a draft has nothing to send or skip.
    no_draft = approval and state.status is None and not state.started
    if now >= send and not state.done and week not in ignore and not no_draft:
        if not approval or state.started:
            return Decision("run", week, send, "weekly job due")
        if state.status == "approved":
            return Decision("send", week, send, "approved issue due")
        return Decision("skip", week, send, "send time reached without approval")
    current_open = now < send and not state.done and week not in ignore
    target = week if current_open else next_week(week)
    target_state = states.get(target, WeekState())
    if approval and target_state.status is None and target not in ignore:
        build = build_at(config, target)
        if now >= build:
            return Decision("build", target, build, "draft due")
        return Decision("wait", target, build, "next draft due")
    return Decision("wait", target, send_at(config, target), "next send due")
