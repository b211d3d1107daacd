"""The stats model (issue 14): unique human clicks per link, section and source (one delivery
clicking a link twice counts once), growth per week, rates over several issues, the source
weights for learn_from_clicks, the feeds nobody clicks and the sponsor's summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pipeline.errors import UsageError
from pipeline.stats import (
    GrowthRow,
    SubscriberEvent,
    WeekStats,
    growth_rows,
    recent_weeks,
    section_rates,
    silent_sources,
    source_rates,
    source_weights,
    sponsor_summary,
    top_links,
    week_stats,
)
from pipeline.tracking import TRAP_INDEX, ClickEvent, classify_clicks, link_table

from .clickdata import BASE, CHROME, SAFARI, delivery, sample_history, sample_issue

SENT = datetime(2026, 11, 26, 8, tzinfo=UTC)
TABLE = link_table(sample_issue(), BASE)  # 1 Lenny, 2 MtP, 3 Lenny, 4 SVPG, 5 Quiet, 6 Acme


def at(minutes: float) -> datetime:
    return SENT + timedelta(minutes=minutes)


def stats_of(events: list[ClickEvent], delivered: int = 100) -> WeekStats:
    clicks = classify_clicks(events, SENT, SENT + timedelta(days=7))
    return week_stats("2026-W48", delivered, TABLE, clicks)


def test_one_delivery_clicking_a_link_twice_counts_once():
    a, b = delivery(1), delivery(2)
    stats = stats_of([ClickEvent(a, 1, at(60), SAFARI), ClickEvent(a, 1, at(90), SAFARI),
                      ClickEvent(a, 3, at(120), SAFARI), ClickEvent(b, 1, at(200), CHROME)])
    by_index = {link.index: link for link in stats.links}
    assert (by_index[1].human, by_index[3].human, by_index[2].human) == (2, 1, 0)
    assert (stats.human, stats.machine, stats.unique_human_clickers) == (3, 0, 2)
    assert stats.click_through == pytest.approx(0.02)
    career = next(g for g in stats.sections if g.name == "career")
    assert (career.links, career.human, career.clickers) == (3, 3, 2)
    lenny = next(g for g in stats.sources if g.name == "Lenny")
    assert (lenny.links, lenny.human, lenny.clickers) == (2, 3, 2)
    assert [link.index for link in top_links(stats, 5)] == [1, 3]


def test_the_trap_counts_scanned_messages_not_machine_clicks():
    a = delivery(3)
    events = [ClickEvent(a, TRAP_INDEX, at(1), CHROME)] + [
        ClickEvent(a, link.index, at(1) + timedelta(seconds=0.2 * n), CHROME)
        for n, link in enumerate(TABLE, 1)]
    stats = stats_of(events)
    assert (stats.scanned, stats.machine, stats.human) == (1, len(TABLE), 0)
    assert all(link.machine == 1 and link.human == 0 for link in stats.links)
    assert top_links(stats, 5) == ()


def test_a_scanner_and_its_reader_on_one_link_count_once_on_each_side():
    a = delivery(4)
    stats = stats_of([ClickEvent(a, 2, at(300), "python-requests/2.32"),
                      ClickEvent(a, 2, at(300.05), SAFARI)])
    link = next(x for x in stats.links if x.index == 2)
    assert (link.human, link.machine) == (1, 1)


def test_clicks_on_links_the_table_lacks_are_ignored():
    stats = stats_of([ClickEvent(delivery(5), 99, at(300), SAFARI)])
    assert (stats.human, stats.machine, stats.unique_human_clickers) == (0, 0, 0)


def test_week_stats_survive_their_json_form():
    (week,) = sample_history(("2026-W48",))
    assert WeekStats.from_json(week.to_json()) == week


def test_growth_per_week_counts_back_from_todays_size():
    tz = ZoneInfo("Europe/Berlin")
    weeks = recent_weeks("2026-W48", 3)
    assert weeks == ("2026-W46", "2026-W47", "2026-W48")

    def event(kind, day, hour=12):
        return SubscriberEvent(kind, datetime(2026, 11, day, hour, tzinfo=UTC))

    events = [event("confirmed", 10), event("confirmed", 11), event("bounced", 12),  # W46
              event("confirmed", 17), event("unsubscribed", 18), event("complained", 19),
              event("unsubscribed", 20),  # W47
              event("confirmed", 22, 23),  # Sunday in UTC, Monday 00:00 in Berlin: W48
              event("confirmed", 30),  # W49: after the window, in today's size
              event("confirmed", 2)]  # before the window: ignored
    rows = growth_rows(events, weeks, tz, size_now=50)
    assert rows == (GrowthRow("2026-W46", 2, 0, 1, 0, 1, 50),
                    GrowthRow("2026-W47", 1, 2, 0, 1, -2, 48),
                    GrowthRow("2026-W48", 1, 0, 0, 0, 1, 49))
    assert growth_rows([], weeks, tz, 7)[0].size == 7


def test_recent_weeks_cross_the_year_and_refuse_a_bad_week():
    assert recent_weeks("2027-W01", 3) == ("2026-W52", "2026-W53", "2027-W01")
    with pytest.raises(UsageError):
        recent_weeks("2026-48", 2)
    with pytest.raises(ValueError, match="subscriber event kind"):
        SubscriberEvent("left", SENT)  # type: ignore[arg-type]


def test_rates_over_several_issues_rank_sections_and_sources():
    history = sample_history(recent_weeks("2026-W48", 6))
    sections = section_rates(history)
    assert [r.name for r in sections][0] == "career"  # three links: most readers reach it
    assert all(r.issues == 6 for r in sections)
    assert [r.reach for r in sections] == sorted((r.reach for r in sections), reverse=True)
    sources = source_rates(history)
    assert sources[-1].name == "Quiet Feed" and sources[-1].human == 0
    lenny = next(r for r in sources if r.name == "Lenny")
    assert lenny.link_deliveries == sum(2 * w.delivered for w in history)
    assert lenny.per_link == pytest.approx(lenny.human / lenny.link_deliveries)


def test_source_weights_are_smoothed_relative_and_deterministic():
    history = sample_history(recent_weeks("2026-W48", 6))
    weights = source_weights(history)
    assert weights == source_weights(history)
    assert list(weights) == sorted(weights)
    assert 0 < weights["Quiet Feed"] < 0.5 < 0.9 < weights["Lenny"] < 1.5
    # The prior pulls a source towards the average, more when it is stronger.
    strong = source_weights(history, prior_strength=1e9)
    assert all(w == pytest.approx(1.0, abs=1e-3) for w in strong.values())
    # One issue, no click anywhere: nothing to learn, everyone 1.0.
    quiet = stats_of([])
    assert source_weights([quiet]) == {name: 1.0 for name in sorted(
        {link.source for link in TABLE})}
    assert source_weights([]) == {}


def test_silent_sources_are_named_only_when_silence_is_unlikely_to_be_chance():
    history = sample_history(recent_weeks("2026-W48", 6))
    assert [r.name for r in silent_sources(history)] == ["Quiet Feed"]
    # With a handful of readers, no click from a source says little.
    tiny = stats_of([ClickEvent(delivery(1), 1, at(90), SAFARI)], delivered=10)
    assert silent_sources([tiny], min_expected=3.0) == ()
    assert [r.name for r in silent_sources([tiny], min_expected=0.1)][0] == "Acme"


def test_the_sponsor_summary_counts_readers_who_clicked_the_sponsor():
    a, b, c = delivery(1), delivery(2), delivery(3)
    stats = stats_of([ClickEvent(a, 6, at(100), SAFARI), ClickEvent(a, 6, at(101), SAFARI),
                      ClickEvent(b, 6, at(200), CHROME), ClickEvent(c, 6, at(300), "curl/8")],
                     delivered=40)
    summary = sponsor_summary(stats)
    assert summary is not None
    assert (summary.delivered, summary.unique_human_clicks, summary.machine_filtered) == (
        40, 2, 1)
    assert summary.click_through == pytest.approx(0.05)
    text = "\n".join(summary.lines())
    assert "Unique human clicks:  2" in text and "5.00%" in text
    assert sponsor_summary(stats, section="nowhere") is None
