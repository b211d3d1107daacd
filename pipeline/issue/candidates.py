"""The editor's view of a week (`digest candidates`, the desk): every feed entry that could go in,
ranked by the build's own ranking (assemble.rank_for_issue), one row per article (its copies in
other feeds merged), with why it ranks where it does and whether the draft has it. Pure: the
draft issue is assembled from the same inputs, so the rows and the issue never disagree."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ..config import Config, SectionConfig
from ..identity import (
    MIN_TITLE_WORDS,
    canonical_url,
    is_global_guid,
    short_id,
    title_tokens,
)
from ..identity import NEAR_IDENTICAL as NEAR
from ..models import CuratedExcerpt, Entry, Issue
from .assemble import (
    Ranked,
    Verdict,
    _matcher,  # the classifier's own keyword matcher: the reasons name what it matched
    assemble,
    rank_for_issue,
    select_curated,
)

PICKED, INCLUDED, DROPPED, OUT = "picked", "included", "dropped", "out"


@dataclass(frozen=True)
class Copy:
    """The same article in another feed (merged into its row)."""

    source: str
    url: str


@dataclass(frozen=True)
class CandidateRow:
    id: str  # identity.short_id of the lead entry's URL
    rank: int
    entry: Entry  # the best-ranked copy: what a pick quotes
    section: str | None  # a section id, "also", or None (matches none, unmatched = "drop")
    score: float
    relevance: float
    keywords: tuple[str, ...]
    status: str  # picked | included | dropped | out
    reason: str  # why it is out; the veto's reason when dropped
    copies: tuple[Copy, ...] = ()

    @property
    def url(self) -> str:
        return self.entry.url

    @property
    def in_draft(self) -> bool:
        return self.status in (PICKED, INCLUDED)

    @property
    def urls(self) -> tuple[str, ...]:
        """Every URL of the article (its copies' too): a veto names them all."""
        return (self.entry.url, *(c.url for c in self.copies))

    def to_json(self) -> dict[str, Any]:
        entry = self.entry
        return {"id": self.id, "rank": self.rank, "url": entry.url, "title": entry.title,
                "source": entry.feed_name, "author": entry.author,
                "published": (entry.published.isoformat()
                              if entry.published and entry.dated else None),
                "section": self.section, "score": round(self.score, 4),
                "relevance": round(self.relevance, 4), "keywords": list(self.keywords),
                "status": self.status, "in_draft": self.in_draft, "reason": self.reason,
                "duplicates": [{"source": c.source, "url": c.url} for c in self.copies],
                "excerpt": entry.excerpt}


@dataclass(frozen=True)
class Review:
    """A week as the editor reviews it: the draft issue and the candidate rows."""

    issue: Issue
    rows: tuple[CandidateRow, ...]
    curated: tuple[CuratedExcerpt, ...]  # the excerpts in the draft, in its order


def matched_keywords(entry: Entry, sections: tuple[SectionConfig, ...],
                     section_id: str | None) -> tuple[str, ...]:
    """The keywords of `section_id` the classifier finds in the entry (title first)."""
    pattern, meaning = _matcher(sections)
    index = next((i for i, s in enumerate(sections) if s.id == section_id), None)
    if pattern is None or index is None:
        return ()
    found: dict[str, None] = {}
    body = " ".join((entry.text or entry.excerpt, *entry.tags))
    for text in (entry.title, body):
        for match in pattern.findall(text.lower()):
            keyword = " ".join(match.split())
            if any(i == index for i, _ in meaning.get(keyword, ())):
                found.setdefault(keyword, None)
    return tuple(found)


def _why_out(config: Config, ranked: Ranked) -> str:
    issue = config.issue
    return {
        Verdict.SOURCE_CAP: f"{ranked.candidate.entry.feed_name} already has "
                            f"{issue.max_per_source} item(s) in the issue "
                            "([issue] max_per_source)",
        Verdict.NO_ROOM: f"below the cut: the issue is full ([issue] max_items = "
                         f"{issue.max_items})",
        Verdict.UNMATCHED: 'matches no section ([issue] unmatched = "drop")',
        Verdict.DUPLICATE: "the same article (link or near-identical title) is already in "
                           "the issue",
    }.get(ranked.verdict, "")


class _Groups:
    """Rows by article: one canonical URL, one global GUID, or a near-identical title (an
    inverted index of the leads' title words, as identity.TitleIndex, that says which row)."""

    def __init__(self) -> None:
        self.leads: list[Ranked] = []
        self.members: list[list[Ranked]] = []
        self.urls: list[list[str]] = []  # each row's canonical URLs
        self._by_key: dict[str, int] = {}
        self._titles: dict[int, frozenset[str]] = {}
        self._postings: dict[str, list[int]] = defaultdict(list)

    def _near(self, tokens: frozenset[str]) -> int | None:
        shared = Counter(g for t in tokens for g in self._postings.get(t, ()))
        return min((g for g, n in shared.items()
                    if n / (len(tokens) + len(self._titles[g]) - n) >= NEAR), default=None)

    def add(self, ranked: Ranked) -> None:
        entry = ranked.candidate.entry
        url = canonical_url(entry.url)
        keys = [f"url:{url}"]
        if is_global_guid(entry.guid):
            keys.append(f"guid:{entry.guid}")
        tokens = title_tokens(entry.title)
        titled = len(tokens) >= MIN_TITLE_WORDS
        group = next((self._by_key[k] for k in keys if k in self._by_key), None)
        if group is None and titled:
            group = self._near(tokens)
        if group is None:
            group = len(self.leads)
            self.leads.append(ranked)
            self.members.append([])
            self.urls.append([url])
            if titled:
                self._titles[group] = tokens
                for token in tokens:
                    self._postings[token].append(group)
        else:
            self.members[group].append(ranked)
            self.urls[group].append(url)
        for key in keys:
            self._by_key.setdefault(key, group)


def review(config: Config, week: str, number: int, now: datetime,
           excerpts: list[CuratedExcerpt], entries: list[Entry], published_keys: set[str],
           drops: Mapping[str, str], intro: str | None = None) -> Review:
    """The draft (assemble, with the vetoes) and its candidate rows, best first. `drops` maps
    the week's vetoed canonical URLs to their reasons."""
    dropped = frozenset(drops)
    issue = assemble(config, week, number, now, excerpts, entries, published_keys, intro,
                     dropped)
    curated = select_curated(config, week, now, excerpts, published_keys, dropped)
    ranked = rank_for_issue(config, now, curated, entries, published_keys, dropped,
                            explain=True)
    groups = _Groups()
    for item in ranked:
        if item.verdict is not Verdict.PUBLISHED:
            groups.add(item)
    picked = {canonical_url(e.url) for e in curated}
    in_draft = {canonical_url(i.url) for i in issue.items}
    rows = []
    for rank, (lead, members, urls) in enumerate(
            zip(groups.leads, groups.members, groups.urls, strict=True), 1):
        vetoed = next((u for u in urls if u in dropped), None)
        if vetoed is not None:
            status, reason = DROPPED, drops[vetoed]
        elif picked.intersection(urls):
            status, reason = PICKED, ""
        elif in_draft.intersection(urls):
            status, reason = INCLUDED, ""
        else:
            status, reason = OUT, _why_out(config, lead)
        candidate = lead.candidate
        rows.append(CandidateRow(
            id=short_id(candidate.entry.url), rank=rank, entry=candidate.entry,
            section=candidate.section_id, score=candidate.score,
            relevance=candidate.relevance,
            keywords=matched_keywords(candidate.entry, config.sections, candidate.section_id),
            status=status, reason=reason,
            copies=tuple(Copy(r.candidate.entry.feed_name, r.candidate.entry.url)
                         for r in members)))
    return Review(issue, tuple(rows), tuple(curated))


def as_sent(rows: tuple[CandidateRow, ...], issue: Issue) -> tuple[CandidateRow, ...]:
    """The rows of a week whose delivery started, judged by the issue its readers got (not by
    what the inputs would assemble now)."""
    kinds = {canonical_url(i.url): i.kind for i in issue.items}
    judged = []
    for row in rows:
        kind = next((kinds[u] for u in map(canonical_url, row.urls) if u in kinds), None)
        status = {"curated": PICKED, "feed": INCLUDED}.get(kind or "", OUT)
        judged.append(replace(row, status=status,
                              reason="" if kind else "not in the issue as it went out"))
    return tuple(judged)


def filter_rows(rows: tuple[CandidateRow, ...], section: str = "", source: str = "",
                query: str = "", status: str = "") -> tuple[CandidateRow, ...]:
    """The rows of one section and one source whose title, text or source holds every word
    of `query` (case-insensitive); empty filters keep everything."""
    words = query.casefold().split()

    def keep(row: CandidateRow) -> bool:
        entry = row.entry
        if section and row.section != section:
            return False
        if source and source not in (entry.feed_name, *(c.source for c in row.copies)):
            return False
        if status and row.status != status:
            return False
        text = " ".join((entry.title, entry.excerpt, entry.feed_name, *row.keywords)).casefold()
        return all(word in text for word in words)

    return tuple(row for row in rows if keep(row))
