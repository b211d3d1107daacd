"""A stock SpamAssassin (Debian package, local tests only: -L) scores a built 12-item message
at or below 0.0, and does not fire the white-on-white preheader rule."""

from __future__ import annotations

import os
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.issue.render import render_issue
from pipeline.mail.compose import build_message
from pipeline.models import Subscriber
from tests.conftest import make_newsletter, require_tool
from tests.golden.sample import sample_issue


@pytest.mark.slow
def test_spamassassin_scores_a_built_message_at_or_below_zero(tmp_path: Path) -> None:
    spamassassin = require_tool("spamassassin", "the spam score of a built message")
    config = make_newsletter(tmp_path / "news", curated=False).config()
    rendered = render_issue(config, sample_issue(12))
    reader = Subscriber(id=1, email="ann@example.com", name="Ann Lee", status="active")
    message = build_message(config, rendered, reader, b"k" * 32,
                            datetime(2026, 11, 23, 12, tzinfo=UTC))
    home = tmp_path / "home"
    home.mkdir()
    result = subprocess.run(
        [spamassassin, "-L", "-t", "--cf=use_bayes 0", "--cf=bayes_auto_learn 0"],
        input=message.data, capture_output=True, timeout=120, env={**os.environ, "HOME": str(home)})
    output = result.stdout.decode("utf-8", "replace")
    match = re.search(r"^X-Spam-Status: \w+, score=(-?\d+(?:\.\d+)?)", output, re.M)
    assert match, output[:2000]
    report = output[output.find("Content analysis details"):]
    assert float(match.group(1)) <= 0.0, report[:3000]
    assert "HTML_FONT_LOW_CONTRAST" not in output
