"""Assemble stage: curated excerpts + feed entries + history → one Issue. Pure: no I/O."""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from ..config import UNMATCHED_SECTION_ID, Config, SectionConfig
from ..htmltext import clip
from ..identity import (
    TitleIndex,
    canonical_url,
    history_keys,
    is_global_guid,
    item_id,
    title_tokens,
)
from ..models import CuratedExcerpt, Entry, Issue, Item, Section
from ..weeks import week_day
from .articles import curated_items, group_by_article

ALSO_ID = UNMATCHED_SECTION_ID
SUBJECT_MAX = 78  # keeps the subject whole on most phone inbox lists
HEADLINE_MIN = 20  # a headline clipped shorter than this says nothing
PREHEADER_MIN = 40  # check.py warns outside 40-110
PREHEADER_MAX = 110


@dataclass(frozen=True)
class Candidate:
    entry: Entry
    section_id: str | None  # None: matches no section and [issue] unmatched = "drop"
    relevance: float
    score: float


class Verdict(StrEnum):
    """What the selection made of a candidate (`rank_entries`), best reason first."""

    CHOSEN = "chosen"
    PUBLISHED = "published"  # in an earlier issue (URL, GUID or a near-identical title)
    DROPPED = "dropped"  # the editor's veto for the week (curation/drops.py)
    UNMATCHED = "unmatched"  # no section, and [issue] unmatched = "drop"
    DUPLICATE = "duplicate"  # the same article is already in the issue
    SOURCE_CAP = "source cap"  # its feed has max_per_source items in already
    NO_ROOM = "no room"  # would go in, but the issue is full (max_items)


@dataclass(frozen=True)
class Ranked:
    candidate: Candidate
    verdict: Verdict


TITLE_HIT = 3.0  # a keyword in the title counts this many times one in the text
TEXT_HITS_MAX = 3  # repeats of one keyword in the text that still add to the score
RECENCY_WEIGHT = 0.5
UNDATED_RECENCY = 0.5  # an entry dated by when we first saw it may be older than that


def _keyword_regex(keywords: Iterable[str]) -> re.Pattern[str] | None:
    """One regex for lower-cased keywords (whitespace folded): longest first, on word
    boundaries. Matched against lower-cased text: re.IGNORECASE would make the search ~8×
    slower. A word-boundary start (\\b) keeps the engine's first-character skip that (?<!\\w)
    loses."""
    keys = sorted(set(keywords), key=lambda k: (-len(k), k))
    if not keys:
        return None
    body = "|".join((r"\b" if re.match(r"\w", k) else r"(?<!\w)")
                    + r"\s+".join(re.escape(w) for w in k.split()) for k in keys)
    return re.compile(rf"(?:{body})(?!\w)")


@functools.lru_cache(maxsize=16)
def _matcher(sections: tuple[SectionConfig, ...]
             ) -> tuple[re.Pattern[str] | None, dict[str, list[tuple[int, float]]]]:
    """One regex for every keyword of every section and what each match means:
    [(section index, weight)]."""
    meaning: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for index, section in enumerate(sections):
        for keyword, weight in section.weighted_keywords:
            meaning[" ".join(keyword.lower().split())].append((index, weight))
    return _keyword_regex(meaning), dict(meaning)


@functools.lru_cache(maxsize=16)
def _excluders(sections: tuple[SectionConfig, ...]) -> tuple[re.Pattern[str] | None, ...]:
    """Per section, one regex for its `exclude` words (None: it excludes nothing)."""
    return tuple(_keyword_regex(" ".join(w.lower().split()) for w in s.exclude if w.strip())
                 for s in sections)


