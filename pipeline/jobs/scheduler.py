"""When the weekly job is due, and the week's state in SQLite (approved, skipped, sent).

`decide(config, now, states)` is a pure function: the clock and the state are arguments, so
tests move the clock across a daylight-saving change without sleeping. Due times are computed
with zoneinfo (a wall time in `newsletter.timezone` → an aware datetime), not with `schedule`'s
own `.at(time, tz)`: that needs pytz, and DST arithmetic is easier to prove on plain aware
datetimes. The `schedule` package drives the loop (`ScheduleLoop`): one job, re-armed after each
tick to fire at the next due instant computed here (capped, so a suspended machine catches up).
"""

from __future__ import annotations

import logging
import signal
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from threading import Event
from typing import Literal
from zoneinfo import ZoneInfo

import schedule

from ..config import WEEKDAYS, Config
from ..errors import CheckFailed, LockedError, PipelineError, UsageError
from ..state.db import open_db, transaction, utcnow
from ..weeks import parse_week, week_day, week_id, week_start

# Named as before the move: log shippers may filter on it.
log = logging.getLogger("pipeline.schedule")

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


# --------------------------------------------------------------------------- week state


@dataclass(frozen=True)
class WeekState:
    status: str | None = None  # issues.status; None when nothing was built for the week
    started: bool = False  # delivery has started (ledger rows exist)
    queued: int = 0  # ledger rows still queued or in flight

    @property
    def done(self) -> bool:
        """Nothing left to do for this week: sent, skipped, or every ledger row settled."""
        return self.status in ("sent", "skipped") or (self.started and self.queued == 0)


def load_states(conn: sqlite3.Connection, weeks: Iterable[str]) -> dict[str, WeekState]:
    states = {}
    for week in weeks:
        row = conn.execute("SELECT status FROM issues WHERE id = ?", (week,)).fetchone()
        counts = conn.execute(
            "SELECT count(*), coalesce(sum(status IN ('queued', 'sending')), 0)"
            " FROM deliveries WHERE issue_id = ?", (week,)).fetchone()
        states[week] = WeekState(row[0] if row else None, counts[0] > 0, counts[1])
    return states


def week_status(conn: sqlite3.Connection, week: str) -> str | None:
    row = conn.execute("SELECT status FROM issues WHERE id = ?", (week,)).fetchone()
    return row[0] if row else None


def mark_skipped(conn: sqlite3.Connection, week: str) -> None:
    """Skip a week: its items leave the history (`published`) so the next issue can carry them."""
    with transaction(conn):
        conn.execute("UPDATE issues SET status = 'skipped' WHERE id = ?", (week,))
        conn.execute("DELETE FROM published WHERE issue_id = ?", (week,))


def skipped_weeks_before(conn: sqlite3.Connection, week: str, limit: int = 8) -> int:
    """How many weeks right before `week` were skipped (their feed items roll over)."""
    count = 0
    for _ in range(limit):
        week = previous_week(week)
        if week_status(conn, week) != "skipped":
            break
        count += 1
    return count


def approve(config: Config, week: str, check_ok: bool) -> str:
    """Mark a built draft as approved for sending; returns what happened."""
    parse_week(week)
    conn = open_db(config.db_path)
    try:
        status = week_status(conn, week)
        if status is None:
            raise UsageError(f"issue {week} has not been built",
                             hint=f"run `digest build --week {week}` first, review it, approve")
        if status == "approved":
            return "already approved"
        if status in ("sent", "sending"):
            raise UsageError(f"issue {week} is already {status}; nothing to approve")
        if status == "skipped":
            raise UsageError(f"issue {week} was skipped; its items roll over to the next issue",
                             hint="approve the next week's draft instead")
        if not check_ok:
            raise CheckFailed(f"issue {week} fails its check and cannot be approved",
                              hint=f"run `digest check --week {week}` and fix the issue")
        with transaction(conn):
            conn.execute("UPDATE issues SET status = 'approved', approved_at = ? WHERE id = ?",
                         (utcnow(), week))
        return "approved"
    finally:
        conn.close()


# --------------------------------------------------------------------------- decisions


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


def states_for(config: Config, now: datetime) -> dict[str, WeekState]:
    week = week_id(now, config.newsletter.tz)
    conn = open_db(config.db_path)
    try:
        return load_states(conn, [week, next_week(week)])
    finally:
        conn.close()


# --------------------------------------------------------------------------- the loop

RETRY_LOCKED = timedelta(minutes=1)  # another command holds the lock: it is usually quick
RETRY_FAILED = timedelta(hours=1)  # the job failed (relay down …): no hammering, no mail flood
MAX_SLEEP = 300.0  # re-decide at least this often: wall-clock jumps, suspend, config edits


def utc_clock() -> datetime:
    return datetime.now(UTC)


