"""Last week's results for the editor's report (jobs/report.py): the previous issue's top
links by human clicks, the machine clicks filtered, the feeds readers never click, and the
list's growth. A plain dict (report.json keeps it) and the lines of the editor's email."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .growth import GrowthRow
from .model import WeekStats, top_links
from .rates import silent_sources

TOP = 5


def editor_results(stats: WeekStats | None, history: Sequence[WeekStats],
                   growth: Sequence[GrowthRow]) -> dict[str, Any]:
    """`stats`: the last issue sent before this one (None: no tracked issue yet)."""
    data: dict[str, Any] = {"growth": [row.to_json() for row in growth]}
    if stats is not None:
        data["issue"] = {
            "week": stats.week, "delivered": stats.delivered,
            "unique_human_clickers": stats.unique_human_clickers,
            "click_through": round(stats.click_through, 4),
            "human": stats.human, "machine": stats.machine,
            "top_links": [{"title": x.title, "url": x.url, "source": x.source,
                           "human": x.human, "machine": x.machine}
                          for x in top_links(stats, TOP)],
        }
        data["silent_sources"] = [r.name for r in silent_sources(history or (stats,))]
    return data


def results_lines(data: dict[str, Any]) -> list[str]:
    """The editor's email lines for `editor_results`."""
    lines: list[str] = []
    issue = data.get("issue")
    if issue:
        lines += [f"Last issue ({issue['week']}): {issue['delivered']:,} delivered,"
                  f" {issue['unique_human_clickers']:,} readers clicked"
                  f" ({issue['click_through']:.1%}); {issue['human']:,} human clicks,"
                  f" {issue['machine']:,} machine clicks filtered (scanners, previews)"]
        for rank, link in enumerate(issue["top_links"], 1):
            lines.append(f"  {rank}. {link['title']} ({link['source']}): {link['human']:,}"
                         " human")
        if not issue["top_links"]:
            lines.append("  no human clicks yet")
    if data.get("silent_sources"):
        lines.append("Feeds no reader clicked in the last issues: "
                     + ", ".join(data["silent_sources"]))
    growth = data.get("growth") or []
    if growth:
        lines.append("Growth (week: confirmed, unsubscribed, bounced, complained → net, size):")
        for row in growth:
            lines.append(f"  {row['week']}: +{row['confirmed']} -{row['unsubscribed']}"
                         f" -{row['bounced']} -{row['complained']} → {row['net']:+d},"
                         f" {row['size']:,}")
    return lines