def classify(entry: Entry, sections: tuple[SectionConfig, ...]) -> tuple[str | None, float]:
    """The best-matching section and its relevance: section keywords (with their weights)
    matched on word boundaries in the title (counting TITLE_HIT times), the text and the tags,
    times the section's weight. A section one of whose `exclude` words the entry has is not a
    match. (None, 0.0) when nothing matches; ties go to the earlier section."""
    pattern, meaning = _matcher(sections)
    if pattern is None:
        return None, 0.0
    title = entry.title.lower()
    scores = [0.0] * len(sections)
    for found in {" ".join(m.split()) for m in pattern.findall(title)}:
        for index, weight in meaning[found]:
            scores[index] += TITLE_HIT * weight
    body = " ".join((entry.text or entry.excerpt, *entry.tags)).lower()
    hits: dict[str, int] = defaultdict(int)
    for match in pattern.findall(body):
        hits[" ".join(match.split())] += 1
    for found, count in hits.items():
        for index, weight in meaning[found]:
            scores[index] += min(count, TEXT_HITS_MAX) * weight
    best: tuple[str | None, float] = (None, 0.0)
    for section, score, excluder in zip(sections, scores, _excluders(sections), strict=True):
        score *= section.weight
        if score > best[1] and not (excluder and (excluder.search(title)
                                                  or excluder.search(body))):
            best = (section.id, score)
    return best


def _recency(published: datetime | None, now: datetime, lookback: timedelta) -> float:
    if published is None:
        return 0.0
    age = (now - published) / lookback
    return max(0.0, 1.0 - age)


def score(relevance: float, recency: float, feed_weight: float, matched: bool) -> float:
    """Relevance (saturating: the fifth keyword adds less than the first) weighs four times
    as much as recency (0..1 across the lookback window: a weekly issue's items are all
    recent); an item that matches no section ranks below every one that does."""
    if not matched:
        return feed_weight * RECENCY_WEIGHT * recency / 2
    return feed_weight * (2 * relevance / (relevance + 3) + RECENCY_WEIGHT * recency)


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


def cap_curated(queue: list[CuratedExcerpt], max_items: int) -> list[CuratedExcerpt]:
    """The excerpts of at most `max_items` articles (one headline each, articles.py), the first
    in the editor's order: the rest wait for the next issue. An article with an excerpt pinned
    to this week has no next issue, so it always goes in."""
    articles = group_by_article(queue)
    pinned = [any(e.week is not None for e in article) for article in articles]
    room = max_items - sum(pinned)
    chosen = []
    for article, is_pinned in zip(articles, pinned, strict=True):
        if not is_pinned:
            if room <= 0:
                continue
            room -= 1
        chosen += article
    return sorted(chosen, key=lambda e: e.sort_key)


def click_factor(weight: float) -> float:
    """`[issue] learn_from_clicks`: a source's weight (its smoothed human click-through over
    the average, stats/rates.source_weights) blended into its items' score: the square root,
    held within 0.5-2, so clicks lift or lower a source without drowning relevance (a source
    read four times as often as the average ranks its items twice as high)."""
    return min(2.0, max(0.5, weight ** 0.5))


def select_entries(config: Config, entries: list[Entry], now: datetime,
                   published_keys: set[str], taken_urls: set[str],
                   slots: int, taken_titles: Iterable[str] = (),
                   dropped: frozenset[str] = frozenset(),
                   source_weights: Mapping[str, float] | None = None) -> list[Candidate]:
    """The best `slots` entries: in the lookback window, never published before (by canonical
    URL, global GUID or a near-identical title), not vetoed (`dropped`: canonical URLs), one
    per article across feeds and none of an article already in the issue (`taken_urls`,
    `taken_titles`: the curated excerpts), at most max_per_source per feed. Unmatched entries
    go to the "also" section or are dropped ([issue] unmatched)."""
    return [r.candidate for r in rank_entries(config, entries, now, published_keys, taken_urls,
                                              slots, taken_titles, dropped,
                                              source_weights=source_weights)
            if r.verdict is Verdict.CHOSEN]


