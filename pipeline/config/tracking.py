"""The `[tracking]` and `[sponsor]` tables: UTM tags, click tracking, the sponsor block."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal


def _meta(**kwargs: Any) -> dict[str, Any]:
    return kwargs


@dataclass(frozen=True)
class TrackingConfig:
    """UTM tags on outbound article links (never on unsubscribe or archive links)."""

    utm: bool = False
    utm_source: str | None = field(default=None,
                                   metadata=_meta(doc="default: the newsletter's name as a slug"))
    utm_medium: str = "email"
    utm_campaign: str = field(default="{issue}",
                              metadata=_meta(doc="{issue} = the week, {number} = the issue number"))
    clicks: Literal["off", "aggregate", "per_reader"] = field(default="off", metadata=_meta(
        doc="article links through {base_url}/c/<token> (needs `digest serve` up)"))
    keep_days: int = field(default=30, metadata=_meta(
        min=1, doc="raw clicks (and their delivery parts) kept this long, then only totals"))


SPONSOR_POSITIONS = ("top", "after_intro", "bottom")
_AFTER_SECTION = re.compile(r"^after_section:([a-z0-9][a-z0-9-]*)$")


def _position_form_problem(value: str) -> str | None:
    if value in SPONSOR_POSITIONS or _AFTER_SECTION.match(value):
        return None
    return (f"{value!r} is not valid; valid: {', '.join(map(repr, SPONSOR_POSITIONS))} or "
            "'after_section:<section id>'")


def sponsor_position_problem(value: str, section_ids: set[str]) -> str | None:
    """What is wrong with a [sponsor] position given the configured sections, or None."""
    match = _AFTER_SECTION.match(value)
    if match and match.group(1) not in section_ids:
        return (f"{value!r} names no configured section; valid: "
                + ", ".join(f"'after_section:{s}'" for s in sorted(section_ids)))
    return None


@dataclass(frozen=True)
class SponsorConfig:
    """The sponsor block, from curated/_sponsors/<week>.md when the file exists."""

    position: str = field(default="after_intro", metadata=_meta(
        check=_position_form_problem,
        doc="top | after_intro | after_section:<id> | bottom"))
    label: str = field(default="Sponsored", metadata=_meta(
        check=lambda value: None if value.strip() else "must not be empty"))
