"""`digest check` against crafted bad issues: one per error, each failing with its named reason.

Each case writes an issue.json (and, for template mistakes, an override in the newsletter's own
templates folder) and runs the real CLI command.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.fsutil import dumps_json
from pipeline.issue.render import BUNDLED_TEMPLATES
from pipeline.models import Issue, Section
from tests.conftest import make_newsletter
from tests.golden.sample import WEEK, sample_issue, with_items


def write_issue(root: Path, issue: Issue) -> None:
    folder = root / "issues" / issue.id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "issue.json").write_text(dumps_json(issue.to_json()), encoding="utf-8")


def override(root: Path, name: str, old: str, new: str) -> None:
    """Copy a bundled template into the newsletter's templates folder with one change."""
    text = (BUNDLED_TEMPLATES / name).read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}"
    target = root / "templates" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text.replace(old, new), encoding="utf-8")


def run_check(cli, root: Path, *extra: str):
    return cli("--config", root / "config.toml", "check", "--week", WEEK, *extra)


@pytest.fixture
def news(tmp_path: Path) -> Path:
    return make_newsletter(tmp_path / "news", curated=False).root


def test_twelve_item_issue_passes_and_is_under_60_kb(cli, news: Path) -> None:
    write_issue(news, sample_issue(12))
    result = run_check(cli, news)
    assert result.exit_code == 0, result.output
    assert "check passed" in result.output
    size = int(re.search(r"([\d,]+) bytes encoded", result.output).group(1).replace(",", ""))
    assert 20_000 < size <= 60_000


ISSUE_CASES = {
    "relative link": (lambda i: with_items(i, url="/issues/2026-W48/"), "bad-link"),
    "non-http link": (lambda i: with_items(i, url="javascript:alert(1)"), "bad-link"),
    "ftp link": (lambda i: with_items(i, url="ftp://files.example.com/a"), "bad-link"),
    "TK": (lambda i: with_items(i, excerpt="The numbers are TK until Friday."), "placeholder"),
    "TODO": (lambda i: with_items(i, note="TODO: write a note"), "placeholder"),
    "braces": (lambda i: with_items(i, title="Hello {{ name }}"), "placeholder"),
    "percent": (lambda i: with_items(i, excerpt="Save 50%% today"), "placeholder"),
    "empty section": (lambda i: replace(i, sections=(*i.sections, Section("x", "Empty", ()))),
                      "empty-section"),
    "empty subject": (lambda i: replace(i, subject="  "), "empty-subject"),
    "long subject": (lambda i: replace(i, subject="Career " * 30), "long-subject"),
    "empty preheader": (lambda i: replace(i, preheader=""), "empty-preheader"),
    "long preheader": (lambda i: replace(i, preheader="Read on. " * 30), "long-preheader"),
    "too large": (lambda i: replace(i, sections=tuple(
        replace(s, items=tuple(replace(it, excerpt=f"Word{k} " * 1400)
                               for k, it in enumerate(s.items))) for s in i.sections)),
        "too-large"),
}


@pytest.mark.parametrize("case", sorted(ISSUE_CASES))
def test_crafted_bad_issue_fails_with_its_reason(cli, news: Path, case: str) -> None:
    craft, reason = ISSUE_CASES[case]
    write_issue(news, craft(sample_issue(12)))
    result = run_check(cli, news)
    assert result.exit_code == 1, result.output
    assert f"error: {reason}: " in result.output, result.output
    assert "check failed" in result.output


def test_markers_in_a_feed_items_own_words_are_not_placeholders(cli, news: Path) -> None:
    # An article titled "The TODO list…" or quoting "{{ }}" is the publisher's wording: it must
    # not stop the send. The same words in the editor's own text still do (cases above).
    issue = sample_issue(12)
    feed = next(s for s in issue.sections if s.items[0].kind == "feed")
    first = replace(feed.items[0], title="The TODO list that got TK Maxx's PM promoted",
                    excerpt="Write {{ name }} in the template, the author says. TODO: nothing.")
    issue = replace(issue, subject=f"PM Career Digest #12: {first.title}", sections=tuple(
        replace(s, items=(first, *s.items[1:])) if s is feed else s for s in issue.sections))
    write_issue(news, issue)
    result = run_check(cli, news)
    assert result.exit_code == 0, result.output
    assert "placeholder" not in result.output


