"""The MJML our templates produce passes the official validator (npm `mjml`, strict).

mjml-python (MRML) accepts unknown tags and misspelled attributes silently, so the official
package checks what the templates emit. `make test` installs it from package.json."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from pipeline.issue.links import click_links
from pipeline.issue.render import render_issue
from pipeline.models import Sponsor
from tests.conftest import SOCIAL, make_newsletter, require_mjml_npm
from tests.golden.sample import sample_issue
from tests.test_render import UTM

pytestmark = pytest.mark.mjml_npm


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(require_mjml_npm()), "-v", str(path)], capture_output=True,
                          text=True, timeout=60)


def test_official_validator_reports_nothing(tmp_path: Path) -> None:
    config = make_newsletter(tmp_path / "news", curated=False, extra=SOCIAL + UTM).config()
    files = []
    for items in (1, 12):
        path = tmp_path / f"issue-{items}.mjml"
        path.write_text(render_issue(config, sample_issue(items)).mjml, encoding="utf-8")
        files.append(path)
    # With clicks tracked (the trap link) and a sponsor block at each position.
    tracked = dataclasses.replace(
        config, tracking=dataclasses.replace(config.tracking, clicks="aggregate"))
    issue = sample_issue(12)
    for position in ("top", "after_intro", f"after_section:{issue.sections[0].id}", "bottom"):
        sponsored = dataclasses.replace(issue, sponsor=Sponsor(
            "Acme Roadmaps", "https://acme.example/pm", "Acme", "Plan less. Ship more.",
            position))
        path = tmp_path / f"sponsor-{position.replace(':', '-')}.mjml"
        path.write_text(render_issue(tracked, sponsored,
                                     click_links(tracked, sponsored, b"k" * 32)).mjml)
        files.append(path)
    for path in files:
        result = validate(path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "illegal" not in result.stdout + result.stderr
        assert "doesn't exist" not in result.stdout + result.stderr


def test_validator_catches_what_mrml_lets_through(tmp_path: Path) -> None:
    # Proves the validator runs strictly: MRML compiles this without a word.
    from mjml import mjml2html

    source = ("<mjml><mj-body><mj-section><mj-column><mj-txt>x</mj-txt>"
              '<mj-text colour="red">y</mj-text></mj-column></mj-section></mj-body></mjml>')
    mjml2html(source)
    path = tmp_path / "bad.mjml"
    path.write_text(source)
    result = validate(path)
    assert result.returncode == 1
    assert "mj-txt" in result.stdout + result.stderr
    assert "Attribute colour is illegal" in result.stdout + result.stderr