def rank_entries(config: Config, entries: list[Entry], now: datetime,
                 published_keys: set[str], taken_urls: set[str], slots: int,
                 taken_titles: Iterable[str] = (), dropped: frozenset[str] = frozenset(),
                 explain: bool = False,
                 source_weights: Mapping[str, float] | None = None) -> list[Ranked]:
    """The entries of the lookback window, best first, each with its verdict (see
    select_entries). Without `explain` the ranking stops when the issue is full; with it,
    every entry of the window is judged (`digest candidates`, the desk) and the choice is
    the same."""
    lookback = timedelta(days=config.issue.lookback_days)
    feed_weight = {f.name: f.weight * click_factor((source_weights or {}).get(f.name, 1.0))
                   for f in config.feeds}
    candidates: list[Candidate] = []
    for entry in entries:
        if not in_window(entry, now, lookback):
            continue
        section_id, relevance = classify(entry, config.sections)
        if relevance < config.issue.min_score:  # a weak match is no match
            section_id, relevance = None, 0.0
        unmatched = section_id is None and config.issue.unmatched == "drop"
        if unmatched and not explain:
            continue
        recency = _recency(entry.published, now, lookback)
        if not entry.dated:
            recency *= UNDATED_RECENCY
        candidates.append(Candidate(
            entry, None if unmatched else section_id or ALSO_ID, relevance,
            score(relevance, recency, feed_weight.get(entry.feed_name, 1.0),
                  section_id is not None)))
    # Best first; ties broken deterministically so rebuilds are byte-identical. Identity
    # (canonical URL, title words) is worked out only for the candidates looked at.
    candidates.sort(key=lambda c: (-c.score, -c.entry.published.timestamp(), c.entry.url,
                                   c.entry.guid))
    history_titles = TitleIndex.from_history(published_keys)
    chosen_titles = TitleIndex(title_tokens(t) for t in taken_titles)
    ranked: list[Ranked] = []
    chosen = 0
    per_source: dict[str, int] = defaultdict(int)
    seen_urls = {f"url:{url}" for url in taken_urls}  # canonical URLs, as history keys
    seen_guids: set[str] = set()
    for candidate in candidates:
        if chosen >= slots and not explain:
            break
        entry = candidate.entry
        keys = history_keys(entry.url, entry.guid, entry.title)
        tokens = title_tokens(entry.title)
        # Two entries of one URL (Scripting News gives distinct posts one link) would send
        # the reader to the same page twice: the better one goes in.
        url_key = keys[0]
        if any(k in published_keys for k in keys) or history_titles.near(tokens):
            verdict = Verdict.PUBLISHED
        elif url_key[4:] in dropped:
            verdict = Verdict.DROPPED
        elif candidate.section_id is None:
            verdict = Verdict.UNMATCHED
        elif (url_key in seen_urls or _guid_key(entry) in seen_guids
              or chosen_titles.near(tokens)):
            verdict = Verdict.DUPLICATE
        elif per_source[entry.feed_name] >= config.issue.max_per_source:
            verdict = Verdict.SOURCE_CAP
        elif chosen >= slots:
            verdict = Verdict.NO_ROOM
        else:
            verdict = Verdict.CHOSEN
            chosen += 1
            per_source[entry.feed_name] += 1
            seen_urls.add(url_key)
            seen_guids.add(_guid_key(entry))
            chosen_titles.add(tokens)
        ranked.append(Ranked(candidate, verdict))
    return ranked


def _guid_key(entry: Entry) -> str:
    """A GUID names one article across feeds only when it is a URL or URI."""
    return entry.guid if is_global_guid(entry.guid) else f"{entry.feed_name}\x1f{entry.guid}"


def _feed_item(candidate: Candidate) -> Item:
    entry = candidate.entry
    return Item(
        id=item_id("f", entry.url), kind="feed", title=entry.title, url=entry.url,
        source=entry.feed_name, author=entry.author,
        # An entry dated only by when it was first seen shows no date.
        published=entry.published.isoformat() if entry.published and entry.dated else None,
        excerpt=entry.excerpt, note=None, image=entry.image,
        image_alt=entry.title if entry.image else None, tags=entry.tags)


def _distinct_titles(items: list[Item]) -> list[str]:
    """Each article's title once, in the email's order: several excerpts of one interview
    share its title, and "Also inside: X; X; X" would tell the reader nothing."""
    titles: dict[str, str] = {}
    for item in items:
        titles.setdefault(" ".join(item.title.split()).casefold(), item.title)
    return list(titles.values())


