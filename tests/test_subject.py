"""The subject line (issue 13, item 6): `[newsletter] subject`, a template that leads with the
headline by default; placeholders checked when the config loads (exit 2 naming the key); only
the headline is clipped, so `long-subject` still catches a template too long for any inbox.
And the postal address every issue must carry (item 8): an empty one is a config error."""

from __future__ import annotations

import tomllib
from datetime import date

import pytest

from pipeline.config import load_config
from pipeline.issue.assemble import SUBJECT_MAX, subject_and_preheader
from pipeline.models import Item

from .conftest import PINNED_NOW, PINNED_WEEK, ROOT, make_newsletter, run_digest

NAME = "PM Career Digest"
LONG = ("The Journey to Becoming a Product Manager: skills risk, people risk, and the "
        "pre-interview research that makes you stand out")


def _item(title: str, n: int) -> Item:
    return Item(id=f"c-{n}", kind="curated", title=title, url=f"https://x.test/{n}",
                source="S", author=None, published=None, excerpt="e", note=None)


def _config(tmp_path, subject: str | None = None, prefix: str = ""):
    news = make_newsletter(tmp_path / "news", curated=False)
    text = news.config_path.read_text()
    if subject is not None:
        text = text.replace('timezone = "America/New_York"\n',
                            f'timezone = "America/New_York"\nsubject = {subject!r}\n')
    if prefix:
        text = text.replace("max_per_source = 2",
                            f"max_per_source = 2\nsubject_prefix = {prefix!r}")
    news.write_config(text)
    return news


ITEMS = [_item("How to Hire a Product Manager", 1), _item("A Layoff Guide", 2),
         _item("How to Hire a Product Manager", 3)]
DAY = date(2026, 11, 23)


def test_the_default_subject_leads_with_the_headline(tmp_path) -> None:
    config = _config(tmp_path).config()
    subject, _ = subject_and_preheader(config, 7, ITEMS, DAY)
    assert subject == "How to Hire a Product Manager · Issue #7"
    assert NAME not in subject  # the From line names the newsletter already
    # A long headline is clipped at a word so the whole subject fits, the issue number kept.
    subject, _ = subject_and_preheader(config, 7, [_item(LONG, 1)], DAY)
    assert len(subject) <= SUBJECT_MAX and subject.endswith("… · Issue #7")
    assert subject.startswith(LONG[:40])


def test_every_placeholder_and_the_prefix(tmp_path) -> None:
    config = _config(tmp_path, "{name} #{number} ({date}, {count} articles): {headline} {{x}}",
                     prefix="[PMCD] ").config()
    subject, _ = subject_and_preheader(config, 7, ITEMS[::-1][1:] + ITEMS[:1], DAY)
    fixed = "[PMCD] PM Career Digest #7 (23 November 2026, 2 articles): "
    assert subject == fixed + "A Layoff Guide {x}"
    # With a longer headline, the headline (and only it) is clipped to fit.
    subject, _ = subject_and_preheader(config, 7, ITEMS, DAY)
    assert subject == fixed + "How to Hire a… {x}"
    # The template's own words are never clipped: only the headline makes room.
    config = _config(tmp_path / "2", "{name} #{number} · {date} · {headline}").config()
    subject, _ = subject_and_preheader(config, 12, [_item(LONG, 1)], DAY)
    assert subject.startswith("PM Career Digest #12 · 23 November 2026 · The Journey")
    assert len(subject) <= SUBJECT_MAX


def test_a_built_issue_uses_the_template_and_long_subject_still_catches_a_long_one(
        tmp_path, cli) -> None:
    news = _config(tmp_path, "{headline} — " + "the weekly letter for product people " * 4)
    config = ("--config", news.config_path)
    assert cli(*config, "build", "--now", PINNED_NOW).exit_code == 0
    check = cli(*config, "check", "--week", PINNED_WEEK)
    assert check.exit_code == 1
    assert "error: long-subject: the subject is" in check.output
    news = _config(tmp_path / "ok", "{headline} (#{number})")
    (news.root / "curated").rmdir()
    (news.root / "curated").symlink_to(ROOT / "curated")
    assert cli("--config", news.config_path, "build", "--now", PINNED_NOW).exit_code == 0
    issue = (news.issues / PINNED_WEEK / "issue.json").read_text()
    assert '"subject": "The Journey to Becoming a Product Manager (#1)"' in issue


@pytest.mark.parametrize(("template", "why"), [
    ("{title}", "unknown placeholder {title}"),
    ("{headline!r}", "unknown placeholder {headline!r}"),
    ("{number:03d}", "unknown placeholder {number:03d}"),
    ("{headline.__class__}", "unknown placeholder {headline.__class__}"),
    ("{0}", "unknown placeholder {0}"),
    ("{}", "unknown placeholder {}"),
    ("{headline", "is not a valid template"),
    ("}{headline}", "is not a valid template"),
    ("   ", "must not be empty"),
])
def test_a_bad_subject_template_is_exit_2_naming_the_key(tmp_path, template: str,
                                                         why: str) -> None:
    news = _config(tmp_path, template)
    result = run_digest("--config", news.config_path, "build", "--now", PINNED_NOW)
    assert result.returncode == 2, result.stderr
    assert f"{news.config_path}: newsletter.subject: " in result.stderr
    assert why in result.stderr
    assert "valid placeholders: {headline}, {number}, {name}, {date}, {count}" in result.stderr
    assert not (news.issues / PINNED_WEEK).exists()


def test_an_empty_postal_address_is_exit_2_naming_the_key(tmp_path) -> None:
    news = make_newsletter(tmp_path / "news", curated=False)
    text = news.config_path.read_text()
    news.write_config(text.replace(
        'postal_address = "PM Career Digest, 548 Market St #12345, San Francisco, CA 94104, USA"',
        'postal_address = """\n  \n"""'))
    result = run_digest("--config", news.config_path, "build", "--now", PINNED_NOW)
    assert result.returncode == 2
    assert f"{news.config_path}: newsletter.postal_address: must not be empty" in result.stderr
    news.write_config(text.replace('postal_address = "PM Career Digest, 548 Market St #12345, '
                                   'San Francisco, CA 94104, USA"\n', ""))
    missing = run_digest("--config", news.config_path, "build", "--now", PINNED_NOW)
    assert missing.returncode == 2 and "newsletter.postal_address" in missing.stderr


@pytest.mark.parametrize("path", ["config.toml", "examples/config.toml"])
def test_the_shipped_configs_have_a_postal_address(path: str) -> None:
    raw = tomllib.loads((ROOT / path).read_text(encoding="utf-8"))
    assert raw["newsletter"]["postal_address"].strip()
    assert load_config(ROOT / path).newsletter.postal_address.strip()
