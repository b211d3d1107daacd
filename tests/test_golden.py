"""Golden files: the public HTML and text of a small and a 12-item issue, built from fixed
inputs, compared byte for byte. Regenerate on purpose with `UPDATE_GOLDEN=1 pytest
tests/test_golden.py` and review the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.issue.render import render_issue
from pipeline.mail.compose import public_version
from tests.conftest import make_newsletter
from tests.golden.sample import sample_issue

GOLDEN = Path(__file__).resolve().parent / "golden"
CASES = {"small": 4, "twelve": 12}


@pytest.mark.parametrize("name", sorted(CASES))
def test_output_matches_golden_files(tmp_path: Path, name: str) -> None:
    config = make_newsletter(tmp_path / "news", curated=False).config()
    rendered = render_issue(config, sample_issue(CASES[name]))
    html, text = public_version(config, b"golden-key" * 4, rendered)
    folder = GOLDEN / name
    for filename, content in (("email.html", html), ("email.txt", text)):
        path = folder / filename
        if os.environ.get("UPDATE_GOLDEN") == "1":
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        assert path.is_file(), f"{path} missing: run with UPDATE_GOLDEN=1 once"
        expected = path.read_text(encoding="utf-8")
        assert content == expected, (f"{name}/{filename} differs from the golden file; if the "
                                     "change is intended, rerun with UPDATE_GOLDEN=1")


def test_rendering_is_deterministic(tmp_path: Path) -> None:
    config = make_newsletter(tmp_path / "news", curated=False).config()
    first = render_issue(config, sample_issue(12))
    second = render_issue(config, sample_issue(12))
    assert (first.mjml, first.html, first.text) == (second.mjml, second.html, second.text)
