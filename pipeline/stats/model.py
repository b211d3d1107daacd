"""One issue's click results: unique human and machine clicks per link, section and source.

Counting: a click is a (delivery, link) pair, so one delivery clicking a link twice counts once;
a pair with both a human and a machine request (a scanner checking the link as the reader
clicks it) counts once on each side. `unique_human_clickers` counts deliveries. The trap link
is not an article: a delivery that followed it is counted in `scanned`, not in `machine`.

WeekStats is also the form kept once an issue's raw clicks are dropped after
`[tracking] keep_days` (to_json/from_json), so history needs no delivery parts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..tracking.classify import ClassifiedClick
from ..tracking.linktable import TRAP_INDEX, TrackedLink


@dataclass(frozen=True)
class LinkStats:
    index: int
    url: str
    title: str
    section: str
    source: str
    item_id: str
    human: int  # deliveries with a human click on this link
    machine: int  # deliveries with a machine click on this link


@dataclass(frozen=True)
class GroupStats:
    """The links of one section or one source in one issue."""

    name: str  # section id, or the source's name
    title: str  # section title, or the source's name
    links: int
    human: int  # unique human clicks (delivery, link)
    machine: int
    clickers: int  # deliveries with a human click on any of these links


@dataclass(frozen=True)
class WeekStats:
    week: str
    delivered: int
    human: int
    machine: int
    unique_human_clickers: int
    scanned: int  # deliveries whose trap link a machine followed
    links: tuple[LinkStats, ...]  # every link of the issue, in the order
    sections: tuple[GroupStats, ...]
    sources: tuple[GroupStats, ...]

    @property
    def click_through(self) -> float:
        """Share of delivered messages with at least one human click."""
        return self.unique_human_clickers / self.delivered if self.delivered else 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WeekStats:
        return cls(**{**data,
                      "links": tuple(LinkStats(**x) for x in data["links"]),
                      "sections": tuple(GroupStats(**x) for x in data["sections"]),
                      "sources": tuple(GroupStats(**x) for x in data["sources"])})


def _groups(table: Sequence[TrackedLink], pairs: dict[int, set[str]],
            machine: dict[int, set[str]], key: Callable[[TrackedLink], tuple[str, str]]
            ) -> tuple[GroupStats, ...]:
    members: dict[tuple[str, str], list[TrackedLink]] = {}
    for link in table:
        members.setdefault(key(link), []).append(link)
    return tuple(
        GroupStats(name=name, title=title, links=len(links),
                   human=sum(len(pairs[link.index]) for link in links),
                   machine=sum(len(machine[link.index]) for link in links),
                   clickers=len(set().union(*(pairs[link.index] for link in links))))
        for (name, title), links in members.items())


def week_stats(week: str, delivered: int, table: Sequence[TrackedLink],
               clicks: Sequence[ClassifiedClick]) -> WeekStats:
    """The issue's counts from its link table and its classified clicks. Clicks naming a link
    the table lacks are ignored (the route never stores one)."""
    human: dict[int, set[str]] = {link.index: set() for link in table}
    machine: dict[int, set[str]] = {link.index: set() for link in table}
    scanned: set[str] = set()
    for click in clicks:
        index, delivery = click.event.link_index, click.event.delivery
        if index == TRAP_INDEX:
            scanned.add(delivery)
        elif index in human:
            (human if click.human else machine)[index].add(delivery)
    links = tuple(LinkStats(index=link.index, url=link.url, title=link.title,
                            section=link.section, source=link.source, item_id=link.item_id,
                            human=len(human[link.index]), machine=len(machine[link.index]))
                  for link in table)
    return WeekStats(
        week=week, delivered=delivered,
        human=sum(x.human for x in links), machine=sum(x.machine for x in links),
        unique_human_clickers=len(set().union(*human.values())), scanned=len(scanned),
        links=links,
        sections=_groups(table, human, machine, lambda x: (x.section, x.section_title)),
        sources=_groups(table, human, machine, lambda x: (x.source, x.source)))


def top_links(stats: WeekStats, count: int) -> tuple[LinkStats, ...]:
    """The links with the most human clicks (ties: the issue's order)."""
    ranked = sorted(stats.links, key=lambda x: (-x.human, x.index))
    return tuple(x for x in ranked if x.human)[:count]
