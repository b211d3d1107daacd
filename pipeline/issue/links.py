"""Links in an issue: UTM tagging of outbound article links, extraction from the compiled HTML,
and the optional reachability check of `digest check --links`.

UTM tags go only on links that leave the newsletter: never on the unsubscribe link, the web
version or anything else under `newsletter.base_url`, and never on a link that already carries
its own utm_* parameters (the publisher chose them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..config import Config
from ..errors import ConfigError
from ..models import Issue
from ..tracking import ClickLinker, TrackedLink, click_linker, link_table


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def is_own(config: Config, url: str) -> bool:
    """True for the newsletter's own endpoints (archive, web version, unsubscribe)."""
    base = config.newsletter.base_url.rstrip("/")
    return url == base or url.startswith(base + "/")


def utm_params(config: Config, issue_id: str, number: int) -> dict[str, str]:
    t = config.tracking
    try:
        campaign = t.utm_campaign.format(issue=issue_id, number=number)
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"{config.path}: tracking.utm_campaign {t.utm_campaign!r} is not "
                          f"valid ({exc!r})",
                          hint="use the placeholders {issue} (the week) and {number}") from exc
    return {
        "utm_source": t.utm_source or slug(config.newsletter.name),
        "utm_medium": t.utm_medium,
        "utm_campaign": campaign,
    }


def tag_url(url: str, params: dict[str, str]) -> str:
    """`url` with the UTM parameters appended, unless it already has any utm_* parameter."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(k.lower().startswith("utm_") for k, _ in query):
        return url
    extra = urlencode(list(params.items()))
    new_query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, new_query, parts.fragment))


def outbound_linker(config: Config, issue_id: str, number: int):
    """The function templates call on every article link: tags it when tracking is on."""
    if not config.tracking.utm:
        return lambda url: url
    params = utm_params(config, issue_id, number)
    return lambda url: url if is_own(config, url) else tag_url(url, params)


def tracked_links(config: Config, issue: Issue) -> tuple[TrackedLink, ...]:
    """The issue's link table (tracking/linktable.py): what /c/ tokens name, with UTM tags."""
    return link_table(issue, config.newsletter.base_url,
                      outbound_linker(config, issue.id, issue.number))


def click_links(config: Config, issue: Issue, key: bytes) -> ClickLinker | None:
    """The templates' `link` when `[tracking] clicks` is on (signed with `key`); else None."""
    if config.tracking.clicks == "off":
        return None
    return click_linker(tracked_links(config, issue), config.newsletter.base_url, key,
                        issue.id)


# --------------------------------------------------------------------------- HTML extraction


@dataclass
class HtmlFacts:
    """What the checks need from compiled HTML: links, images, visible text."""

    links: list[str] = field(default_factory=list)
    images: list[tuple[str, str | None]] = field(default_factory=list)  # (src, alt)
    text_parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.text_parts).split())


class _Extractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.facts = HtmlFacts()
        self._skip = 0  # inside <style>/<script>/<title>: not visible text

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("style", "script", "title"):
            self._skip += 1
        elif tag == "a" and values.get("href") is not None:
            self.facts.links.append(values["href"] or "")
        elif tag == "img":
            self.facts.images.append((values.get("src") or "", values.get("alt")))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "title") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.facts.text_parts.append(data)


def extract(html: str) -> HtmlFacts:
    parser = _Extractor()
    parser.feed(html)
    parser.close()
    return parser.facts


# --------------------------------------------------------------------------- reachability


@dataclass(frozen=True)
class LinkStatus:
    url: str
    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and self.status < 400


def probe(url: str, timeout: float) -> LinkStatus:
    """HEAD, then GET when the server refuses HEAD (many do, with 403/405/501)."""
    import httpx  # heavy (~0.1 s): only `digest check --links` needs it

    headers = {"User-Agent": "pm-career-digest-linkcheck/0.1"}
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True, headers=headers) as client:
            response = client.head(url)
            if response.status_code in (403, 405, 501):
                with client.stream("GET", url) as streamed:
                    return LinkStatus(url, streamed.status_code)
            return LinkStatus(url, response.status_code)
    except httpx.TimeoutException:
        return LinkStatus(url, None, f"did not answer within {timeout:g} s")
    except httpx.HTTPError as exc:
        return LinkStatus(url, None, f"{type(exc).__name__}: {exc}")


def probe_all(urls: Iterable[str], timeout: float, concurrency: int) -> list[LinkStatus]:
    unique = list(dict.fromkeys(urls))
    if not unique:
        return []
    with ThreadPoolExecutor(max_workers=min(concurrency, len(unique))) as pool:
        return list(pool.map(lambda u: probe(u, timeout), unique))
