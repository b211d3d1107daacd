"""`digest stats` in a terminal (rich): the issue's top links, human against machine clicks,
click-through per issue, section and source over the last issues, the feeds nobody clicks,
and the list's growth."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .growth import GrowthRow
from .model import WeekStats, top_links
from .rates import section_rates, silent_sources, source_rates


def _pct(value: float) -> str:
    return f"{value:.1%}"


_TEXT_COLUMNS = ("Week", "Link", "Section", "Source")


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold")
    for column in columns:
        table.add_column(column, justify="left" if column in _TEXT_COLUMNS else "right",
                         overflow="fold")
    return table


def render_stats(console: Console, stats: WeekStats, history: Sequence[WeekStats],
                 growth: Sequence[GrowthRow], top: int = 10) -> None:
    """Print every table. `history` is the last N issues ending with `stats` (or empty).
    Titles and names come from feeds: always printed as Text, never read as markup."""
    history = tuple(history) or (stats,)
    total = stats.human + stats.machine
    console.print(
        f"[bold]{stats.week}[/]: {stats.delivered:,} delivered, "
        f"{stats.unique_human_clickers:,} readers clicked ({_pct(stats.click_through)}); "
        f"{stats.human:,} human clicks, {stats.machine:,} machine clicks filtered"
        + (f" ({_pct(stats.machine / total)} of all)" if total else "")
        + (f"; {stats.scanned:,} messages swept by a link scanner" if stats.scanned else ""),
        highlight=False)

    links = _table(f"Top links of {stats.week} (human clicks)", "#", "Link", "Section",
                   "Source", "Human", "Machine")
    for rank, link in enumerate(top_links(stats, top), 1):
        links.add_row(str(rank), Text(link.title), Text(link.section), Text(link.source),
                      f"{link.human:,}", f"{link.machine:,}")
    console.print(links if links.row_count else "No human clicks on this issue's links yet.")

    issues = _table(f"Human and machine clicks, last {len(history)} issues", "Week",
                    "Delivered", "Readers who clicked", "Click-through", "Human", "Machine")
    for week in history:
        issues.add_row(week.week, f"{week.delivered:,}", f"{week.unique_human_clickers:,}",
                       _pct(week.click_through), f"{week.human:,}", f"{week.machine:,}")
    console.print(issues)

    sections = _table("Click-through per section (readers who clicked one of its links)",
                      "Section", "Issues", "Readers who clicked", "Click-through")
    for rate in section_rates(history):
        sections.add_row(Text(rate.title), str(rate.issues), f"{rate.clickers:,}", _pct(rate.reach))
    console.print(sections)

    sources = _table("Click-through per source (human clicks per link sent)", "Source",
                     "Issues", "Links", "Human", "Machine", "Per link")
    for rate in source_rates(history):
        sources.add_row(Text(rate.title), str(rate.issues), str(rate.links), f"{rate.human:,}",
                        f"{rate.machine:,}", _pct(rate.per_link))
    console.print(sources)
    silent = silent_sources(history)
    if silent:
        console.print(Text("Never clicked by a reader in these issues: "
                           + ", ".join(rate.title for rate in silent)))

    rows = _table("Growth", "Week", "Confirmed", "Unsubscribed", "Bounced", "Complained",
                  "Net", "Size")
    for row in growth:
        rows.add_row(row.week, str(row.confirmed), str(row.unsubscribed), str(row.bounced),
                     str(row.complained), f"{row.net:+d}", f"{row.size:,}")
    console.print(rows)