TEMPLATE_CASES = {
    "no unsubscribe link": ("email/footer.mjml.j2", '<a href="{{ tokens.unsubscribe_url }}"',
                            '<a href="{{ tokens.web_url }}"',
                            "missing-unsubscribe: the HTML part"),
    "no unsubscribe in text": ("email.txt.j2", "{{ tokens.unsubscribe_url }}", "",
                               "missing-unsubscribe: the text part"),
    "image without alt": ("email/item.mjml.j2", 'alt="{{ item.image_alt or item.title }}" ', "",
                          "image-alt: image 'https://images.example.com/1.jpg'"),
    "relative image": ("email/item.mjml.j2", 'src="{{ item.image }}"',
                       'src="/img/{{ item.id }}.jpg"',
                       "bad-link: image source '/img/f-001.jpg' is relative"),
    "unknown token": ("email/footer.mjml.j2", "{{ newsletter.postal_address }}",
                      "%%POSTAL%%", "placeholder: '%%' left in the HTML part"),
    "raw braces": ("email.txt.j2", "{{ tokens.greeting }}", "{{ '{{' }} first_name }}",
                   "placeholder: '{{' left in the text part"),
    "item missing from text": ("email.txt.j2", "{% for item in section.items %}",
                               "{% for item in section.items[1:] %}",
                               "text-parity: item 'How I prepared for product sense"),
}


@pytest.mark.parametrize("case", sorted(TEMPLATE_CASES))
def test_template_mistake_fails_with_its_reason(cli, news: Path, case: str) -> None:
    name, old, new, expected = TEMPLATE_CASES[case]
    write_issue(news, sample_issue(12))
    override(news, name, old, new)
    result = run_check(cli, news)
    assert result.exit_code == 1, result.output
    assert f"error: {expected}" in result.output, result.output


def test_warnings_do_not_fail(cli, news: Path) -> None:
    issue = sample_issue(12)
    bigger = replace(issue, preheader="Short preheader", sections=tuple(
        replace(s, items=tuple(replace(it, excerpt=f"Term{k} " * 360, excerpts=())
                               for k, it in enumerate(s.items))) for s in issue.sections))
    write_issue(news, bigger)
    result = run_check(cli, news)
    assert result.exit_code == 0, result.output
    assert "warning: preheader-length: the preheader is 15 characters" in result.output
    assert "warning: large: the encoded message is" in result.output


@pytest.mark.slow  # waits for a slow link
def test_links_option_warns_about_broken_and_slow_links(cli, http_server, tmp_path: Path) -> None:
    import time

    news = make_newsletter(tmp_path / "news", curated=False,
                           extra="\n[check]\nlink_timeout_seconds = 0.5\n").root
    http_server.serve_bytes("/ok", b"fine", "text/html")
    http_server.serve_bytes("/gone", b"gone", "text/html", status=410)

    def slow(handler) -> None:
        time.sleep(1.5)
        handler.send_response(200)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    http_server.routes["/slow"] = slow
    urls = [http_server.url(p) for p in ("/ok", "/gone", "/slow", "/missing")]
    feed_items = sample_issue(7).sections[2].items + sample_issue(7).sections[1].items
    items = [replace(it, url=urls[n % 4], image=None) for n, it in enumerate(feed_items)]
    issue = replace(sample_issue(7), sections=(Section("craft", "The craft", tuple(items)),))
    write_issue(news, issue)
    plain = run_check(cli, news)
    assert plain.exit_code == 0 and "broken-link" not in plain.output
    assert not any(path.startswith(("/gone", "/slow")) for _, path, _ in http_server.requests)
    result = run_check(cli, news, "--links")
    assert result.exit_code == 0, result.output  # unreachable links warn; they do not block
    assert f"warning: broken-link: {urls[1]} answered HTTP 410" in result.output
    assert f"warning: broken-link: {urls[3]} answered HTTP 404" in result.output
    assert f"warning: broken-link: {urls[2]} did not answer within 0.5 s" in result.output
    assert urls[0] not in result.output
    # The newsletter's own links (unsubscribe, web version) are not requested.
    assert not any("pmcareerdigest" in path for _, path, _ in http_server.requests)


def test_run_never_sends_an_issue_that_fails_its_check(newsletter, cli) -> None:
    root = newsletter.root
    override(root, "email/footer.mjml.j2", '<a href="{{ tokens.unsubscribe_url }}"',
             '<a href="{{ tokens.web_url }}"')
    cli("--config", newsletter.config_path, "subscribers", "add", "ann@example.com")
    result = cli("--config", newsletter.config_path, "run", "--now", "2026-11-26T08:00:00+00:00")
    assert result.exit_code != 0 or "not sent" in result.output, result.output
    assert newsletter.outbox_messages() == []
    report = json.loads((newsletter.issues / "2026-W48" / "report.json").read_text())
    assert any(e.startswith("missing-unsubscribe") for e in report["check"]["errors"])
