"""Identity of an article across feeds and issues: canonical URLs, GUIDs, title fingerprints."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRACKING_PARAMS = re.compile(r"^(utm_[a-z_]+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|_hsenc|"
                             r"_hsmi|ref_src|igshid|source)$", re.I)
DEFAULT_PORTS = {"http": 80, "https": 443}


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
    port = parts.port
    netloc = host if port in (None, DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    path = re.sub(r"/amp/?$|\.amp(?=\.html?$)|/amp(?=/)", "", parts.path) or "/"
    path = path.rstrip("/") or "/"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not TRACKING_PARAMS.match(k) and not (k == "amp" and v in ("", "1"))]
    scheme = "https" if scheme in ("http", "https") else scheme
    return urlunsplit((scheme, netloc, path, urlencode(sorted(query)), ""))


def title_fingerprint(title: str) -> str:
    tokens = sorted(set(re.findall(r"[a-z0-9]+", title.lower())))
    return " ".join(tokens)


def title_similarity(a: str, b: str) -> float:
    """Jaccard similarity of the two titles' word sets (0..1)."""
    ta = set(re.findall(r"[a-z0-9]+", a.lower()))
    tb = set(re.findall(r"[a-z0-9]+", b.lower()))
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)


def item_id(prefix: str, url: str) -> str:
    return f"{prefix}-" + hashlib.sha1(canonical_url(url).encode()).hexdigest()[:12]


def history_keys(url: str, guid: str | None, title: str) -> list[str]:
    """The keys an item is remembered by in the `published` table."""
    keys = [f"url:{canonical_url(url)}"]
    if guid:
        keys.append(f"guid:{guid}")
    fingerprint = title_fingerprint(title)
    if len(fingerprint.split()) >= 4:  # short titles ("Links", "Update") would collide
        keys.append(f"title:{fingerprint}")
    return keys
