"""Shared data for the click-tracking and stats tests: a small issue, its link table, and a
few weeks of simulated clicks (readers, a Safe Links-like scanner) made with the real token,
classification and stats functions."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from pipeline.models import Issue, Item, Section
from pipeline.stats import WeekStats, week_stats
from pipeline.tokens import reader_ref
from pipeline.tracking import (
    TRAP_INDEX,
    ClickEvent,
    TrackedLink,
    classify_clicks,
    delivery_hash,
    link_table,
)

KEY = b"k" * 32
CLICK_KEY = b"c" * 32
BASE = "https://digest.example.com"
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/146.0.0.0 Safari/537.36")
SAFARI = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1")


def item(n: int, source: str, url: str | None = None, kind: str = "feed") -> Item:
    return Item(id=f"item-{n}", kind=kind, title=f"Article {n} from {source}",  # type: ignore[arg-type]
                url=url or f"https://{source.lower().replace(' ', '')}.example.org/a/{n}",
                source=source, author=None, published=None, excerpt="…", note=None)


def sample_issue(week: str = "2026-W48", number: int = 48) -> Issue:
    """Three sections, 8 items from 4 sources; item 4 quotes the same article as item 3 and
    item 8 links to the newsletter's own archive (not tracked)."""
    return Issue(
        id=week, number=number, date=date(2026, 11, 26), subject="s", preheader="p",
        sections=(
            Section("career", "Career growth", (
                item(1, "Lenny"), item(2, "Mind the Product"), item(3, "Lenny"),
                item(4, "Lenny", url="https://lenny.example.org/a/3"))),
            Section("craft", "Product craft", (item(5, "SVPG"), item(6, "Quiet Feed"))),
            Section("sponsor", "Sponsored", (
                item(7, "Acme", kind="curated"),
                item(8, "Digest", url=f"{BASE}/issues/2026-W47/", kind="curated"))),
        ))


def delivery(n: int, week: str = "2026-W48") -> str:
    return delivery_hash(CLICK_KEY, week, reader_ref(f"reader{n}@example.com"))


def simulate_week(week: str, readers: int, seed: int, sent: datetime
                  ) -> tuple[tuple[TrackedLink, ...], list[ClickEvent]]:
    """Readers click a few links minutes to days apart (Quiet Feed's never); every fifth
    reader's mail goes through a scanner that fetches every link, the trap first, within 2 s,
    half a minute after sending."""
    rng = random.Random(seed)
    table = link_table(sample_issue(week), BASE)
    wanted = [link for link in table if link.source != "Quiet Feed"]
    events: list[ClickEvent] = []
    for n in range(readers):
        d = delivery(n, week)
        if n % 5 == 0:
            start = sent + timedelta(seconds=30 + rng.random() * 60)
            events.append(ClickEvent(d, TRAP_INDEX, start, CHROME))
            events += [ClickEvent(d, link.index, start + timedelta(seconds=0.1 * i), CHROME)
                       for i, link in enumerate(table, 1)]
        if rng.random() < 0.4:
            at = sent + timedelta(hours=1 + rng.random() * 48)
            for link in rng.sample(wanted, rng.randint(1, 2)):
                at += timedelta(minutes=2 + rng.random() * 20)
                events.append(ClickEvent(d, link.index, at, rng.choice((CHROME, SAFARI))))
    return table, events


def sample_history(weeks: tuple[str, ...], readers: int = 200) -> tuple[WeekStats, ...]:
    history = []
    for i, week in enumerate(weeks):
        sent = datetime(2026, 10, 1, 8, tzinfo=UTC) + timedelta(weeks=i)
        table, events = simulate_week(week, readers + 10 * i, i, sent)
        clicks = classify_clicks(events, sent, sent + timedelta(days=7))
        history.append(week_stats(week, readers + 10 * i, table, clicks))
    return tuple(history)
