"""The public archive: the web version of every SENT issue, an index and an Atom feed.

The same pages are served by `digest serve` and written as static files into the archive folder
(`issues/index.html`, `issues/feed.xml`, `issues/<week>/index.html`), so the archive can be
published on any static host; every send that completes rewrites them (jobs/send.py). Only
issues whose delivery finished (issues.status = 'sent') appear: a draft or a half-sent issue
is not public (which ones were sent the caller reads from the state: `sent`). Every date shown
comes from the issue itself, so a rebuild gives the same bytes. No page carries personal data:
the issue page is `compose.public_version`, with the per-reader tokens replaced by neutral
values; its head carries a title, description, canonical URL, Open Graph and Twitter tags.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path

import jinja2
from feedgen.feed import FeedGenerator

from ..config import Config
from ..errors import ArchiveError
from ..fsutil import atomic_write_text
from ..htmltext import is_https_url
from ..issue.render import environment, render_issue
from ..mail.compose import public_version, web_url
from ..models import Issue
from . import files as archive
from . import record

WEEK_RE = re.compile(r"^\d{4}-W\d{2}$")
_TITLE = re.compile(r"<title>.*?</title>", re.S)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FEED_ENV = jinja2.Environment(autoescape=True)


@dataclass(frozen=True)
class SentIssue:
    issue: Issue
    published: datetime  # the issue's date at the scheduled send time: from the issue itself

    @property
    def id(self) -> str:
        return self.issue.id

    @property
    def headline(self) -> str:
        """The lead article's title (what the subject leads with), else the subject."""
        return self.issue.items[0].title if self.issue.items else self.issue.subject


def base_url(config: Config) -> str:
    return config.newsletter.base_url.rstrip("/")


def sent_issues(config: Config, sent_in_state: Mapping[str, str | None]) -> list[SentIssue]:
    """Sent issues that are in the archive, newest first: sent as the state database says
    (`sent_in_state`: week → sent_at, state/issues.sent), or as the archive's own delivery
    record says (a lost or older database forgets no issue)."""
    result = []
    for issue in archive.list_issues(config.archive_dir):
        if issue.id not in sent_in_state:
            record = _archived_record(config, issue.id)
            if record is None or not record.complete:
                continue
        result.append(SentIssue(issue, published_at(config, issue)))
    return sorted(result, key=lambda s: s.id, reverse=True)


def _archived_record(config: Config, week: str) -> record.SendRecord | None:
    try:
        return record.load(config.archive_dir, week)
    except ArchiveError:
        return None  # damaged: the issue stays out of the public archive until mended


def published_at(config: Config, issue: Issue) -> datetime:
    """When the archive says an issue appeared: its date (the one the email shows) at the
    scheduled send time. From the issue, never from the clock or from when a send happened to
    end, so the site and its feed are the same bytes whenever, and wherever, they are
    rebuilt (a restored database, a second machine)."""
    hour, minute = (int(part) for part in config.schedule.time.split(":"))
    return datetime.combine(issue.date, time(hour, minute),
                            tzinfo=config.newsletter.tz).astimezone(UTC)


def find_sent(config: Config, week: str, sent_in_state: Mapping[str, str | None]
              ) -> SentIssue | None:
    if not WEEK_RE.match(week):  # never a path outside the archive
        return None
    return next((s for s in sent_issues(config, sent_in_state) if s.id == week), None)


def issue_html(config: Config, issue: Issue, key: bytes) -> str:
    """The web version of one issue: the reader-neutral email HTML, with a title of its own
    and what search engines and social cards read (description, canonical URL, Open Graph,
    Twitter card) and feed discovery (templates/web/issue_head.html.j2)."""
    rendered = render_issue(config, issue)
    html, _ = public_version(config, key, rendered)
    sent = SentIssue(issue, published_at(config, issue))
    head = environment(config).get_template("web/issue_head.html.j2").render(
        newsletter=config.newsletter, sent=sent, title=page_title(config, sent),
        url=web_url(config, issue.id), feed_url=f"{base_url(config)}/issues/feed.xml",
        image=next((i.image for i in issue.items if is_https_url(i.image)), None))
    html = _TITLE.sub("", html, count=1)  # the email's <title> is its subject
    return html.replace("</head>", head.strip() + "</head>", 1)


def page_title(config: Config, sent: SentIssue) -> str:
    """A readable title per issue: the headline first (what a search result or a tab shows
    first), then the newsletter and the issue number."""
    return f"{sent.headline} · {config.newsletter.name} #{sent.issue.number}"


def index_html(config: Config, issues: list[SentIssue]) -> str:
    template = environment(config).get_template("web/archive.html.j2")
    return template.render(newsletter=config.newsletter, issues=issues, base=base_url(config),
                           feed_url=f"{base_url(config)}/issues/feed.xml",
                           url=f"{base_url(config)}/issues/")


def feed_xml(config: Config, issues: list[SentIssue]) -> bytes:
    """An Atom feed of the sent issues, newest first. Deterministic: every date comes from the
    issues (published_at), none from the clock, so regenerating an unchanged archive gives
    the same bytes. Entry titles are the issue's number and headline: the feed's own title
    names the newsletter."""
    base = base_url(config)
    n = config.newsletter
    fg = FeedGenerator()
    fg.id(f"{base}/issues/")
    fg.title(n.name)
    fg.subtitle(n.tagline or f"Every issue of {n.name}")
    fg.author({"name": n.name})
    fg.link(href=f"{base}/issues/feed.xml", rel="self", type="application/atom+xml")
    fg.link(href=f"{base}/issues/", rel="alternate", type="text/html")
    fg.language(n.lang)
    fg.updated(max((s.published for s in issues), default=EPOCH))
    for sent in issues:
        issue = sent.issue
        url = web_url(config, issue.id)
        entry = fg.add_entry(order="append")
        entry.id(url)
        entry.title(f"#{issue.number}: {sent.headline}")
        entry.link(href=url, rel="alternate", type="text/html")
        entry.published(sent.published)
        entry.updated(sent.published)
        entry.summary(issue.preheader)
        entry.content(_feed_content(issue), type="html")
    return fg.atom_str(pretty=True)


def _feed_content(issue: Issue) -> str:
    return _FEED_ENV.from_string(
        "{% for s in issue.sections %}<h2>{{ s.title }}</h2><ul>{% for i in s.items %}"
        '<li><a href="{{ i.url }}">{{ i.title }}</a> ({{ i.source }})</li>'
        "{% endfor %}</ul>{% endfor %}").render(issue=issue)


def _write_if_changed(path: Path, text: str) -> bool:
    # Unchanged files keep their mtime, so static hosts' caches stay valid.
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    atomic_write_text(path, text)
    return True


def write_site(config: Config, key: bytes, sent_in_state: Mapping[str, str | None]
               ) -> list[Path]:
    """Write the static archive into the archive folder. Returns the files it (re)wrote."""
    issues = sent_issues(config, sent_in_state)
    root = config.archive_dir
    written = []
    files = {root / "index.html": index_html(config, issues),
             root / "feed.xml": feed_xml(config, issues).decode("utf-8")}
    for sent in issues:
        files[archive.issue_dir(root, sent.id) / "index.html"] = issue_html(config, sent.issue,
                                                                            key)
    for path, text in files.items():
        if _write_if_changed(path, text):
            written.append(path)
    return written