class ScheduleLoop:
    """`digest schedule`: stay in the foreground, run the weekly job when it is due.

    The state lock is taken only while a job runs, so `digest approve`, `subscribers add` and
    friends work while the scheduler sleeps. `stop` (set by SIGTERM/SIGINT) ends the loop; a
    job in progress finishes the message in flight and stops (the ledger resumes it later).
    """

    def __init__(self, config: Config, stop: Event, clock: Callable[[], datetime] = utc_clock,
                 max_sleep: float = MAX_SLEEP) -> None:
        self.config = config
        self.stop = stop
        self.clock = clock
        self.max_sleep = max_sleep
        self.ignore: set[str] = set()
        self.retry_at: dict[str, datetime] = {}
        self.jobs_run = 0
        self._last_logged: str | None = None
        self._scheduler = schedule.Scheduler()

    def start(self) -> Decision:
        """The first decision: a job missed while we were down runs at once unless
        run_missed_on_start = false, in which case that week waits for next week."""
        now = self.clock()
        decision = decide(self.config, now, states_for(self.config, now))
        if decision.action in ("run", "send", "skip"):
            if self.config.schedule.run_missed_on_start:
                log.info("%s was due at %s and has not run: running it now", decision.week,
                         decision.due.isoformat())
            else:
                log.warning("%s was due at %s and has not run; run_missed_on_start = false, "
                            "so it waits (run `digest run --week %s` to send it)",
                            decision.week, decision.due.isoformat(), decision.week)
                self.ignore.add(decision.week)
        return decision

    def tick(self) -> Decision:
        now = self.clock()
        for week, when in list(self.retry_at.items()):
            if now >= when:
                del self.retry_at[week]
        ignore = self.ignore | set(self.retry_at)
        decision = decide(self.config, now, states_for(self.config, now), ignore)
        if decision.action == "wait":
            self._log_next(decision)
            return decision
        self._execute(decision, now)
        return decision

    def _log_next(self, decision: Decision) -> None:
        text = decision.describe(self.config.newsletter.tz)
        if text != self._last_logged:  # once per change, not at every wake-up
            log.info(text, extra={"fields": {"next_week": decision.week,
                                             "next_due": decision.due.isoformat()}})
            self._last_logged = text

    def _execute(self, decision: Decision, now: datetime) -> None:
        from ..state.lock import state_lock
        from .weekly import run_job

        log.info("%s: %s (%s)", decision.week, decision.action, decision.reason)
        try:
            with state_lock(self.config, f"digest schedule ({decision.action} {decision.week})"):
                outcome = run_job(self.config, decision.week, now, should_stop=self.stop.is_set)
        except LockedError as exc:
            log.warning("%s; retrying in %s", exc.message, RETRY_LOCKED)
            self.retry_at[decision.week] = now + RETRY_LOCKED
            return
        except PipelineError as exc:
            log.error("%s failed: %s%s; retrying in %s", decision.week, exc.message,
                      f" (hint: {exc.hint})" if exc.hint else "", RETRY_FAILED)
            self.retry_at[decision.week] = now + RETRY_FAILED
            return
        self.jobs_run += 1  # its outcome is logged by run_job (report.log_outcome)
        if not outcome.ok and not self.stop.is_set():
            self.retry_at[decision.week] = now + RETRY_FAILED

    def _seconds_to_next(self) -> float:
        now = self.clock()
        upcoming = decide(self.config, now, states_for(self.config, now),
                          self.ignore | set(self.retry_at))
        if upcoming.action == "wait":
            self._log_next(upcoming)
        due = [upcoming.due, *self.retry_at.values()]
        # In UTC: subtracting two datetimes of one zone ignores a DST change between them.
        ahead = min((d.astimezone(UTC) - now.astimezone(UTC)).total_seconds() for d in due)
        return min(max(ahead, 1.0), self.max_sleep)

    def _job(self):
        self.tick()
        self._arm()
        return schedule.CancelJob  # re-armed above with the next interval

    def _arm(self) -> None:
        if not self.stop.is_set():
            self._scheduler.every(self._seconds_to_next()).seconds.do(self._job)

    def run_forever(self) -> int:
        """Loop until `stop` is set. Returns the number of jobs run."""
        self.start()
        self.tick()
        self._arm()
        while not self.stop.is_set():
            self._scheduler.run_pending()
            idle = self._scheduler.idle_seconds
            self.stop.wait(min(max(idle if idle is not None else 1.0, 0.05), 1.0))
        self._scheduler.clear()
        log.info("schedule stopped")
        return self.jobs_run


@contextmanager
def stop_on_signals() -> Iterator[Event]:
    """An Event set by SIGTERM or SIGINT (the message in flight finishes, then we stop
    cleanly). The previous handlers come back on exit; off the main thread, signals stay
    as they are."""
    stop = Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, _frame) -> None:
        log.warning("%s received: finishing the message in flight, then stopping",
                    signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
