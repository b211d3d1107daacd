"""The frozen dataclasses that pass between stages: fetch → parse → assemble → render → deliver."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal


@dataclass(frozen=True)
class FetchResult:
    """What the fetch stage got for one feed: bytes to parse, or why there are none."""

    feed_name: str
    url: str
    final_url: str
    status: Literal["ok", "not_modified", "failed"]
    http_status: int | None = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0
    note: str | None = None  # e.g. "moved permanently: update the URL to …"


@dataclass(frozen=True)
class Entry:
    """One feed item, normalised: plain text excerpt, sanitised HTML, absolute links."""

    feed_name: str
    guid: str
    url: str
    title: str
    excerpt: str
    published: datetime | None
    author: str | None = None
    image: str | None = None
    content_html: str = ""  # sanitised with nh3; never trusted further than that
    tags: tuple[str, ...] = ()
    text: str = ""  # the start of the plain text (relevance matching)
    dated: bool = True  # False: the feed gave no plausible date; `published` is first-seen

    def to_json(self) -> dict[str, Any]:
        """The stored form (feed state, reused on a 304). The sanitised HTML is left out: no
        later stage reads it, and it is most of an entry's size."""
        data = asdict(self)
        del data["content_html"]
        data["published"] = self.published.isoformat() if self.published else None
        data["tags"] = list(self.tags)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        if known.get("published"):
            known["published"] = datetime.fromisoformat(known["published"])
        known["tags"] = tuple(known.get("tags") or ())
        return cls(**known)


@dataclass(frozen=True)
class CuratedExcerpt:
    """One of the editor's excerpt files, read (curation/excerpts.py)."""


    path: Path
    slug: str
    title: str
    url: str
    source: str
    section: str
    added: datetime
    excerpt: str  # plain text of the Markdown body
    author: str | None = None
    published: datetime | None = None
    note: str | None = None
    tags: tuple[str, ...] = ()
    order: int | None = None
    week: str | None = None  # pins the excerpt to one issue
    image: str | None = None
    image_alt: str | None = None
    primary: bool = False  # its section is its article's (several excerpts of one article)

    @property
    def sort_key(self) -> tuple:
        return (self.order if self.order is not None else 10**9, self.added, self.slug)


@dataclass(frozen=True)
class FeedReport:
    """Health of one feed in one run (table of `digest fetch`, `report.json`)."""

    name: str
    url: str
    status: str  # ok | not_modified | failed | gone | stale
    http_status: int | None = None
    entries: int = 0
    new: int = 0
    bytes: int = 0
    seconds: float = 0.0
    error: str | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Passage:
    """One excerpt of an article and the editor's note on it: an article the editor quoted
    several times is one Item with a Passage per excerpt file (`excerpts` in issue.json)."""

    id: str  # "c-<file stem>": the history remembers each excerpt file by it
    excerpt: str
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "excerpt": self.excerpt, "note": self.note}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Passage:
        return cls(id=str(data["id"]), excerpt=str(data.get("excerpt") or ""),
                   note=data.get("note"))


@dataclass(frozen=True)
class Item:
    """An item of an issue, as issue.json stores it (the PRODUCT.md contract): one article.
    When the editor quoted it several times, `excerpts` holds each passage with its note and
    `excerpt`/`note` hold them all, joined by blank lines (readers of the contract's fields
    see every passage)."""

    id: str
    kind: Literal["curated", "feed"]
    title: str
    url: str
    source: str
    author: str | None
    published: str | None  # ISO-8601
    excerpt: str
    note: str | None
    image: str | None = None
    image_alt: str | None = None
    tags: tuple[str, ...] = ()
    excerpts: tuple[Passage, ...] = ()  # set only for an article with several excerpts

    @property
    def passages(self) -> tuple[Passage, ...]:
        """What the templates show under the title, passage by passage."""
        return self.excerpts or (Passage(self.id, self.excerpt, self.note),)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["tags"] = list(self.tags)
        del data["excerpts"]
        if self.excerpts:
            data["excerpts"] = [p.to_json() for p in self.excerpts]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Item:
        known = {k: data.get(k) for k in cls.__dataclass_fields__}
        known["tags"] = tuple(data.get("tags") or ())
        known["excerpts"] = tuple(Passage.from_json(p) for p in data.get("excerpts") or ())
        return cls(**known)


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    items: tuple[Item, ...]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "items": [i.to_json() for i in self.items]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Section:
        return cls(id=data["id"], title=data["title"],
                   items=tuple(Item.from_json(i) for i in data["items"]))


@dataclass(frozen=True)
class Sponsor:
    """The week's sponsor block (curated/_sponsors/<week>.md): not an article, so not an item.
    `position` is resolved when the issue is assembled: "top", "after_intro",
    "after_section:<id>" (a section of this issue) or "bottom"."""

    title: str
    url: str
    name: str  # who sponsors
    text: str  # plain text paragraphs
    position: str
    label: str = "Sponsored"

    @property
    def after_section(self) -> str | None:
        return self.position.split(":", 1)[1] if self.position.startswith("after_section:") \
            else None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sponsor:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class Issue:
    """One week's issue, fully assembled; everything the templates need except the reader."""

    id: str  # ISO week, e.g. "2026-W48"
    number: int
    date: date  # the issue date: the scheduled weekday of that ISO week
    subject: str
    preheader: str
    sections: tuple[Section, ...]
    intro: str | None = None  # the editor's intro (plain text paragraphs), optional
    sponsor: Sponsor | None = None

    @property
    def items(self) -> tuple[Item, ...]:
        return tuple(item for section in self.sections for item in section.items)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "date": self.date.isoformat(),
            "subject": self.subject,
            "preheader": self.preheader,
            "intro": self.intro,
            "sections": [s.to_json() for s in self.sections],
            # Only when there is one: issue.json of a week without a sponsor stays as it was.
            **({"sponsor": self.sponsor.to_json()} if self.sponsor else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Issue:
        return cls(
            id=data["id"],
            number=int(data["number"]),
            date=date.fromisoformat(data["date"]),
            subject=data["subject"],
            preheader=data["preheader"],
            intro=data.get("intro"),
            sections=tuple(Section.from_json(s) for s in data["sections"]),
            sponsor=Sponsor.from_json(data["sponsor"]) if data.get("sponsor") else None,
        )


@dataclass(frozen=True)
class RenderedIssue:
    """The compiled issue, before personalisation. Placeholders mark per-reader values."""

    issue: Issue
    mjml: str
    html: str
    text: str
    tracked: bool = False  # article links go through /c/ (click tracking): never archived


@dataclass(frozen=True)
class Subscriber:
    id: int
    email: str
    name: str | None
    status: str


@dataclass(frozen=True)
class OutgoingMessage:
    """The boundary between composing and sending: bytes plus the envelope."""

    issue_id: str
    subscriber_id: int | None
    sender: str  # envelope MAIL FROM
    recipient: str  # envelope RCPT TO
    message_id: str
    data: bytes  # the full RFC 5322 message, CRLF line endings


@dataclass(frozen=True)
class DeliveryResult:
    recipient: str
    ok: bool
    code: int | None = None  # SMTP reply code when there is one
    detail: str = ""
    permanent: bool = False  # a 5xx to RCPT: the address bounced; never retry


@dataclass(frozen=True)
class Outcome:
    """What became of one ledger row: the last result, how many tries it took, and whether
    the send must stop (`fatal`: the server is unreachable). Delivery makes it, the ledger
    (state/ledger.py) and the workers' journals record it."""

    subscriber_id: int
    message_id: str | None
    result: DeliveryResult
    tries: int
    fatal: str | None = None
    hint: str | None = None
