"""Text from outside made safe to show: characters XML and HTML forbid, bidi controls, and
credentials inside URLs.

MJML (mjml-python) refuses a whole issue over one raw C0 control character (NUL, BEL, ESC, VT,
FF…) or U+FFFE/U+FFFF, and a lone surrogate cannot even be encoded as UTF-8: measured in
tests/test_safetext.py. HTML also forbids DEL and the C1 controls in its input stream, so those
go too. Tab, newline and carriage return stay. The other noncharacters (U+FDD0–U+FDEF,
U+1FFFE…) are left: MJML and browsers take them, and a character class with astral ranges
made every check ten times slower (measured on a 20 KB text: 1.1 ms against 0.11 ms).

Bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) let a title display in
another order than it reads ("‮gpj.exe" shows as "exe.jpg"); an unclosed one also reorders
what follows it. They are removed from text from outside. The plain marks (U+200E LRM,
U+200F RLM, U+061C ALM) reorder nothing on their own and are what right-to-left writers
use, so they stay.
"""

from __future__ import annotations

import re

_FORBIDDEN = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff"
_NOT_IN_XML = re.compile(f"[{_FORBIDDEN}]")
_NOT_IN_XML_OR_BIDI = re.compile(f"[{_FORBIDDEN}\u202a-\u202e\u2066-\u2069]")
_SPACE_LIKE = {"\x0b": " ", "\x0c": " ", "\x85": " "}  # VT, FF, NEL separate words


def _removed(match: re.Match[str]) -> str:
    return _SPACE_LIKE.get(match.group(0), "")


def xml_safe(text: str) -> str:
    """`text` without the characters XML 1.0 and HTML forbid (tabs and newlines stay; the
    vertical tab, form feed and NEL become spaces)."""
    if _NOT_IN_XML.search(text) is None:
        return text
    return _NOT_IN_XML.sub(_removed, text)


def clean_text(text: str) -> str:
    """Text from outside (feeds, excerpt files) as it may reach a template: `xml_safe`, and
    without bidi embeddings, overrides and isolates."""
    if _NOT_IN_XML_OR_BIDI.search(text) is None:
        return text
    return _NOT_IN_XML_OR_BIDI.sub(_removed, text)


# scheme://userinfo@host: the userinfo runs to the last "@" before the path, as urlsplit reads
# it (a password may hold a raw "@").
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s]*@")
REDACTED = "***"


def redact_url(url: str) -> str:
    """`url` with any user name and password replaced by ***, for showing it."""
    return redact_credentials(url) or url


def redact_credentials(text: str | None) -> str | None:
    """Every URL inside `text` (an error message, a note) with its credentials redacted."""
    if not text or "@" not in text:
        return text
    return _USERINFO.sub(rf"\g<1>{REDACTED}@", text)


def without_credentials(url: str) -> str:
    """`url` with no user name and password at all: a base against which the links of a
    feed are resolved must not hand them to every reader."""
    if "@" not in url:
        return url
    return _USERINFO.sub(r"\g<1>", url, count=1)


def shown(text: str | None) -> str | None:
    """A message about a feed as shown (report.json, tables, logs, the editor's email): on
    one line, its URLs without credentials, and no character a template or terminal would
    choke on (an escape sequence from a feed's error text)."""
    return " ".join(xml_safe(redact_credentials(text) or "").split()) if text else text
