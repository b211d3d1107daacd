"""Click-through over several issues: per section, per source, the source weights for
`[issue] learn_from_clicks`, the feeds that never get clicks, and the sponsor's summary.

Two rates, each where it is fair:
- reach = readers who clicked something of the group / messages delivered (sections, issues,
  the sponsor: "what share of readers acted");
- per link = unique human clicks / (links × messages delivered) (sources: a source with five
  links an issue is not five times better for it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .model import GroupStats, WeekStats


@dataclass(frozen=True)
class GroupRate:
    name: str
    title: str
    issues: int  # issues the group had links in
    links: int
    delivered: int  # messages of those issues
    link_deliveries: int  # Σ links × delivered
    human: int
    machine: int
    clickers: int  # Σ per issue

    @property
    def reach(self) -> float:
        return self.clickers / self.delivered if self.delivered else 0.0

    @property
    def per_link(self) -> float:
        return self.human / self.link_deliveries if self.link_deliveries else 0.0


def _rates(history: Sequence[WeekStats],
           groups: Callable[[WeekStats], tuple[GroupStats, ...]]) -> list[GroupRate]:
    totals: dict[str, GroupRate] = {}
    for week in history:
        for g in groups(week):
            old = totals.get(g.name) or GroupRate(g.name, g.title, 0, 0, 0, 0, 0, 0, 0)
            totals[g.name] = GroupRate(
                name=g.name, title=g.title, issues=old.issues + 1, links=old.links + g.links,
                delivered=old.delivered + week.delivered,
                link_deliveries=old.link_deliveries + g.links * week.delivered,
                human=old.human + g.human, machine=old.machine + g.machine,
                clickers=old.clickers + g.clickers)
    return list(totals.values())


def section_rates(history: Sequence[WeekStats]) -> tuple[GroupRate, ...]:
    """Per section over `history`, best reach first (ties: by id)."""
    return tuple(sorted(_rates(history, lambda w: w.sections), key=lambda r: (-r.reach, r.name)))


def source_rates(history: Sequence[WeekStats]) -> tuple[GroupRate, ...]:
    """Per source over `history`, best per-link click-through first (ties: by name)."""
    return tuple(sorted(_rates(history, lambda w: w.sources),
                        key=lambda r: (-r.per_link, r.name)))


def _overall(rates: Sequence[GroupRate]) -> float:
    sent = sum(r.link_deliveries for r in rates)
    return sum(r.human for r in rates) / sent if sent else 0.0


def source_weights(history: Sequence[WeekStats],
                   prior_strength: float | None = None) -> dict[str, float]:
    """Each source's smoothed per-link click-through relative to the average (1.0 = average),
    for ranking feed items. Smoothing is a Beta prior at the average rate worth
    `prior_strength` link deliveries (default: one link sent to an average issue's readers),
    so a source seen once with no clicks is not sunk, and one lucky click does not float it.
    Deterministic: the same history gives the same weights. A source not in the history
    has no weight (use 1.0); no clicks at all give every source 1.0."""
    rates = _rates(history, lambda w: w.sources)
    average = _overall(rates)
    if not rates or average == 0:
        return {r.name: 1.0 for r in sorted(rates, key=lambda r: r.name)}
    strength = (prior_strength if prior_strength is not None
                else sum(w.delivered for w in history) / len(history))
    return {r.name: ((r.human + strength * average) / (r.link_deliveries + strength)) / average
            for r in sorted(rates, key=lambda r: r.name)}


def silent_sources(history: Sequence[WeekStats],
                   min_expected: float = 3.0) -> tuple[GroupRate, ...]:
    """Sources whose links no reader clicked although, at the average rate, at least
    `min_expected` clicks were due (zero then is unlikely to be chance: e^-3 ≈ 5 %). Most
    links sent first."""
    rates = _rates(history, lambda w: w.sources)
    average = _overall(rates)
    return tuple(sorted((r for r in rates
                         if r.human == 0 and r.link_deliveries * average >= min_expected),
                        key=lambda r: (-r.link_deliveries, r.name)))


def issue_click_through(history: Sequence[WeekStats]) -> tuple[tuple[str, float, float], ...]:
    """(week, reach, machine share of all clicks) per issue."""
    return tuple((w.week, w.click_through,
                  w.machine / (w.human + w.machine) if w.human + w.machine else 0.0)
                 for w in history)


@dataclass(frozen=True)
class SponsorSummary:
    week: str
    delivered: int
    unique_human_clicks: int  # readers who clicked the sponsor's link(s)
    machine_filtered: int  # machine clicks on them, not counted
    links: int

    @property
    def click_through(self) -> float:
        return self.unique_human_clicks / self.delivered if self.delivered else 0.0

    def lines(self) -> list[str]:
        return [f"Sponsor report for {self.week}",
                f"Delivered:            {self.delivered:,}",
                f"Unique human clicks:  {self.unique_human_clicks:,}",
                f"Click-through:        {self.click_through:.2%}",
                f"Machine clicks filtered (security scanners, previews): "
                f"{self.machine_filtered:,}"]


def sponsor_summary(stats: WeekStats, section: str = "sponsor") -> SponsorSummary | None:
    """The sponsor block's results (its links are the section `section`); None without one."""
    for group in stats.sections:
        if group.name == section:
            return SponsorSummary(stats.week, stats.delivered, group.clickers, group.machine,
                                  group.links)
    return None
