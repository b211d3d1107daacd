"""`digest stats --json` and the terminal view (issue 14): the JSON carries the issue's shape
exactly (its first keys, their types and order), the terminal tables show the numbers, and
feed text is never read as rich markup."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

from rich.console import Console

from pipeline.models import Item, Section
from pipeline.stats import GrowthRow, recent_weeks, render_stats, stats_json, week_stats
from pipeline.tracking import ClickEvent, classify_clicks, link_table

from .clickdata import BASE, SAFARI, delivery, sample_history, sample_issue

WEEKS = recent_weeks("2026-W48", 4)
GROWTH = (GrowthRow("2026-W47", 12, 3, 1, 0, 8, 4992), GrowthRow("2026-W48", 20, 9, 2, 1, 8, 5000))


def test_the_json_has_the_issues_shape():
    history = sample_history(WEEKS)
    data = json.loads(json.dumps(stats_json(history[-1], GROWTH, history)))
    assert list(data)[:6] == ["week", "delivered", "clicks", "unique_human_clickers", "links",
                              "growth"]
    assert data["week"] == "2026-W48" and data["delivered"] == history[-1].delivered
    assert data["clicks"] == {"human": history[-1].human, "machine": history[-1].machine}
    assert data["unique_human_clickers"] == history[-1].unique_human_clickers
    assert all(list(link) == ["url", "title", "section", "source", "human", "machine"]
               for link in data["links"])
    assert [link["human"] for link in data["links"]] == sorted(
        (link["human"] for link in data["links"]), reverse=True)
    assert sum(link["human"] for link in data["links"]) == data["clicks"]["human"]
    assert data["growth"] == [
        {"week": "2026-W47", "confirmed": 12, "unsubscribed": 3, "bounced": 1, "complained": 0,
         "net": 8, "size": 4992},
        {"week": "2026-W48", "confirmed": 20, "unsubscribed": 9, "bounced": 2, "complained": 1,
         "net": 8, "size": 5000}]
    assert [w["week"] for w in data["issues"]] == list(WEEKS)
    assert data["silent_sources"] == ["Quiet Feed"]
    assert {s["section"] for s in data["sections"]} == {"career", "craft", "sponsor"}
    for key in ("delivered", "unique_human_clickers", "scanned"):
        assert isinstance(data[key], int)


def test_the_json_of_an_issue_nobody_clicked():
    table = link_table(sample_issue(), BASE)
    data = stats_json(week_stats("2026-W48", 0, table, ()), ())
    assert data["clicks"] == {"human": 0, "machine": 0} and data["click_through"] == 0.0
    assert len(data["links"]) == len(table) and data["growth"] == []


def render(history, growth=GROWTH) -> str:
    out = io.StringIO()
    render_stats(Console(file=out, width=160, color_system=None), history[-1], history, growth)
    return out.getvalue()


def test_the_terminal_view_shows_every_table():
    history = sample_history(WEEKS)
    text = render(history)
    last = history[-1]
    assert f"{last.delivered:,} delivered" in text
    assert f"{last.human:,} human clicks, {last.machine:,} machine clicks filtered" in text
    for title in ("Top links of 2026-W48", "Human and machine clicks, last 4 issues",
                  "Click-through per section", "Click-through per source", "Growth",
                  "Never clicked by a reader in these issues: Quiet Feed"):
        assert title in text
    best = max(last.links, key=lambda x: (x.human, -x.index))
    assert best.title in text
    assert "5,000" in text and "+8" in text


def test_feed_text_is_printed_as_is_never_as_markup():
    sneaky = "[bold red]Click me[/bold red] [link=https://evil.example]x[/link]"
    issue = sample_issue()
    first = issue.sections[0]
    item = Item(id="x", kind="feed", title=sneaky, url="https://sneaky.example/a",
                source="[blink]Feed[/blink]", author=None, published=None, excerpt="",
                note=None)
    issue = issue.__class__(**{**issue.__dict__, "sections": (
        Section(first.id, "[i]Career[/i]", (item,) + first.items),) + issue.sections[1:]})
    table = link_table(issue, BASE)
    sent = datetime(2026, 11, 26, 8, tzinfo=UTC)
    clicks = classify_clicks([ClickEvent(delivery(1), 1, sent + timedelta(hours=2), SAFARI)],
                             sent, sent + timedelta(days=7))
    text = render((week_stats("2026-W48", 10, table, clicks),))
    assert "[bold red]Click me[/bold red]" in text and "[blink]Feed[/blink]" in text
    assert "[i]Career[/i]" in text
