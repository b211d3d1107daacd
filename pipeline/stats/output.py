"""`digest stats --json`: the issue's results as one JSON object.

The first keys are the contract (README, issue 14): week, delivered, clicks {human, machine},
unique_human_clickers, links [{url, title, section, source, human, machine}], growth [{week,
confirmed, unsubscribed, bounced, complained, net, size}]. The keys after them (click_through,
scanned, issues, sections, sources, silent_sources) are additions a consumer may ignore.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .growth import GrowthRow
from .model import WeekStats
from .rates import GroupRate, section_rates, silent_sources, source_rates


def _ratio(value: float) -> float:
    return round(value, 4)


def _group(rate: GroupRate, key: str, share: float) -> dict[str, Any]:
    return {key: rate.name, "title": rate.title, "issues": rate.issues, "links": rate.links,
            "human": rate.human, "machine": rate.machine, "clickers": rate.clickers,
            "click_through": _ratio(share)}


def stats_json(stats: WeekStats, growth: Sequence[GrowthRow],
               history: Sequence[WeekStats] = ()) -> dict[str, Any]:
    """`stats` is the chosen week; `history` the last N issues (ending with it) for the
    per-issue, per-section and per-source rates; empty: just this issue."""
    history = tuple(history) or (stats,)
    links = sorted(stats.links, key=lambda x: (-x.human, x.index))
    return {
        "week": stats.week,
        "delivered": stats.delivered,
        "clicks": {"human": stats.human, "machine": stats.machine},
        "unique_human_clickers": stats.unique_human_clickers,
        "links": [{"url": x.url, "title": x.title, "section": x.section, "source": x.source,
                   "human": x.human, "machine": x.machine} for x in links],
        "growth": [row.to_json() for row in growth],
        "click_through": _ratio(stats.click_through),
        "scanned": stats.scanned,
        "issues": [{"week": w.week, "delivered": w.delivered,
                    "unique_human_clickers": w.unique_human_clickers,
                    "click_through": _ratio(w.click_through),
                    "human": w.human, "machine": w.machine} for w in history],
        "sections": [_group(r, "section", r.reach) for r in section_rates(history)],
        "sources": [_group(r, "source", r.per_link) for r in source_rates(history)],
        "silent_sources": [r.name for r in silent_sources(history)],
    }
