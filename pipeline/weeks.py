"""ISO weeks in the newsletter's time zone."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from .config import WEEKDAYS
from .errors import UsageError

WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")


def week_id(moment: datetime, tz: ZoneInfo) -> str:
    year, week, _ = moment.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"


def parse_week(text: str) -> tuple[int, int]:
    match = WEEK_RE.match(text)
    if not match:
        raise UsageError(f"--week {text!r} is not an ISO week", hint="use the form 2026-W48")
    year, week = int(match.group(1)), int(match.group(2))
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError as exc:
        raise UsageError(f"--week {text!r}: {year} has no week {week}",
                         hint="ISO years have 52 or 53 weeks") from exc
    return year, week


def week_day(week: str, weekday: str) -> date:
    """The date of `weekday` (e.g. 'monday') in ISO week `week`."""
    year, number = parse_week(week)
    return date.fromisocalendar(year, number, WEEKDAYS.index(weekday) + 1)


def week_start(week: str, tz: ZoneInfo) -> datetime:
    year, number = parse_week(week)
    return datetime.combine(date.fromisocalendar(year, number, 1), datetime.min.time(), tz)



def parse_now(text: str | None) -> datetime:
    """`--now` as an aware datetime (UTC when the text has no offset); the wall clock if None."""
    if text is None:
        return datetime.now(tz=ZoneInfo("UTC"))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"--now {text!r} is not an ISO-8601 date-time",
                         hint="e.g. 2026-11-26T08:00:00+00:00") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment


def utcnow() -> str:
    """The wall clock in UTC, to the second, as stored in the database and delivery.json."""
    return datetime.now(tz=UTC).isoformat(timespec="seconds")
