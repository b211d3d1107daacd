"""Assemble stage: curated excerpts + feed entries + history → one Issue. Pure: no I/O."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from .config import Config, SectionConfig
from .curated import CuratedExcerpt
from .dedup import canonical_url, history_keys, item_id, title_similarity
from .models import Entry, Issue, Item, Section
from .weeks import week_day

ALSO_ID = "also"
SUBJECT_MAX = 78  # keeps the subject whole on most phone inbox lists
PREHEADER_MAX = 110


@dataclass(frozen=True)
class Candidate:
    entry: Entry
    section_id: str | None
    relevance: float
    score: float


def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(keyword.lower())}(?!\w)")


def classify(entry: Entry, sections: tuple[SectionConfig, ...]) -> tuple[str | None, float]:
    """The best-matching section by keyword hits on word boundaries (title hits count 3×)."""
    title = entry.title.lower()
    text = entry.excerpt.lower()
    best: tuple[str | None, float] = (None, 0.0)
    for section in sections:
        score = 0.0
        for keyword in section.keywords:
            pattern = _keyword_pattern(keyword)
            score += 3 * len(pattern.findall(title)) + len(pattern.findall(text))
        score *= section.weight
        if score > best[1]:
            best = (section.id, score)
    return best


def _recency(published: datetime | None, now: datetime, lookback: timedelta) -> float:
    if published is None:
        return 0.0
    age = (now - published) / lookback
    return max(0.0, 1.0 - age)


def in_window(entry: Entry, now: datetime, lookback: timedelta) -> bool:
    return entry.published is not None and now - lookback <= entry.published <= now


def curated_for_week(excerpts: list[CuratedExcerpt], week: str, now: datetime,
                     published_keys: set[str]) -> list[CuratedExcerpt]:
    """The editor's queue: excerpts added by now, pinned to this week or to none, not yet
    published in an earlier issue."""
    chosen = []
    for excerpt in excerpts:
        if excerpt.week is not None and excerpt.week != week:
            continue
        if excerpt.week is None and excerpt.added > now:
            continue
        # An excerpt is identified by its file: the editor may quote one article many times.
        if f"curated:{excerpt.slug}" in published_keys:
            continue
        chosen.append(excerpt)
    return chosen


def select_entries(config: Config, entries: list[Entry], now: datetime,
                   published_keys: set[str], taken_urls: set[str],
                   slots: int) -> list[Candidate]:
    lookback = timedelta(days=config.issue.lookback_days)
    feed_weight = {f.name: f.weight for f in config.feeds}
    candidates: list[Candidate] = []
    for entry in entries:
        if not in_window(entry, now, lookback):
            continue
        if any(k in published_keys for k in history_keys(entry.url, entry.guid, entry.title)):
            continue
        section_id, relevance = classify(entry, config.sections)
        if section_id is None:
            if config.issue.unmatched == "drop":
                continue
            section_id = ALSO_ID
        score = (relevance + 2 * _recency(entry.published, now, lookback)) \
            * feed_weight.get(entry.feed_name, 1.0)
        candidates.append(Candidate(entry, section_id, relevance, score))
    # Best first; ties broken deterministically so rebuilds are byte-identical.
    candidates.sort(key=lambda c: (-c.score, -(c.entry.published.timestamp()),
                                   c.entry.url))
    chosen: list[Candidate] = []
    per_source: dict[str, int] = defaultdict(int)
    seen_urls = set(taken_urls)
    seen_guids: set[tuple[str, str]] = set()
    for candidate in candidates:
        if len(chosen) >= slots:
            break
        entry = candidate.entry
        url = canonical_url(entry.url)
        if url in seen_urls or (entry.feed_name, entry.guid) in seen_guids:
            continue
        if any(title_similarity(entry.title, c.entry.title) >= 0.8 for c in chosen):
            continue
        if per_source[entry.feed_name] >= config.issue.max_per_source:
            continue
        per_source[entry.feed_name] += 1
        seen_urls.add(url)
        seen_guids.add((entry.feed_name, entry.guid))
        chosen.append(candidate)
    return chosen


def _curated_item(excerpt: CuratedExcerpt) -> Item:
    return Item(
        id=f"c-{excerpt.slug}", kind="curated", title=excerpt.title, url=excerpt.url,
        source=excerpt.source, author=excerpt.author,
        published=excerpt.published.isoformat() if excerpt.published else None,
        excerpt=excerpt.excerpt, note=excerpt.note, image=excerpt.image,
        image_alt=excerpt.image_alt, tags=excerpt.tags)


def _feed_item(candidate: Candidate) -> Item:
    entry = candidate.entry
    return Item(
        id=item_id("f", entry.url), kind="feed", title=entry.title, url=entry.url,
        source=entry.feed_name, author=entry.author,
        published=entry.published.isoformat() if entry.published else None,
        excerpt=entry.excerpt, note=None, image=entry.image,
        image_alt=entry.title if entry.image else None, tags=entry.tags)


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:—–- ") + "…"


def subject_and_preheader(config: Config, number: int, items: list[Item]) -> tuple[str, str]:
    name = config.newsletter.name
    lead = items[0].title if items else "This week in product careers"
    subject = _clip(f"{config.issue.subject_prefix}{name} #{number}: {lead}", SUBJECT_MAX)
    others = [i.title for i in items[1:4]]
    if others:
        preheader = "Also inside: " + "; ".join(others)
        more = len(items) - 1 - len(others)
        if more > 0:
            preheader += f"; and {more} more"
    else:
        preheader = f"Issue #{number} of {name}: {config.newsletter.tagline or 'product careers'}"
    preheader = _clip(preheader, PREHEADER_MAX)
    return subject, preheader


def assemble(config: Config, week: str, number: int, now: datetime,
             excerpts: list[CuratedExcerpt], entries: list[Entry],
             published_keys: set[str], intro: str | None = None) -> Issue:
    curated = curated_for_week(excerpts, week, now, published_keys)
    curated_urls = {canonical_url(e.url) for e in curated}
    slots = max(0, config.issue.max_items - len(curated))
    chosen = select_entries(config, entries, now, published_keys, curated_urls, slots)

    by_section: dict[str, list[Item]] = defaultdict(list)
    for excerpt in curated:
        by_section[excerpt.section].append(_curated_item(excerpt))
    for candidate in chosen:
        by_section[candidate.section_id or ALSO_ID].append(_feed_item(candidate))

    section_titles = [(s.id, s.title) for s in config.sections] + [(ALSO_ID,
                                                                     config.issue.also_title)]
    sections = tuple(Section(sid, title, tuple(by_section[sid]))
                     for sid, title in section_titles if by_section.get(sid))
    items = [item for section in sections for item in section.items]
    subject, preheader = subject_and_preheader(config, number, items)
    return Issue(id=week, number=number, date=week_day(week, config.schedule.weekday),
                 subject=subject, preheader=preheader, sections=sections, intro=intro)