def subject_and_preheader(config: Config, number: int, items: list[Item],
                          day: date | None = None) -> tuple[str, str]:
    """The subject ([newsletter] subject: the lead article first, by default); the preheader
    (PREHEADER_MIN to PREHEADER_MAX characters, what inbox lists show after the subject) the
    next ones, as many whole titles as fit, then how many more articles there are."""
    name = config.newsletter.name
    titles = _distinct_titles(items)
    lead = titles[0] if titles else "This week in product careers"
    subject = _subject(config, lead, number, day, len(titles))
    others = titles[1:]
    preheader = ""
    for count in range(1, min(3, len(others)) + 1):
        more = len(others) - count
        text = "Also inside: " + "; ".join(others[:count]) + (f"; and {more} more"
                                                              if more else "")
        if preheader and len(text) > PREHEADER_MAX:
            break
        preheader = text
    tagline = config.newsletter.tagline
    about = f"Issue #{number} of {name}: {tagline or 'this week in product careers'}"
    if not preheader:
        preheader = about
    elif len(preheader) < PREHEADER_MIN:
        # Too short, the inbox fills the rest of the line with the email's first words.
        preheader = f"{preheader}. {tagline or about}"
    return subject, clip(preheader, PREHEADER_MAX)


def _subject(config: Config, headline: str, number: int, day: date | None, count: int) -> str:
    """[newsletter] subject filled in. Only the headline is clipped, so the whole subject fits
    SUBJECT_MAX when the template leaves it room: what the template itself says is never cut
    (and a template too long for any inbox still fails `long-subject`)."""
    values = {"number": number, "name": config.newsletter.name, "count": count,
              "date": f"{day.day} {day:%B %Y}" if day else ""}
    template, prefix = config.newsletter.subject, config.issue.subject_prefix
    room = SUBJECT_MAX - len(prefix) - len(template.format(headline="", **values))
    return prefix + template.format(headline=clip(headline, max(HEADLINE_MIN, room)), **values)


def select_curated(config: Config, week: str, now: datetime, excerpts: list[CuratedExcerpt],
                   published_keys: set[str], dropped: frozenset[str] = frozenset()
                   ) -> list[CuratedExcerpt]:
    """The excerpts that go in: the week's queue without the vetoed ones, capped."""
    queue = [e for e in curated_for_week(excerpts, week, now, published_keys)
             if canonical_url(e.url) not in dropped]
    return cap_curated(queue, config.issue.max_items)


def rank_for_issue(config: Config, now: datetime, curated: list[CuratedExcerpt],
                   entries: list[Entry], published_keys: set[str],
                   dropped: frozenset[str] = frozenset(), explain: bool = False,
                   source_weights: Mapping[str, float] | None = None) -> list[Ranked]:
    """The feed entries ranked for the slots the excerpts leave (rank_entries)."""
    return rank_entries(config, entries, now, published_keys,
                        {canonical_url(e.url) for e in curated},
                        # one slot per article (headline), whatever its excerpts
                        max(0, config.issue.max_items - len(group_by_article(curated))),
                        [e.title for e in curated], dropped, explain, source_weights)


def assemble(config: Config, week: str, number: int, now: datetime,
             excerpts: list[CuratedExcerpt], entries: list[Entry],
             published_keys: set[str], intro: str | None = None,
             dropped: frozenset[str] = frozenset(),
             source_weights: Mapping[str, float] | None = None) -> Issue:
    """The issue; `dropped` (canonical URLs, the editor's vetoes) never goes in.
    `source_weights` (learn_from_clicks): source name → weight, 1.0 = average; an input like
    the others, so the same state always assembles the same issue."""
    curated = select_curated(config, week, now, excerpts, published_keys, dropped)
    articles = curated_items(curated)
    chosen = [r.candidate for r in rank_for_issue(config, now, curated, entries, published_keys,
                                                  dropped, source_weights=source_weights)
              if r.verdict is Verdict.CHOSEN]

    by_section: dict[str, list[Item]] = defaultdict(list)
    for section_id, item in articles:
        by_section[section_id].append(item)
    for candidate in chosen:
        by_section[candidate.section_id or ALSO_ID].append(_feed_item(candidate))

    section_titles = [(s.id, s.title) for s in config.sections] + [(ALSO_ID,
                                                                     config.issue.also_title)]
    sections = tuple(Section(sid, title, tuple(by_section[sid]))
                     for sid, title in section_titles if by_section.get(sid))
    items = [item for section in sections for item in section.items]
    day = week_day(week, config.schedule.weekday)
    subject, preheader = subject_and_preheader(config, number, items, day)
    return Issue(id=week, number=number, date=day,
                 subject=subject, preheader=preheader, sections=sections, intro=intro)
