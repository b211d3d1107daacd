"""The editor's edits of a week (`digest pick`, `digest drop`, the desk's buttons: one code path):
files in the curated folder, written atomically under the state lock, so a page and a command
racing never lose or corrupt each other's change and never change a week whose delivery has
begun (`digest run` holds the same lock from its build to its last message).

ITEM is a candidate's short id (`digest candidates`) or a URL: the article in any of its
feeds, or an excerpt of the week."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from ..curation import drops
from ..curation.edit import set_fields
from ..curation.excerpts import write_excerpt
from ..errors import LockedError, UsageError
from ..identity import canonical_url, short_id, strip_tracking
from ..issue.assemble import ALSO_ID
from ..issue.candidates import CandidateRow
from ..models import CuratedExcerpt
from ..state import issues
from ..state.handle import State
from ..state.lock import state_lock
from . import guard
from .desk import WeekReview, load_review

LOCK_WAIT_SECONDS = 10.0  # an edit waits this long for another edit or a short job
_in_process = threading.Lock()  # the desk's worker threads: the state lock counts per process
_URL = re.compile(r"^https?://", re.I)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&!])")


@dataclass(frozen=True)
class EditResult:
    message: str
    paths: tuple[Path, ...] = ()
    notes: tuple[str, ...] = ()  # e.g. an approval withdrawn


@contextmanager
def editing(config: Config) -> Iterator[None]:
    """Hold the state lock for one edit, waiting up to LOCK_WAIT_SECONDS for it: two edits
    take turns; a long job (a send) makes the edit fail with LockedError (exit 75)."""
    with _in_process:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            stack = ExitStack()
            try:
                stack.enter_context(state_lock(config))
                break
            except LockedError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)
        with stack:
            yield


def shown(config: Config, path: Path) -> str:
    """A path as the editor knows it: relative to the newsletter's folder when inside it."""
    try:
        return str(path.relative_to(config.root))
    except ValueError:
        return str(path)


def _editable(state: State, week: str) -> WeekReview:
    if guard.started(state, week):
        raise UsageError(f"issue {week} is already being delivered (or sent): it can no "
                         "longer change", hint="pick and drop for a later week with --week W")
    return load_review(state, week)


def _withdrawn(state: State, week: str) -> tuple[str, ...]:
    if issues.withdraw_approval(state.db, week):
        return (f"the approval of {week} is withdrawn (the issue changed): rebuild and approve "
                "it again (the desk's Approve, or `digest build` then `digest approve`)",)
    return ()


def _matches(item: str, url: str) -> bool:
    if _URL.match(item):
        return canonical_url(item) == canonical_url(url)
    return item.strip().lower() == short_id(url)


def find_row(week_review: WeekReview, item: str) -> CandidateRow | None:
    return next((row for row in week_review.review.rows
                 if any(_matches(item, url) for url in row.urls)), None)


def find_pick(week_review: WeekReview, item: str) -> CuratedExcerpt | None:
    """The week's excerpt of the article: one pinned to the week (even if vetoed), else one
    of the draft's."""
    pinned = [e for e in week_review.excerpts if e.week == week_review.week]
    for excerpt in (*pinned, *week_review.review.curated):
        if item in (excerpt.slug, excerpt.path.name) or _matches(item, excerpt.url):
            return excerpt
    return None


def _unknown(item: str, week: str) -> UsageError:
    return UsageError(f"{item!r} is not a candidate of {week}",
                      hint=f"`digest candidates --week {week}` lists the ids; an article no "
                           "feed brought: `digest curate add URL`")


def quote_text(text: str) -> str:
    """Feed text as Markdown that reads back as the same text: markup characters escaped, and
    a line that would open a list or a heading defused."""
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    text = re.sub(r"(?m)^(\s*)(\d+)([.)])(?=\s|$)", r"\1\2\\\3", text)
    return re.sub(r"(?m)^(\s*)([-+=])(?=\s|$)", r"\1\\\2", text)


