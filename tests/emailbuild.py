"""One real issue for the email-layout tests (issue 13): the shipped curated excerpts, two local
fixture feeds, an excerpt with an image and social links, built by `digest build` at the pinned
time. The tests read what the build wrote (issues/<week>/email.mjml, email.html, email.txt,
issue.json), so they hold whatever module renders it."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader

from .conftest import FEEDS, PINNED_NOW, PINNED_WEEK, ROOT, SOCIAL, make_newsletter

NAME = "PM Career Digest"  # [newsletter] name in tests/conftest.py
IMAGE_URL = "https://images.example.com/whiteboard.png"
IMAGE_ALT = "A whiteboard covered in sticky notes"

PICTURED = f"""+++
title = "Discovery habits that survive a reorg"
url = "https://example.com/discovery-habits"
source = "Example Product Blog"
author = "Ada Lovelace"
section = "craft"
image = "{IMAGE_URL}"
image_alt = "{IMAGE_ALT}"
added = 2026-11-24T09:00:00Z
+++
> Keep one customer conversation on the calendar every week, whatever the org chart says.

> Write down what you expected to hear before the call.
"""


@dataclass(frozen=True)
class BuiltIssue:
    folder: Path

    @property
    def mjml(self) -> str:
        return (self.folder / "email.mjml").read_text(encoding="utf-8")

    @property
    def html(self) -> str:
        return (self.folder / "email.html").read_text(encoding="utf-8")

    @property
    def text(self) -> str:
        return (self.folder / "email.txt").read_text(encoding="utf-8")

    @property
    def issue(self) -> dict:
        return json.loads((self.folder / "issue.json").read_text(encoding="utf-8"))

    @property
    def items(self) -> list[dict]:
        return [item for section in self.issue["sections"] for item in section["items"]]


def build_issue(root: Path) -> BuiltIssue:
    """Build the week's issue with the real CLI (in-process) in a newsletter folder at `root`."""
    from click.testing import CliRunner

    from pipeline.cli import main

    feeds = root / "feeds"
    feeds.mkdir(parents=True)
    for name in ("rss2_kagi-blog_summary-only.xml", "rss2_collective-action-in-tech.xml"):
        shutil.copy(FEEDS / "real" / name, feeds / name)
    news = make_newsletter(root, feeds=[
        ("Kagi Blog", "feeds/rss2_kagi-blog_summary-only.xml"),
        ("Collective Action in Tech", "feeds/rss2_collective-action-in-tech.xml"),
    ], max_items=20, extra=SOCIAL)
    (root / "curated" / "2026-11-24-discovery-habits.md").write_text(PICTURED, encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(news.config_path), "build",
                                       "--now", PINNED_NOW], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return BuiltIssue(news.issues / PINNED_WEEK)


def theme() -> dict:
    """The bundled theme's values (templates/email/theme.j2), read the way templates read it."""
    env = Environment(loader=FileSystemLoader(str(ROOT / "templates")))
    module = env.get_template("email/theme.j2").module
    return {name: getattr(module, name) for name in ("font", "width", "gutter", "content_width",
                                                     "light", "dark", "preheader_fill")}


def contrast(first: str, second: str) -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours."""
    def luminance(colour: str) -> float:
        channels = [int(colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)
