"""One headline per article: the editor's excerpts grouped by the article they quote. Pure.

The editor may quote one article many times, in several files and even several sections. The
reader sees it once: one item, in one section, with every passage and its note under the title.
Which article an excerpt quotes is its canonical URL (identity.py: tracking parameters, `www.`,
a trailing slash and the fragment do not make another article). The article goes into the
section of the first of its excerpts marked `primary = true`, else of its first excerpt in the
editor's order (`order`, then `added`); it stands where its first excerpt would stand.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from ..identity import canonical_url
from ..models import CuratedExcerpt, Issue, Item, Passage


def group_by_article(excerpts: Iterable[CuratedExcerpt]) -> list[list[CuratedExcerpt]]:
    """The excerpts of each article together, articles in the order of their first excerpt,
    excerpts in the order given (the editor's)."""
    articles: dict[str, list[CuratedExcerpt]] = {}
    for excerpt in excerpts:
        articles.setdefault(canonical_url(excerpt.url), []).append(excerpt)
    return list(articles.values())


def lead_excerpt(article: list[CuratedExcerpt]) -> CuratedExcerpt:
    """The excerpt whose section, title and byline the article takes: the first marked
    `primary`, else the first."""
    return next((e for e in article if e.primary), article[0])


def article_item(article: list[CuratedExcerpt]) -> Item:
    """One item for all the excerpts of one article. A single excerpt gives the item it always
    gave; several give an item whose `excerpts` keeps each passage with its note, and whose
    `excerpt`/`note` (the issue.json contract's plain-text fields) join them with blank
    lines."""
    lead = lead_excerpt(article)
    first = article[0]
    image_from = lead if lead.image else next((e for e in article if e.image), lead)
    passages = tuple(Passage(f"c-{e.slug}", e.excerpt, e.note) for e in article)
    notes = [p.note for p in passages if p.note]
    return Item(
        id=f"c-{first.slug}", kind="curated", title=lead.title, url=lead.url,
        source=lead.source, author=lead.author,
        published=lead.published.isoformat() if lead.published else None,
        excerpt="\n\n".join(p.excerpt for p in passages if p.excerpt),
        note="\n\n".join(notes) if notes else None,
        image=image_from.image, image_alt=image_from.image_alt,
        tags=tuple(dict.fromkeys(tag for e in article for tag in e.tags)),
        excerpts=passages if len(passages) > 1 else ())


def curated_items(excerpts: Iterable[CuratedExcerpt]) -> list[tuple[str, Item]]:
    """(section id, item) for every article the excerpts quote, in the editor's order."""
    return [(lead_excerpt(article).section, article_item(article))
            for article in group_by_article(excerpts)]


def merge_repeats(issue: Issue) -> Issue:
    """An issue.json written before one headline per article kept each excerpt as an item of
    its own, one after another in a section: such a run of items of one URL becomes one item
    with a passage each, as the email always showed it. An issue without one is returned as
    it is."""
    sections = []
    for section in issue.sections:
        items: list[Item] = []
        for item in section.items:
            previous = items[-1] if items else None
            if previous is None or item.kind != "curated" or previous.kind != "curated" \
                    or canonical_url(item.url) != canonical_url(previous.url):
                items.append(item)
                continue
            merged = (*previous.passages, *item.passages)
            notes = [p.note for p in merged if p.note]
            items[-1] = replace(previous, excerpts=merged,
                                excerpt="\n\n".join(p.excerpt for p in merged if p.excerpt),
                                note="\n\n".join(notes) if notes else None)
        sections.append(replace(section, items=tuple(items)))
    if all(len(new.items) == len(old.items) for new, old in zip(sections, issue.sections,
                                                                strict=True)):
        return issue
    return replace(issue, sections=tuple(sections))