def pick(state: State, week: str, item: str, section: str | None = None,
         note: str | None = None, order: int | None = None) -> EditResult:
    """A candidate becomes an excerpt file pinned to the week (the feed's text as the quote);
    an article already picked has its section, note or order changed instead. A veto of it
    for the week is lifted. `note` "" removes the note."""
    config = state.config
    section_ids = {s.id for s in config.sections}
    if section is not None and section not in section_ids:
        raise UsageError(f"section {section!r} is not configured",
                         hint=f"valid: {', '.join(sorted(section_ids))}")
    with editing(config):
        current = _editable(state, week)
        folder = config.existing_curated_dir()
        existing = find_pick(current, item)
        row = find_row(current, item)
        if existing is not None:
            changes = {k: v for k, v in (("section", section), ("note", note),
                                         ("order", order)) if v is not None}
            if changes:
                set_fields(existing.path, section_ids, changes)
            path = existing.path
            what = (f"updated {', '.join(changes)} of" if changes else "already picked:")
        elif row is not None:
            path = _write_pick(config, week, row, section, note, order, state)
            what = "picked"
        else:
            raise _unknown(item, week)
        urls = [*(row.urls if row else ()), *([existing.url] if existing else [])]
        lifted = [u for u in urls if u in current.drops]
        notes: tuple[str, ...] = ()
        if lifted:
            drops.remove_drops(folder, week, lifted)
            notes += (f"its veto for {week} is lifted",)
        if what != "already picked:" or lifted:
            notes += _withdrawn(state, week)
    return EditResult(f"{week}: {what} {shown(config, path)}", (path,), notes)


def _write_pick(config: Config, week: str, row: CandidateRow, section: str | None,
                note: str | None, order: int | None, state: State) -> Path:
    entry = row.entry
    section = section or row.section
    if section in (None, ALSO_ID):
        raise UsageError(f"{entry.title!r} matches no section", hint="pass --section S, one of: "
                         + ", ".join(s.id for s in config.sections))
    assert section is not None
    quote = entry.excerpt or entry.text or entry.title
    return write_excerpt(
        config.curated_dir, {s.id for s in config.sections}, title=entry.title,
        url=strip_tracking(entry.url), source=entry.feed_name, section=section,
        quote=quote_text(quote), added=state.now, author=entry.author,
        published=entry.published.date() if entry.published and entry.dated else None,
        note=note or None, image=entry.image, image_alt=entry.title if entry.image else None,
        tags=entry.tags, week=week, order=order)


def drop(state: State, week: str, item: str, reason: str | None = None,
         undo: bool = False) -> EditResult:
    """Veto the article for the week (every URL it came under), or lift the veto (`undo`).
    ITEM may also be any http(s) URL: a veto ahead of the feeds."""
    config = state.config
    with editing(config):
        current = _editable(state, week)
        row = find_row(current, item)
        existing = find_pick(current, item)
        if row is not None:
            urls = list(row.urls) + ([existing.url] if existing else [])
        elif existing is not None:
            urls = [existing.url]
        elif _URL.match(item) and re.match(r"^https?://[^\s/]+\S*$", item.strip()):
            urls = [item.strip()]
        elif undo and any(_matches(item, u) for u in current.drops.reasons):
            urls = [u for u in current.drops.reasons if _matches(item, u)]
        else:
            raise _unknown(item, week)
        folder = config.existing_curated_dir()
        before = current.drops.urls
        if undo:
            after = drops.remove_drops(folder, week, urls)
            what = ("veto lifted for" if any(u in current.drops for u in urls)
                    else "nothing to lift: not dropped,")
        else:
            after = drops.add_drops(folder, week, urls, reason)
            what = "dropped"
        changed = before != after.urls or bool(reason)
        notes = _withdrawn(state, week) if changed else ()
    path = drops.drops_path(folder, week)
    return EditResult(f"{week}: {what} {canonical_url(urls[0])} ({shown(config, path)})",
                      (path,), notes)


def move(state: State, week: str, item: str, step: int) -> EditResult:
    """Move a picked excerpt `step` places up (-1) or down (+1) in its section: the section's
    excerpts get `order` 1, 2, … in the new order (only the files whose order changes)."""
    config = state.config
    with editing(config):
        current = _editable(state, week)
        excerpt = find_pick(current, item)
        if excerpt is None or excerpt not in current.review.curated:
            raise UsageError(f"{item!r} is not an excerpt in the draft of {week}",
                             hint="pick it first; feed items follow the excerpts")
        siblings = [e for e in current.review.curated if e.section == excerpt.section]
        index = siblings.index(excerpt)
        target = min(max(index + step, 0), len(siblings) - 1)
        siblings.insert(target, siblings.pop(index))
        section_ids = {s.id for s in config.sections}
        changed = []
        for number, sibling in enumerate(siblings, 1):
            if sibling.order != number:
                set_fields(sibling.path, section_ids, {"order": number})
                changed.append(sibling.path)
        notes = _withdrawn(state, week) if changed else ()
    return EditResult(f"{week}: {excerpt.title!r} is number {target + 1} of {len(siblings)} "
                      f"in its section", tuple(changed), notes)
