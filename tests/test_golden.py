"""Golden files (Pelican's whole-output test, rss2email's folders: one per case, input beside
the expected output). A missing golden file is written and the test fails, so nothing passes
by accident; `UPDATE_GOLDEN=1 pytest tests/test_golden.py` rewrites them on purpose: review
the diff before committing it.

- small, twelve: the public HTML and text of a 4- and a 12-item issue, rendered from fixed
  issues (tests/golden/sample.py).
- weekly: the whole output of `digest build` (the real CLI) from fixture feeds and the curated
  files of tests/golden/weekly/curated/, with a pinned clock: issue.json, email.mjml,
  email.html and email.txt, byte for byte.
"""

from __future__ import annotations

import difflib
import os
import shutil
from pathlib import Path

import pytest

from pipeline.issue.render import render_issue
from pipeline.mail.compose import public_version
from tests.conftest import FEEDS, PINNED_NOW, PINNED_WEEK, make_newsletter
from tests.golden.sample import sample_issue

GOLDEN = Path(__file__).resolve().parent / "golden"
CASES = {"small": 4, "twelve": 12}
WEEKLY = GOLDEN / "weekly"
WEEKLY_FEEDS = ("rss2_kagi-blog_summary-only.xml", "rss2_collective-action-in-tech.xml")
WEEKLY_FILES = ("issue.json", "email.mjml", "email.html", "email.txt")


def matches_golden(path: Path, content: str) -> None:
    """Compare `content` with the golden file `path`; write it when missing (and fail) or when
    UPDATE_GOLDEN=1 (and pass)."""
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        return
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        pytest.fail(f"{path} was missing: written now; review it and commit it")
    expected = path.read_text(encoding="utf-8")
    if content != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), content.splitlines(True),
                                            str(path), "built now", n=2))
        pytest.fail(f"{path} differs (if the change is intended, rerun with UPDATE_GOLDEN=1"
                    f" and review the diff):\n{diff[:4000]}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_output_matches_golden_files(tmp_path: Path, name: str) -> None:
    config = make_newsletter(tmp_path / "news", curated=False).config()
    rendered = render_issue(config, sample_issue(CASES[name]))
    html, text = public_version(config, b"golden-key" * 4, rendered)
    matches_golden(GOLDEN / name / "email.html", html)
    matches_golden(GOLDEN / name / "email.txt", text)


def test_rendering_is_deterministic(tmp_path: Path) -> None:
    config = make_newsletter(tmp_path / "news", curated=False).config()
    first = render_issue(config, sample_issue(12))
    second = render_issue(config, sample_issue(12))
    assert (first.mjml, first.html, first.text) == (second.mjml, second.html, second.text)


def _weekly_newsletter(root: Path):
    feeds = root / "feeds"
    feeds.mkdir(parents=True)
    for name in WEEKLY_FEEDS:
        shutil.copy(FEEDS / "real" / name, feeds / name)
    news = make_newsletter(root, feeds=[(name, f"feeds/{name}") for name in WEEKLY_FEEDS],
                           curated=False)
    shutil.rmtree(root / "curated")
    shutil.copytree(WEEKLY / "curated", root / "curated")
    return news


@pytest.mark.parametrize("filename", WEEKLY_FILES)
def test_a_whole_build_matches_its_golden_files(tmp_path: Path, cli, filename: str) -> None:
    news = _weekly_newsletter(tmp_path / "news")
    built = cli("--config", news.config_path, "build", "--week", PINNED_WEEK, "--now",
                PINNED_NOW)
    assert built.exit_code == 0, built.output
    output = (news.issues / PINNED_WEEK / filename).read_text(encoding="utf-8")
    assert str(tmp_path) not in output  # nothing of the machine that built it
    matches_golden(WEEKLY / "expected" / filename, output)
