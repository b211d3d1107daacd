"""Reader names as stored: one line of plain text, safe in a mail header, a page and a terminal.

Every name is normalised before it is stored, wherever it comes from (web signup,
`subscribers add --name`, CSV import) and names already stored are normalised by store
migration 3. The name reaches a To header (RFC 2047 when not ASCII), the greeting, web
pages (autoescaped) and `subscribers list` in a terminal, so it must carry nothing that means
something to any of them.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME = 100  # characters; longer names are cut (a display name, not a biography)

# Terminal control sequences are removed whole, so no "[31m" is left behind: CSI (ESC [ or
# 8-bit CSI) up to its final byte; OSC, DCS, SOS, PM and APC strings up to their terminator
# (BEL or ST) or the end; any other two-character escape.
_TERMINAL_SEQUENCE = re.compile(r"""
      (?:\x1b\[|\x9b) [0-?]* [ -/]* [@-~]?
    | (?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f]) [^\x07\x1b\x9c]* (?:\x07|\x1b\\|\x9c)?
    | \x1b [ -/]* [0-~]?
""", re.VERBOSE)
# Format characters kept: the joiners some scripts and emoji sequences need.
_KEPT_FORMAT = frozenset("\u200c\u200d")
# Turned into a space: controls (CR, LF, tab, NEL…) and line/paragraph separators.
_BREAKING = frozenset(("Cc", "Zl", "Zp"))
# Removed: bidi overrides and isolates, zero-width and other invisible format characters,
# lone surrogates, unassigned code points and noncharacters (U+FFFE).
_REMOVED = frozenset(("Cf", "Cs", "Cn"))


def _character(char: str) -> str:
    category = unicodedata.category(char)
    if category in _BREAKING:
        return " "
    if category in _REMOVED and char not in _KEPT_FORMAT:
        return ""
    return char


def normalize_name(name: str | None) -> str | None:
    """The name as stored, or None when nothing visible is left. Idempotent."""
    if name is None:
        return None
    text = _TERMINAL_SEQUENCE.sub("", unicodedata.normalize("NFC", name))
    text = " ".join("".join(map(_character, text)).split())
    # An RFC 2047 encoded-word ("=?utf-8?q?X=0D=0AY?=") in a plain name would be decoded by
    # every mail client reading the To header: a name is never one, so break its opening.
    text = text.replace("=?", "= ?")
    text = text[:MAX_NAME].rstrip().rstrip("\u200c\u200d").rstrip()
    visible = any(unicodedata.category(c)[0] not in "CZM" for c in text)
    return text if visible else None
