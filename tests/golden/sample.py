"""Fixed issues for the render, check, golden and benchmark tests: no feeds, no clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from pipeline.models import Issue, Item, Passage, Section

WEEK = "2026-W48"

_INTERVIEW = "https://www.example.org/interviews/clement-kao-breaking-into-product"
_TOPICS = [
    ("How I prepared for product sense interviews", "Lenny's Newsletter", "Lenny Rachitsky"),
    ("The first 90 days as an associate product manager", "Mind the Product", "Emily Tate"),
    ("Roadmaps are a communication tool, not a plan", "SVPG", "Marty Cagan"),
    ("What a career ladder for product managers should say", "Reforge", None),
    ("Pay bands for product roles in 2026", "Levels.fyi Blog", "Zuhayeer Musa"),
    ("Discovery habits that survive a reorg", "Product Talk", "Teresa Torres"),
    ("Writing a one-page spec people actually read", "The Beautiful Mess", "John Cutler"),
    ("From support engineer to PM: a switch in eighteen months", "Built In", "Ana Ruiz"),
    ("When the hiring manager asks about a failed launch", "Exponent", None),
]
_EXCERPT = ("Most candidates spend their preparation on frameworks, and the interviewers can "
            "tell within a minute. What they want to see is judgement: which user you pick, "
            "which problem you refuse to solve, and how you would know you were wrong.")


def _passage(n: int, note: str | None) -> Passage:
    return Passage(
        id=f"c-kao-{n}",
        excerpt=(f"Passage {n}: treat your career like a product. Find the users you serve, "
                 "the problems you can solve for them, and ship small proofs.\n\n"
                 "Nobody asks you to show up; you show up anyway, and you write it down."),
        note=note)


def _interview(passages: list[Passage]) -> Item:
    """One article quoted several times: one item, a passage per excerpt (as assemble makes
    it); `excerpt` and `note` join them."""
    notes = [p.note for p in passages if p.note]
    return Item(
        id=passages[0].id, kind="curated",
        title="Breaking into product: an interview with Clement Kao",
        url=_INTERVIEW, source="Product Manager HQ", author="Clement Kao",
        published="2026-11-18T09:00:00+00:00",
        excerpt="\n\n".join(p.excerpt for p in passages),
        note="\n\n".join(notes) if notes else None,
        excerpts=tuple(passages) if len(passages) > 1 else ())


def _feed(n: int) -> Item:
    title, source, author = _TOPICS[n % len(_TOPICS)]
    return Item(
        id=f"f-{n:03d}", kind="feed", title=title,
        url=f"https://news.example.com/{n}/{title.lower().replace(' ', '-')[:40]}",
        source=source, author=author, published=f"2026-11-{17 + n % 6:02d}T12:00:00+00:00",
        excerpt=_EXCERPT, note="Worth it for the second half." if n % 3 == 0 else None,
        image=(f"https://images.example.com/{n}.jpg" if n % 4 == 1 else None),
        image_alt=("A whiteboard covered in sticky notes" if n == 1 else None))


def sample_issue(items: int = 12) -> Issue:
    """An issue of `items` entries: three passages of one interview (one article, one
    headline), then feed items, spread over three sections; an intro; images with and without
    their own alt text."""
    passages = [_passage(1, "The best answer to 'how do I start?' I have read this year."),
                _passage(2, None), _passage(3, "Read this one twice.")][:items]
    curated = [_interview(passages)] if passages else []
    feed = [_feed(n) for n in range(max(0, items - len(passages)))]
    half = len(feed) // 2
    sections = [Section("breaking-in", "Breaking into product", tuple(curated)),
                Section("craft", "The craft", tuple(feed[:half])),
                Section("growth", "Growth and leadership", tuple(feed[half:]))]
    return Issue(
        id=WEEK, number=12, date=date(2026, 11, 23),
        subject="PM Career Digest #12: an interview with Clement Kao",
        preheader="Treat your career like a product, discovery habits, and pay bands for 2026.",
        sections=tuple(s for s in sections if s.items),
        intro=("This week is about getting in the door.\n\n"
               "Three passages from one long interview, then the best of the feeds."))


def with_items(issue: Issue, **changes) -> Issue:
    """The issue with its first item changed (for crafted bad cases)."""
    first = issue.sections[0]
    if {"excerpt", "note"} & changes.keys():  # the changed text is the item's one passage
        changes.setdefault("excerpts", ())
    item = replace(first.items[0], **changes)
    return replace(issue, sections=(replace(first, items=(item, *first.items[1:])),
                                    *issue.sections[1:]))
