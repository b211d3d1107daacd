"""Checks of single config values that need more than a pattern: each returns what is wrong
with the value (the loader adds the key), or None."""

from __future__ import annotations

import re
import string
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def env_names_problem(names: tuple[str, ...]) -> str | None:
    bad = [n for n in names if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", n)]
    if bad:
        return (f"{', '.join(map(repr, bad))}: not an environment variable name; valid: names "
                'such as "DIGEST_SECRET_PREVIOUS" (the values stay in the environment)')
    return None


SUBJECT_FIELDS = ("headline", "number", "name", "date", "count")


def subject_problem(value: str) -> str | None:
    """[newsletter] subject: a str.format template using only SUBJECT_FIELDS, bare."""
    valid = ("valid placeholders: " + ", ".join(f"{{{f}}}" for f in SUBJECT_FIELDS)
             + ' (a literal brace is written twice), e.g. "{headline} · Issue #{number}"')
    if not value.strip():
        return f"must not be empty; {valid}"
    try:
        fields = [(name, spec, conversion)
                  for _, name, spec, conversion in string.Formatter().parse(value)
                  if name is not None]
    except ValueError as exc:
        return f"{value!r} is not a valid template ({exc}); {valid}"
    for name, spec, conversion in fields:
        if name not in SUBJECT_FIELDS or spec or conversion:
            shown = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            return f"unknown placeholder {{{shown}}}; {valid}"
    return None


def postal_problem(value: str) -> str | None:
    # CAN-SPAM: every commercial email carries the sender's valid physical postal address.
    return None if value.strip() else ("must not be empty: the law (CAN-SPAM) wants a postal "
                                       "address in every issue, e.g. a P.O. box")


def timezone_problem(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return (f"{value!r} is not a known IANA time zone "
                "(e.g. 'Europe/London', 'America/New_York', 'UTC')")
    return None


def http_url_problem(value: str) -> str | None:
    return None if re.match(r"^https?://[^\s/]+", value) else "must be an absolute http(s) URL"


def nonempty_problem(value: str) -> str | None:
    return None if value.strip() else "must not be empty"


def feed_url_problem(value: str) -> str | None:
    if not value.strip():
        return "must not be empty; valid: an http(s) URL or a path relative to the config file"
    if "://" in value and not value.startswith(("http://", "https://")):
        return f"{value!r}: only http(s) URLs or local paths"
    return None


def address_problem(value: str) -> str | None:
    return None if "@" in value else "must contain an email address, e.g. 'Name <a@b.c>'"
