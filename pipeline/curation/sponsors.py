"""The sponsor block: `curated/_sponsors/<week>.md`, in the excerpts' format (TOML front
matter between `+++` lines, then Markdown), placed in the week's issue at `[sponsor] position`.

    +++
    title = "Lead product teams with Acme Roadmaps"   # the block's linked title
    url = "https://acme.example/pm"                    # where it leads (tracked as the sponsor's)
    sponsor = "Acme"                                   # who sponsors, shown under the title
    +++
    One or two short paragraphs of the sponsor's text.

`image` and `image_alt` are not offered: a sponsor's picture is one more request a reader's
mail client makes to a third party, which is the kind of tracking this newsletter avoids.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from ..config import Config
from ..errors import CuratedError
from ..models import Issue, Sponsor
from .excerpts import front_matter_line, markdown_text, read_front_matter

REQUIRED = ("title", "url", "sponsor")
FOLDER = "_sponsors"


def sponsor_path(folder: Path, week: str) -> Path:
    return folder / FOLDER / f"{week}.md"


def load_sponsor(config: Config, folder: Path, week: str) -> Sponsor | None:
    """The week's sponsor, positioned as configured (`place` resolves it for an issue), or
    None without a file. CuratedError names the file, the line and what is valid."""
    path = sponsor_path(folder, week)
    if not path.is_file():
        return None
    meta, lines, end = read_front_matter(path)
    problems = [f"{path}:{end + 1}: missing required key '{key}'"
                for key in REQUIRED if key not in meta]
    for key in meta:
        if key not in REQUIRED:
            problems.append(f"{path}:{front_matter_line(lines, end, key)}: unknown key "
                            f"'{key}'; valid: {', '.join(REQUIRED)}")
    for key in REQUIRED:
        value = meta.get(key)
        if key in meta and not (isinstance(value, str) and value.strip()):
            problems.append(f"{path}:{front_matter_line(lines, end, key)}: '{key}' must be a "
                            "non-empty string")
    url = meta.get("url")
    if isinstance(url, str) and not re.match(r"^https?://[^\s/]+\S*$", url.strip()):
        problems.append(f"{path}:{front_matter_line(lines, end, 'url')}: url {url!r} must be "
                        "an absolute http(s) URL without spaces")
    if problems:
        raise CuratedError("\n".join(problems),
                           hint="a sponsor file has title, url and sponsor, then its text "
                                "(curated/README.md)")
    text = markdown_text("\n".join(lines[end + 1:]))
    return Sponsor(title=markdown_text(meta["title"]), url=meta["url"].strip(),
                   name=markdown_text(meta["sponsor"]), text=text,
                   position=config.sponsor.position, label=config.sponsor.label)


def place(issue: Issue, sponsor: Sponsor | None, section_order: list[str]) -> Issue:
    """The issue with its sponsor block. After a section the issue does not have this week:
    after the nearest section before it (in `section_order`, the configured order) that it
    has, else after the intro."""
    if sponsor is None:
        return issue
    position = sponsor.position
    wanted = sponsor.after_section
    if wanted is not None:
        present = {s.id for s in issue.sections}
        earlier = section_order[:section_order.index(wanted) + 1] if wanted in section_order \
            else []
        found = [s for s in earlier if s in present]
        position = f"after_section:{found[-1]}" if found else "after_intro"
    return replace(issue, sponsor=replace(sponsor, position=position))
