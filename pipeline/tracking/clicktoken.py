"""Click tokens: the `<token>` of `GET {base_url}/c/<token>`.

    2026-W48.7.AbCdEfGhIjK.DdDdDdDdDdDdDdDd.SsSsSsSsSsS
    |week    |i|link MAC   |delivery part   |seal

Two signed halves, so that compose does one HMAC per reader, not one per link:
- the *link part* (`week.index.mac`) names a link of the issue's link table by its index. It is
  the same for every reader, so render writes it into the template once;
- the *delivery value* (`delivery.seal`) is the per-reader part compose substitutes for the
  `%%CLICK%%` placeholder: the delivery part plus a MAC binding it to the week.

What a reader holding one message can forge: nothing new. With both halves bound to the week,
the only tokens that verify are (link of week W) × (delivery part of week W made by us); a
reader already holds every link of their own message, so combining their delivery value with
another link of the same issue is what clicking that link does. Making up a delivery part
(to inflate unique counts) needs a seal, i.e. the key. A full MAC over (week, link, delivery)
per link would cost 20 HMACs per reader and buy nothing more (measured: see the tests).

The delivery part is `delivery_hash(click_key, week, ref)` in `aggregate` mode: a keyed hash
that cannot be turned back into the reader without the click key (use a random key per issue,
dropped with the click data after `[tracking] keep_days`), and `tokens.reader_ref(address)` in
`per_reader` mode. MACs are tokens.py's (HMAC-SHA256, the same payload layout as
`tokens.sign`, each purpose its own domain), truncated to 64 bits to keep a link under 100
characters: forging one still takes about 2**63 requests.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..tokens import Keys, _b64

CLICK_PLACEHOLDER = "%%CLICK%%"  # the per-reader delivery value, substituted by compose
MAC_BYTES = 8
DELIVERY_HASH_BYTES = 12  # 96 bits: no two readers of any real list collide
_LINK_PURPOSE = "click-link"
_SEAL_PURPOSE = "click-delivery"
_DELIVERY_DOMAIN = b"pmcd-click-reader\x1f"
_WEEK_RE = re.compile(r"^\d{4}-W\d{2}$")
# A delivery hash (16 characters) or a reader ref (tokens.REF_LENGTH = 22).
_DELIVERY_RE = re.compile(r"^(?:[A-Za-z0-9_-]{16}|[A-Za-z0-9_-]{22})$")
# A whole token in one pattern: week, index (canonical decimal: one spelling per index), the
# link MAC (11 characters), the delivery part, the seal. ASCII digits only.
_TOKEN_RE = re.compile(r"(\d{4}-W\d{2})\.(0|[1-9]\d{0,3})\.([A-Za-z0-9_-]{11})\."
                       r"([A-Za-z0-9_-]{16}|[A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{11})", re.ASCII)


@dataclass(frozen=True)
class ClickRef:
    """What a genuine click token names."""

    issue: str  # the week, e.g. "2026-W48"
    link_index: int  # 0 = the trap link, 1… = the issue's link table
    delivery: str  # delivery hash (aggregate) or reader ref (per_reader)


def _payload(purpose: str, subject: str, week: str) -> bytes:
    return "\x1f".join((purpose, subject, week, "")).encode("utf-8")


def _short_mac(key: bytes, purpose: str, subject: str, week: str) -> bytes:
    # tokens._mac's HMAC-SHA256, one-shot (hmac.digest: half the time of hmac.new, and the
    # web verifies two of these per click).
    return hmac.digest(key, _payload(purpose, subject, week), "sha256")[:MAC_BYTES]


def _check_week(week: str) -> None:
    if not _WEEK_RE.match(week):
        raise ValueError(f"not an ISO week id: {week!r}")


def delivery_hash(click_key: bytes, week: str, ref: str) -> str:
    """The `aggregate` delivery part: HMAC(click_key, week|ref), 16 URL-safe characters. Only
    used for unique counts and scanner detection; without `click_key` it names nobody."""
    _check_week(week)
    digest = hmac.digest(click_key, _DELIVERY_DOMAIN + f"{week}\x1f{ref}".encode(), "sha256")
    return _b64(digest[:DELIVERY_HASH_BYTES])


def link_part(key: bytes, week: str, link_index: int) -> str:
    """`week.index.mac`: the half of a click token that is the same for every reader."""
    _check_week(week)
    if not 0 <= link_index <= 9999:
        raise ValueError(f"link index {link_index} is outside 0…9999")
    mac = _short_mac(key, _LINK_PURPOSE, str(link_index), week)
    return f"{week}.{link_index}.{_b64(mac)}"


def delivery_value(key: bytes, week: str, delivery: str) -> str:
    """`delivery.seal`: the per-reader half, compose's value for CLICK_PLACEHOLDER."""
    _check_week(week)
    if not _DELIVERY_RE.match(delivery):
        raise ValueError(f"not a delivery hash or reader ref: {delivery!r}")
    return f"{delivery}.{_b64(_short_mac(key, _SEAL_PURPOSE, delivery, week))}"


