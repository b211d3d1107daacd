"""Publication dates from feeds: the ones feedparser misreads without warning are re-read, and
implausible ones (before feeds existed, or in the future at the build's `now`) are dropped."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from feedparser.datetimes import _parse_date as feedparser_date

EARLIEST = datetime(1995, 1, 1, tzinfo=UTC)  # before any feed format existed
FUTURE_SLACK = timedelta(hours=36)  # time-zone slips; later than this is a wrong date

_SLASH_DATE = re.compile(
    r"^\s*(\d{4})/(\d{1,2})/(\d{1,2})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*$")
_MERIDIEM = re.compile(r"\b(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp])\.?[Mm]\.?(?=\s|$)")


def parse_date(text: str | None, parsed: Any = None) -> datetime | None:
    """A date string feedparser may have misread, else feedparser's struct_time, in UTC.

    feedparser reads "2020/1/10 14:33:00" as 1 Nov 2020 and drops the PM of
    "Sat, Dec 16 2023 02:02:33 PM", both without a warning. Dates without a zone are UTC."""
    if text:
        match = _SLASH_DATE.match(text)
        if match:
            year, month, day, hour, minute, second = (int(g or 0) for g in match.groups())
            try:
                return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
            except ValueError:
                return None
        meridiem = _MERIDIEM.search(text)
        if meridiem:
            hour, minute, second, half = meridiem.groups()
            if not 1 <= int(hour) <= 12:
                return None
            hour24 = int(hour) % 12 + (12 if half in "Pp" else 0)
            zone = text[meridiem.end():].strip() or "GMT"
            return from_struct(feedparser_date(
                f"{text[:meridiem.start()]}{hour24:02d}:{minute}:{second or '00'} {zone}"))
    return from_struct(parsed)


def from_struct(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, TypeError, OSError):
        return None


def iso_date(value: object) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return from_struct(feedparser_date(value))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def plausible(moment: datetime | None, now: datetime) -> datetime | None:
    """`moment` if it can be a publication date seen at `now` (slightly ahead is clamped to
    now: a wrong time zone), else None."""
    if moment is None or moment < EARLIEST:
        return None
    if moment > now:
        return now if moment - now <= FUTURE_SLACK else None
    return moment
