"""Click and growth statistics, pure parts: the per-issue model built from classified clicks,
rates over several issues (sections, sources, source weights, silent feeds, the sponsor's
summary), growth per week, and the JSON, terminal and HTML renderings. The CLI and the
editor's report call these; no database access here."""

from .growth import GrowthRow, SubscriberEvent, growth_rows, recent_weeks
from .htmlreport import report_html, write_report
from .model import GroupStats, LinkStats, WeekStats, top_links, week_stats
from .output import stats_json
from .rates import (
    GroupRate,
    SponsorSummary,
    issue_click_through,
    section_rates,
    silent_sources,
    source_rates,
    source_weights,
    sponsor_summary,
)
from .summary import editor_results, results_lines
from .terminal import render_stats

__all__ = [
    "GroupRate", "GroupStats", "GrowthRow", "LinkStats", "SponsorSummary", "SubscriberEvent",
    "WeekStats", "editor_results", "growth_rows", "issue_click_through", "recent_weeks",
    "render_stats", "report_html", "results_lines", "section_rates", "silent_sources",
    "source_rates", "source_weights", "sponsor_summary", "stats_json", "top_links",
    "week_stats", "write_report",
]
