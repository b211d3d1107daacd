"""List growth per ISO week from the subscriber events already kept (confirmations,
unsubscribes, bounces, complaints)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from ..weeks import parse_week, week_id

EventKind = Literal["confirmed", "unsubscribed", "bounced", "complained"]
KINDS: tuple[EventKind, ...] = ("confirmed", "unsubscribed", "bounced", "complained")


@dataclass(frozen=True)
class SubscriberEvent:
    kind: EventKind
    at: datetime  # timezone-aware

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"subscriber event kind {self.kind!r} is not one of "
                             f"{', '.join(KINDS)}")


@dataclass(frozen=True)
class GrowthRow:
    week: str
    confirmed: int
    unsubscribed: int
    bounced: int
    complained: int
    net: int  # confirmed − unsubscribed − bounced − complained
    size: int  # active readers at the end of the week

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def recent_weeks(last: str, count: int) -> tuple[str, ...]:
    """The `count` ISO weeks ending with `last`, oldest first."""
    year, number = parse_week(last)
    monday = date.fromisocalendar(year, number, 1)
    days = (monday - timedelta(weeks=back) for back in range(count - 1, -1, -1))
    return tuple(f"{d.isocalendar().year}-W{d.isocalendar().week:02d}" for d in days)


def growth_rows(events: Sequence[SubscriberEvent], weeks: Sequence[str], tz: ZoneInfo,
                size_now: int) -> tuple[GrowthRow, ...]:
    """One row per week of `weeks` (ascending). Sizes are counted back from `size_now` (the
    active readers today, known exactly), so `events` must hold every event since the first
    of `weeks`; older ones are ignored."""
    counts: dict[str, Counter[str]] = {week: Counter() for week in weeks}
    later = 0  # net change after the last week: between its end and now
    last = weeks[-1] if weeks else ""
    for event in events:
        week = week_id(event.at, tz)
        if week in counts:
            counts[week][event.kind] += 1
        elif week > last:
            later += 1 if event.kind == "confirmed" else -1
    rows: list[GrowthRow] = []
    size = size_now - later
    for week in reversed(weeks):
        c = counts[week]
        net = c["confirmed"] - c["unsubscribed"] - c["bounced"] - c["complained"]
        rows.append(GrowthRow(week, c["confirmed"], c["unsubscribed"], c["bounced"],
                              c["complained"], net, size))
        size -= net
    return tuple(reversed(rows))
