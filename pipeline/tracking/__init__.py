"""Click tracking, pure parts: signed click tokens, the issue's link table and the trap link,
and the human-or-machine classification of clicks. No I/O here: the web route, the state
layer and compose call these."""

from .classify import (
    DEFAULT_RULES,
    PREFETCH_HEADERS,
    ClassifiedClick,
    ClassifyRules,
    ClickEvent,
    Reason,
    classify_clicks,
    uncounted_reason,
)
from .clicktoken import (
    CLICK_PLACEHOLDER,
    ClickRef,
    click_token,
    delivery_hash,
    delivery_value,
    link_part,
    read_click_token,
    reader_values,
)
from .linktable import (
    SPONSOR_SECTION,
    TRAP_INDEX,
    ClickLinker,
    TrackedLink,
    click_linker,
    click_url,
    link_table,
    target,
    trap_markup,
)

__all__ = [
    "CLICK_PLACEHOLDER", "DEFAULT_RULES", "PREFETCH_HEADERS", "SPONSOR_SECTION", "TRAP_INDEX",
    "ClassifiedClick", "ClassifyRules", "ClickEvent", "ClickLinker", "ClickRef", "Reason",
    "TrackedLink", "classify_clicks", "click_linker", "click_token", "click_url",
    "delivery_hash", "delivery_value", "link_part", "link_table", "read_click_token",
    "reader_values", "target", "trap_markup", "uncounted_reason",
]
