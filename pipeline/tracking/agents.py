"""Known machine user agents, from the curated pattern file beside this module."""

from __future__ import annotations

import functools
import re
from pathlib import Path

PATTERN_FILE = Path(__file__).with_name("scanner_agents.txt")


def parse_patterns(text: str, source: str) -> tuple[re.Pattern[str], ...]:
    """Every non-comment line as a case-insensitive regex; ValueError names the bad line."""
    patterns = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            patterns.append(re.compile(line, re.IGNORECASE))
        except re.error as exc:
            raise ValueError(f"{source}:{number}: {line!r} is not a regular expression "
                             f"({exc})") from exc
    return tuple(patterns)


@functools.cache
def machine_patterns() -> tuple[re.Pattern[str], ...]:
    return parse_patterns(PATTERN_FILE.read_text(encoding="utf-8"), str(PATTERN_FILE))


@functools.lru_cache(maxsize=4096)  # a week's clicks come from a few hundred distinct agents
def machine_agent(user_agent: str) -> str | None:
    """The first pattern the agent matches, else None."""
    for pattern in machine_patterns():
        if pattern.search(user_agent):
            return pattern.pattern
    return None