def reader_values(key: bytes, week: str, click_key: bytes | None) -> Callable[[str], str]:
    """reader ref → `delivery_value(key, week, part)`, where the part is
    `delivery_hash(click_key, week, ref)` (aggregate) or, without a click key, the ref itself
    (per_reader). Made once per issue: the HMAC states of the parts every reader shares are
    keyed and fed once and copied per reader (8 → 3 µs a reader, a third of a message)."""
    _check_week(week)
    seal_head = hmac.new(key, _SEAL_PURPOSE.encode() + b"\x1f", hashlib.sha256)
    seal_tail = f"\x1f{week}\x1f".encode()
    hash_head = (hmac.new(click_key, _DELIVERY_DOMAIN + f"{week}\x1f".encode(), hashlib.sha256)
                 if click_key is not None else None)

    def value(ref: str) -> str:
        if hash_head is None:
            delivery = ref
        else:
            state = hash_head.copy()
            state.update(ref.encode())
            delivery = _b64(state.digest()[:DELIVERY_HASH_BYTES])
        seal = seal_head.copy()
        seal.update(delivery.encode() + seal_tail)
        return f"{delivery}.{_b64(seal.digest()[:MAC_BYTES])}"
    return value


def click_token(key: bytes, issue: str, link_index: int, delivery_part: str) -> str:
    """The whole token for one link of one delivery."""
    return f"{link_part(key, issue, link_index)}.{delivery_value(key, issue, delivery_part)}"


def _genuine(keys: Keys, mac_b64: str, purpose: str, subject: str, week: str) -> bool:
    """Compared as text, not as decoded bytes: 8 bytes take 11 base64 characters, whose last
    carries 2 unused bits, so a decoder accepts four spellings of one MAC. Only ours passes."""
    candidates = (keys,) if isinstance(keys, bytes) else tuple(keys)
    # Every key is tried, so the time taken does not tell which one matched.
    matches = [hmac.compare_digest(mac_b64, _b64(_short_mac(k, purpose, subject, week)))
               for k in candidates]
    return any(matches)


def read_click_token(keys: Keys, token: str) -> ClickRef | None:
    """The ClickRef of a token signed by one of `keys` (the current key first, then retired
    ones); None for anything forged, altered, truncated or malformed."""
    match = _TOKEN_RE.fullmatch(token)  # one pass: the web reads one per click
    if match is None:
        return None
    week, index, link_mac, delivery, seal = match.groups()
    if not (_genuine(keys, link_mac, _LINK_PURPOSE, index, week)
            and _genuine(keys, seal, _SEAL_PURPOSE, delivery, week)):
        return None
    return ClickRef(issue=week, link_index=int(index), delivery=delivery)
