"""Identity of an article across feeds and issues: canonical URLs, GUIDs, title fingerprints."""

from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRACKING_PARAMS = re.compile(r"^(utm_[a-z_]+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|"
                             r"mc_eid|_hsenc|_hsmi|ref_src|igshid|yclid|source)$", re.I)
DEFAULT_PORTS = {"http": 80, "https": 443}
_WORD = re.compile(r"\w+")
# Titles with fewer words than this ("Links", "Weekly update") are not compared: they collide.
MIN_TITLE_WORDS = 4
NEAR_IDENTICAL = 0.8  # Jaccard similarity of two titles' word sets


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, no default port, no tracking parameters, no fragment,
    no trailing slash, AMP variants folded, http and https treated alike."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    if host.startswith("amp."):
        host = host[4:]
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    path = re.sub(r"/amp/?$|\.amp(?=\.html?$)|/amp(?=/)", "", parts.path) or "/"
    path = path.rstrip("/") or "/"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not TRACKING_PARAMS.match(k) and not (k == "amp" and v in ("", "1"))]
    scheme = "https" if scheme in ("http", "https") else scheme
    return urlunsplit((scheme, netloc, path, urlencode(sorted(query)), ""))


def strip_tracking(url: str) -> str:
    """The link a reader gets: the same URL without utm_*/fbclid/gclid-style parameters (and
    Medium's `source=rss…`), everything else as the publisher wrote it."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs
            if not (TRACKING_PARAMS.match(k) and (k.lower() != "source" or v.startswith("rss")))]
    if len(kept) == len(pairs):
        return url
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept), parts.fragment))


def title_tokens(title: str) -> frozenset[str]:
    return frozenset(_WORD.findall(title.casefold()))


def title_fingerprint(title: str) -> str:
    return " ".join(sorted(title_tokens(title)))


def jaccard(ta: frozenset[str], tb: frozenset[str]) -> float:
    """Jaccard similarity of two word sets (0..1): near-identical titles score ≥ 0.8."""
    if not ta or not tb:
        return 0.0
    shared = len(ta & tb)
    return shared / (len(ta) + len(tb) - shared)


def item_id(prefix: str, url: str) -> str:
    return f"{prefix}-" + hashlib.sha1(canonical_url(url).encode()).hexdigest()[:12]


def short_id(url: str) -> str:
    """The article's short, stable name for the editor (`digest candidates`, `pick`, `drop`):
    8 lower-case base32 characters (40 bits) of its canonical URL's SHA-1, so the same article
    has the same id in every feed, run and week."""
    digest = hashlib.sha1(canonical_url(url).encode()).digest()
    return base64.b32encode(digest[:5]).decode("ascii").lower()


def is_global_guid(guid: str) -> bool:
    """A GUID that names the article on the whole web (a URL, a tag: or urn: URI), as opposed
    to a feed-local counter like "1234" that two feeds may both use."""
    return "://" in guid or guid.startswith(("tag:", "urn:"))


def history_keys(url: str, guid: str | None, title: str) -> list[str]:
    """The keys an item is remembered by in the `published` table."""
    keys = [f"url:{canonical_url(url)}"]
    if guid and is_global_guid(guid):
        keys.append(f"guid:{guid}")
    fingerprint = title_fingerprint(title)
    if len(fingerprint.split()) >= MIN_TITLE_WORDS:  # short titles would collide
        keys.append(f"title:{fingerprint}")
    return keys


class TitleIndex:
    """Near-identical title lookup over many titles (every title ever published) without
    comparing against each one: an inverted index from word to titles."""

    def __init__(self, titles: Iterable[frozenset[str]] = ()) -> None:
        self._titles: list[frozenset[str]] = []
        self._postings: dict[str, list[int]] = {}
        for tokens in titles:
            self.add(tokens)

    @classmethod
    def from_history(cls, keys: Iterable[str]) -> TitleIndex:
        """The index of the titles remembered in `published` keys ("title:<fingerprint>")."""
        return cls(frozenset(k[6:].split()) for k in keys if k.startswith("title:"))

    def add(self, tokens: frozenset[str]) -> None:
        if len(tokens) < MIN_TITLE_WORDS:
            return
        index = len(self._titles)
        self._titles.append(tokens)
        for token in tokens:
            self._postings.setdefault(token, []).append(index)

    def near(self, tokens: frozenset[str], threshold: float = NEAR_IDENTICAL) -> bool:
        if len(tokens) < MIN_TITLE_WORDS or not self._titles:
            return False
        shared = Counter(i for t in tokens for i in self._postings.get(t, ()))
        size = len(tokens)
        return any(n / (size + len(self._titles[i]) - n) >= threshold
                   for i, n in shared.items())
