"""What the desk page shows, as plain values for its template (run in a worker thread)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from ...config import Config
from ...identity import short_id
from ...issue.assemble import ALSO_ID
from ...issue.candidates import CandidateRow, filter_rows
from ...jobs.desk import WeekReview, load_review, preview
from ...models import Issue
from ...state.handle import State
from ...weeks import week_id, week_start

STATUS_WORDS = {None: "not built yet", "built": "draft built", "approved": "approved",
                "sending": "being delivered", "sent": "sent", "skipped": "skipped"}


def _http(url: str) -> str | None:
    """Only http(s) links are shown as links (a feed's URL is outside text)."""
    return url if url.lower().startswith(("https://", "http://")) else None


def _row(row: CandidateRow, titles: dict[str, str]) -> dict[str, Any]:
    entry = row.entry
    return {"id": row.id, "rank": row.rank, "title": entry.title, "href": _http(entry.url),
            "url": entry.url, "source": entry.feed_name, "author": entry.author,
            "published": (entry.published.date().isoformat()
                          if entry.published and entry.dated else None),
            "section": row.section, "section_title": titles.get(row.section or "", "no section"),
            "score": f"{row.score:.3f}", "keywords": row.keywords, "status": row.status,
            "reason": row.reason, "copies": [c.source for c in row.copies],
            "excerpt": entry.excerpt}


def _issue_sections(week_review: WeekReview) -> list[dict[str, Any]]:
    """The issue's sections with, for each excerpt, what the note and order forms need."""
    by_slug = {e.slug: e for e in week_review.review.curated}
    sections = []
    for section in week_review.issue.sections:
        items = []
        # A card per excerpt file: an article quoted several times is one item of the issue
        # with a passage per file, and each file has its own note and order.
        cards = [(item, passage) for item in section.items
                 for passage in (item.passages if item.kind == "curated" else (None,))]
        curated = [passage.id for _, passage in cards if passage is not None]
        for item, passage in cards:
            excerpt = by_slug.get(passage.id.removeprefix("c-")) if passage else None
            position = curated.index(passage.id) if excerpt is not None and passage else -1
            items.append({
                "kind": item.kind, "title": item.title, "href": _http(item.url),
                "source": item.source, "note": (passage.note if passage else item.note) or "",
                "excerpt": passage.excerpt if passage else item.excerpt,
                # An excerpt is named by its file (one article may be quoted twice).
                "item": excerpt.slug if excerpt is not None else short_id(item.url),
                "anchor": short_id(item.url), "file": excerpt.path.name if excerpt else None,
                "first": position == 0, "last": position == len(curated) - 1})
        sections.append({"id": section.id, "title": section.title, "cards": items})
    return sections


def _neighbours(config: Config, week: str) -> tuple[str, str]:
    start = week_start(week, config.newsletter.tz)
    tz = config.newsletter.tz
    return (week_id(start - timedelta(days=3), tz), week_id(start + timedelta(days=10), tz))


def page_context(config: Config, now: datetime, week: str, filters: dict[str, str]
                 ) -> dict[str, Any]:
    with State(config, now) as state:
        week_review = load_review(state, week)
        _, _, check = preview(state, week_review.issue)
    titles = {s.id: s.title for s in config.sections} | {ALSO_ID: config.issue.also_title}
    rows = week_review.review.rows
    shown = filter_rows(rows, filters["section"], filters["source"], filters["q"],
                        filters["status"])
    issue: Issue = week_review.issue
    previous, following = _neighbours(config, week)
    status = week_review.status.value if week_review.status else None
    return {
        "name": config.newsletter.name, "week": week, "previous": previous,
        "following": following, "status": STATUS_WORDS.get(status, status), "number":
        issue.number, "subject": issue.subject, "preheader": issue.preheader,
        "approval": week_review.approval, "can_approve": week_review.can_approve,
        "frozen": week_review.frozen, "rows": [_row(r, titles) for r in shown],
        "total": len(rows), "in_draft": sum(1 for r in rows if r.in_draft),
        "sections": [(s.id, s.title) for s in config.sections],
        "row_sections": sorted({r.section for r in rows if r.section},
                               key=lambda s: list(titles).index(s) if s in titles else 99),
        "titles": titles,
        "sources": sorted({r.entry.feed_name for r in rows}
                          | {c.source for r in rows for c in r.copies}),
        "issue_sections": _issue_sections(week_review), "items": len(issue.items),
        "errors": check.errors, "warnings": check.warnings,
        "version": preview_version(issue), "drops": len(week_review.drops.reasons),
    }


def preview_version(issue: Issue) -> str:
    """Changes when the issue does: it is in the iframes' URLs, so the browser reloads them."""
    data = json.dumps(issue.to_json(), sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()[:12]
