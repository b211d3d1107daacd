"""config.toml → frozen dataclasses, validated in one pass that reports every problem at once.

Each table of the file is a dataclass below. The loader is driven by the dataclasses' own type
hints and field metadata, so adding a key means adding a field (with a default) and nothing else:
types, allowed choices, minimums and unknown keys are checked generically. Paths are resolved
against the folder of the config file, so a newsletter can live anywhere.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from ..errors import ConfigError
from .checks import (
    address_problem,
    env_names_problem,
    feed_url_problem,
    http_url_problem,
    nonempty_problem,
    postal_problem,
    subject_problem,
    timezone_problem,
)
from .desk import DeskConfig
from .inbound import InboundConfig, return_path_problem
from .schema import Problems, build_dataclass
from .tracking import SponsorConfig, TrackingConfig, sponsor_position_problem

HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"
HHMM_VALID = "HH:MM, e.g. 07:00"
KEYWORD_WEIGHT = re.compile(r"^(.*\S)\s*\^\s*(\d+(?:\.\d+)?)$")  # "keyword^2"
UNMATCHED_SECTION_ID = "also"  # the section of feed items matching no [[sections]] keyword
SPONSOR_SECTION_ID = "sponsor"  # the sponsor's link in click statistics (tracking/linktable.py)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _meta(**kwargs: Any) -> dict[str, Any]:
    return kwargs


@dataclass(frozen=True)
class NewsletterConfig:
    name: str = field(metadata=_meta(check=nonempty_problem))
    from_address: str = field(metadata=_meta(key="from", check=address_problem,
                                             doc="sender, e.g. 'Name <a@b.c>'"))
    base_url: str = field(metadata=_meta(check=http_url_problem,
                                         doc="public https URL of the archive and web endpoints"))
    # Body text only (never a header): an address may span lines.
    postal_address: str = field(metadata=_meta(doc="physical postal address (CAN-SPAM)",
                                               multiline=True, check=postal_problem))
    reply_to: str | None = None
    editor: str | None = field(default=None, metadata=_meta(doc="gets the run reports"))
    timezone: str = field(default="UTC", metadata=_meta(check=timezone_problem))
    lang: str = "en"
    tagline: str = ""
    subject: str = field(default="{headline} · Issue #{number}", metadata=_meta(
        check=subject_problem, doc="the subject line: {headline} (the lead article), "
        "{number}, {name}, {date}, {count} (articles)"))
    why_you_get_this: str = field(
        default="You are receiving this because you subscribed to our newsletter.",
        metadata=_meta(multiline=True))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def sender_domain(self) -> str:
        match = re.search(r"@([^>\s]+)", self.from_address)
        return match.group(1).lower() if match else "localhost"


@dataclass(frozen=True)
class ScheduleConfig:
    mode: Literal["auto", "approval"] = "auto"
    weekday: str = field(default="monday", metadata=_meta(choices=WEEKDAYS))
    time: str = field(default="07:00", metadata=_meta(pattern=HHMM, valid=HHMM_VALID))
    build_weekday: str | None = field(default=None, metadata=_meta(choices=WEEKDAYS))
    build_time: str | None = field(default=None,
                                   metadata=_meta(pattern=HHMM, valid=HHMM_VALID))
    min_new_items: int = field(default=0, metadata=_meta(min=0))
    run_missed_on_start: bool = True


@dataclass(frozen=True)
class IssueConfig:
    lookback_days: int = field(default=7, metadata=_meta(min=1))
    max_items: int = field(default=12, metadata=_meta(min=1))
    max_per_source: int = field(default=2, metadata=_meta(min=1))
    excerpt_words: int = field(default=60, metadata=_meta(min=10))
    unmatched: Literal["also", "drop"] = "also"
    also_title: str = "Also worth reading"
    subject_prefix: str = ""
    learn_from_clicks: bool = field(default=False, metadata=_meta(
        doc="rank feed items by their source's human click-through too (stats/rates.py)"))
    min_score: float = field(default=0.0, metadata=_meta(min=0, doc=(
        "a feed item's relevance to its section below this counts as no match")))


@dataclass(frozen=True)
class SectionConfig:
    id: str = field(metadata=_meta(pattern=r"^[a-z0-9][a-z0-9-]*$", valid=(
        "lower-case letters, digits and hyphens, e.g. 'breaking-in'")))
    title: str = field(metadata=_meta(check=nonempty_problem))
    keywords: tuple[str, ...] = field(default=(), metadata=_meta(
        doc='matched on word boundaries; "keyword^2" counts twice'))
    exclude: tuple[str, ...] = field(default=(), metadata=_meta(
        doc="a feed item with one of these words or phrases never goes into this section"))
    weight: float = 1.0

    @property
    def weighted_keywords(self) -> tuple[tuple[str, float], ...]:
        """(keyword, weight) pairs: "salary^2" → ("salary", 2.0); no suffix → 1.0."""
        pairs = []
        for keyword in self.keywords:
            match = KEYWORD_WEIGHT.match(keyword)
            if match:
                pairs.append((match.group(1).strip(), float(match.group(2))))
            elif keyword.strip():
                pairs.append((keyword.strip(), 1.0))
        return tuple(pairs)


@dataclass(frozen=True)
class FeedConfig:
    name: str = field(metadata=_meta(check=nonempty_problem))
    url: str = field(metadata=_meta(check=feed_url_problem,
                                    doc="an http(s) URL or a path relative to the config file"))
    weight: float = 1.0
    enabled: bool = True

    @property
    def is_remote(self) -> bool:
        return self.url.startswith(("http://", "https://"))


@dataclass(frozen=True)
class FetchConfig:
    timeout_seconds: float = field(default=10.0, metadata=_meta(min=0.1))
    deadline_seconds: float = field(default=60.0, metadata=_meta(min=0.1))
    concurrency: int = field(default=16, metadata=_meta(min=1))
    max_bytes: int = field(default=5_000_000, metadata=_meta(min=1024))
    stale_weeks: int = field(default=4, metadata=_meta(min=1))


@dataclass(frozen=True)
class CuratedConfig:
    dir: Path = Path("curated")


@dataclass(frozen=True)
class StateConfig:
    dir: Path = Path("var")


@dataclass(frozen=True)
class ArchiveConfig:
    dir: Path = Path("issues")


@dataclass(frozen=True)
class SubscribersConfig:
    seed_csv: Path | None = field(default=None, metadata=_meta(
        doc="a CSV imported once, when the subscriber list is empty (the demo list)"))


@dataclass(frozen=True)
class TemplatesConfig:
    dir: Path = field(default=Path("templates"),
                      metadata=_meta(doc="overrides of the bundled templates"))


@dataclass(frozen=True)
class SocialConfig:
    """A social icon in the email footer (its alt text is the network's name)."""

    network: str = field(metadata=_meta(choices=(
        "facebook", "twitter", "x", "linkedin", "github", "instagram", "youtube", "medium",
        "pinterest", "tumblr", "vimeo", "soundcloud", "dribbble", "snapchat", "xing")))
    url: str


@dataclass(frozen=True)
class CheckConfig:
    """`digest check --links`: how long to wait for each link."""

    link_timeout_seconds: float = field(default=10.0, metadata=_meta(min=0.1))
    link_concurrency: int = field(default=8, metadata=_meta(min=1, max=64))


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = field(default=587, metadata=_meta(min=1, max=65535))
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = field(default=None,
                                     metadata=_meta(doc="name of an environment variable"))
    connections: int = field(default=4, metadata=_meta(min=1, max=64))
    timeout_seconds: float = field(default=30.0, metadata=_meta(min=0.1))
    helo: str | None = field(default=None,
                             metadata=_meta(doc="EHLO name (default: this host's name)"))
    ca_file: Path | None = field(default=None, metadata=_meta(
        doc="PEM bundle to trust instead of the system's (a relay with a private CA)"))


@dataclass(frozen=True)
class DkimConfig:
    domain: str
    selector: str
    key_file: Path


@dataclass(frozen=True)
class DeliveryConfig:
    transport: Literal["maildir", "smtp"] = "maildir"
    rate_limit: float = field(default=0.0,
                              metadata=_meta(min=0, doc="messages per second, 0 = no limit"))
    max_attempts: int = field(default=5, metadata=_meta(min=1))
    retry_backoff_seconds: float = field(
        default=1.0, metadata=_meta(min=0, doc="first retry delay; doubles per try, max 60 s"))
    smtp: SmtpConfig | None = None
    dkim: DkimConfig | None = None
    return_path: str | None = field(default=None, metadata=_meta(check=return_path_problem, doc=(
        'envelope sender (MAIL FROM); "bounces+{token}@example.com" for VERP (config/inbound.py)')))


@dataclass(frozen=True)
class WebConfig:
    """`digest serve`: signup limits and the proxy in front of it."""

    signup_limit: int = field(default=5, metadata=_meta(
        min=1, doc="signup POSTs allowed per client IP in each window"))
    signup_window_seconds: int = field(default=3600, metadata=_meta(min=1))
    confirm_expiry_hours: int = field(default=48, metadata=_meta(
        min=1, doc="how long a double opt-in confirmation link stays valid"))
    forwarded_allow_ips: str = field(default="127.0.0.1", metadata=_meta(
        doc="proxies trusted for X-Forwarded-For (comma-separated IPs, '*' for any)"))
    max_body_bytes: int = field(default=16384, metadata=_meta(min=1024))
    previous_secrets_env: tuple[str, ...] = field(default=(), metadata=_meta(
        check=env_names_problem,
        doc="environment variables holding retired signing keys: their links still work"))


@dataclass(frozen=True)
class Config:
    path: Path = field(metadata=_meta(internal=True))
    newsletter: NewsletterConfig
    schedule: ScheduleConfig = ScheduleConfig()
    issue: IssueConfig = IssueConfig()
    sections: tuple[SectionConfig, ...] = ()
    feeds: tuple[FeedConfig, ...] = ()
    fetch: FetchConfig = FetchConfig()
    curated: CuratedConfig = CuratedConfig()
    state: StateConfig = StateConfig()
    archive: ArchiveConfig = ArchiveConfig()
    templates: TemplatesConfig = TemplatesConfig()
    tracking: TrackingConfig = TrackingConfig()
    sponsor: SponsorConfig = SponsorConfig()
    social: tuple[SocialConfig, ...] = ()
    check: CheckConfig = CheckConfig()
    subscribers: SubscribersConfig = SubscribersConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    web: WebConfig = WebConfig()
    desk: DeskConfig = DeskConfig()
    inbound: InboundConfig = InboundConfig()

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def curated_dir(self) -> Path:
        return self.curated.dir

    def existing_curated_dir(self) -> Path:
        """The curated folder, for reading it. A missing one is a configuration error: a typo
        in [curated] dir or a folder lost in a move would otherwise build, and send, an issue
        without a single one of the editor's excerpts."""
        folder = self.curated.dir
        if not folder.is_dir():
            what = "is not a folder" if folder.exists() else "does not exist"
            raise ConfigError(
                f"{self.path}: curated.dir: {folder} {what}",
                hint=f"create the folder (mkdir -p {folder}) or set [curated] dir to the folder"
                     " that holds the excerpt files (relative to the config file's folder)")
        return folder

    @property
    def state_dir(self) -> Path:
        return self.state.dir

    @property
    def archive_dir(self) -> Path:
        return self.archive.dir

    @property
    def db_path(self) -> Path:
        return self.state.dir / "digest.sqlite3"

    def section(self, section_id: str) -> SectionConfig | None:
        return next((s for s in self.sections if s.id == section_id), None)

    def resolve(self, path_or_url: str) -> str:
        """A feed URL as given, or a local path resolved against the config's folder."""
        if "://" in path_or_url:
            return path_or_url
        return str((self.root / path_or_url).resolve())


# --------------------------------------------------------------------------- loading


def _validate(config: Config, problems: Problems) -> None:
    """Checks that span several keys."""
    if not config.sections:
        problems.add("sections", "at least one [[sections]] table is required")
    seen: set[str] = set()
    for i, section in enumerate(config.sections):
        if section.id in seen:
            problems.add(f"sections[{i}].id", f"duplicate section id {section.id!r}")
        if section.id == UNMATCHED_SECTION_ID:
            problems.add(f"sections[{i}].id", f"{section.id!r} is reserved for the items that "
                         "match no section ([issue] unmatched); valid: any other id")
        if section.id == SPONSOR_SECTION_ID:
            problems.add(f"sections[{i}].id", f"{section.id!r} is reserved for the sponsor's"
                         " link in the click statistics; valid: any other id")
        seen.add(section.id)
        for j, keyword in enumerate(section.keywords):
            if not keyword.strip() or ("^" in keyword and not KEYWORD_WEIGHT.match(keyword)):
                problems.add(f"sections[{i}].keywords[{j}]",
                             f"{keyword!r} is not valid; expected a word or phrase, optionally"
                             ' with a weight: "salary" or "salary^2"')
        for j, word in enumerate(section.exclude):
            if not word.strip():
                problems.add(f"sections[{i}].exclude[{j}]",
                             "must not be empty; expected a word or phrase, e.g. \"browser\"")
    names: set[str] = set()
    for i, feed in enumerate(config.feeds):
        if feed.name in names:
            problems.add(f"feeds[{i}].name", f"duplicate feed name {feed.name!r}")
        names.add(feed.name)
    problem = sponsor_position_problem(config.sponsor.position, seen | {UNMATCHED_SECTION_ID})
    if problem:
        problems.add("sponsor.position", problem)
    delivery = config.delivery
    if delivery.transport == "smtp" and delivery.smtp is None:
        problems.add("delivery.smtp", "required when delivery.transport = 'smtp' (needs host)")


def load_config(path: str | Path) -> Config:
    """Read and validate a config file. Raises ConfigError listing every problem found."""
    path = Path(path).resolve()
    if not path.is_file():
        raise ConfigError(f"{path}: no such configuration file",
                          hint="pass --config PATH, or run from the folder holding config.toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}",
                          hint="fix the syntax at the line and column named") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    problems = Problems()
    config = build_dataclass(Config, data, "", path.parent, problems, extra={"path": path})
    if config is not None:
        _validate(config, problems)
    if problems or config is None:
        if config is None and not problems:  # pragma: no cover - defensive
            problems.add("", "invalid configuration")
        raise ConfigError(
            f"{path}: {len(problems)} problem(s) in the configuration",
            hint="fix each key named above; see README.md 'Configuration' for every key",
            problems=[f"{path}: {p}" for p in problems],
        )
    return config
