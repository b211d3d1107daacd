"""`digest schedule`: stay in the foreground and run the weekly job when it is due.

What is due is calendar.decide (pure); this module reads the weeks' state, sleeps, and runs
the job it is given, a callable, so the loop knows nothing of what the job does. The
`schedule` package drives the loop: one job, re-armed after each tick to fire at the next due
instant (capped, so a suspended machine catches up).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from threading import Event

import schedule

from ..config import Config
from ..errors import LockedError, PipelineError
from ..state import issues, ledger
from ..state.db import Database
from ..state.lock import state_lock
from ..weeks import week_id
from .calendar import Decision, WeekState, decide, next_week

# Named as before the move: log shippers may filter on it.
log = logging.getLogger("pipeline.schedule")

# The job: run `action` for `week` at `now`; True when it went well (else it is retried).
Job = Callable[[Decision, datetime], bool]


def week_states(config: Config, now: datetime) -> dict[str, WeekState]:
    """This week's and next week's state, read from the database (opened for the read only:
    the loop holds nothing open while it sleeps)."""
    week = week_id(now, config.newsletter.tz)
    with Database.open(config.db_path) as db:
        states = {}
        for one in (week, next_week(week)):
            rows, open_rows = ledger.progress(db, one)
            states[one] = WeekState(issues.status(db, one), rows > 0, open_rows)
        return states


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

    def __init__(self, config: Config, stop: Event, job: Job,
                 clock: Callable[[], datetime] = utc_clock, max_sleep: float = MAX_SLEEP) -> None:
        self.config = config
        self.stop = stop
        self.job = job
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
        decision = decide(self.config, now, week_states(self.config, now))
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
        decision = decide(self.config, now, week_states(self.config, now), ignore)
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
        log.info("%s: %s (%s)", decision.week, decision.action, decision.reason)
        try:
            with state_lock(self.config, f"digest schedule ({decision.action} {decision.week})"):
                ok = self.job(decision, now)
        except LockedError as exc:
            log.warning("%s; retrying in %s", exc.message, RETRY_LOCKED)
            self.retry_at[decision.week] = now + RETRY_LOCKED
            return
        except PipelineError as exc:
            log.error("%s failed: %s%s; retrying in %s", decision.week, exc.message,
                      f" (hint: {exc.hint})" if exc.hint else "", RETRY_FAILED)
            self.retry_at[decision.week] = now + RETRY_FAILED
            return
        self.jobs_run += 1  # its outcome is logged by the job (report.log_outcome)
        if not ok and not self.stop.is_set():
            self.retry_at[decision.week] = now + RETRY_FAILED

    def _seconds_to_next(self) -> float:
        now = self.clock()
        upcoming = decide(self.config, now, week_states(self.config, now),
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
