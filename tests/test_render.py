"""The MJML theme and the text part: structure, accessibility, dark mode, the hidden preheader,
plain-text layout, template overrides, UTM tagging and the MIME message built from them."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from pipeline.issue.links import extract
from pipeline.issue.render import BUNDLED_TEMPLATES, TOKENS, render_issue
from pipeline.mail.check import check_rendered
from pipeline.mail.compose import build_message, public_version
from pipeline.models import Subscriber
from tests.conftest import SOCIAL, make_newsletter
from tests.golden.sample import sample_issue, with_items

KEY = b"k" * 32


def config_for(tmp_path: Path, extra: str = ""):
    return make_newsletter(tmp_path / "news", curated=False, extra=extra).config()


def test_html_has_header_sections_and_footer(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    issue = sample_issue(12)
    html, _ = public_version(config, KEY, render_issue(config, issue))
    text = extract(html).text
    assert "PM Career Digest" in text and "Issue #12 · 23 November 2026" in text
    assert "This week is about getting in the door." in text  # the intro, paragraph by paragraph
    for section in issue.sections:
        assert section.title in text
    for item in issue.items:
        assert f'href="{item.url}"' in html
        assert item.source in text
    assert "Editor’s note: The best answer" in text
    assert config.newsletter.postal_address in text
    assert config.newsletter.why_you_get_this in text
    assert 'href="https://pmcareerdigest.example.com/unsubscribe"' in html
    assert 'href="https://pmcareerdigest.example.com/issues/2026-W48/"' in html


def test_lang_comes_from_the_config(tmp_path: Path) -> None:
    config = config_for(tmp_path, "")
    config = replace(config, newsletter=replace(config.newsletter, lang="fr"))
    rendered = render_issue(config, sample_issue(3))
    assert '<mjml lang="fr">' in rendered.mjml
    assert '<html lang="fr"' in rendered.html
    assert "und" not in re.findall(r'lang="([^"]*)"', rendered.html)


def test_every_image_has_alt_text_social_icons_included(tmp_path: Path) -> None:
    config = config_for(tmp_path, SOCIAL)
    html = render_issue(config, sample_issue(12)).html
    images = extract(html).images
    assert len(images) >= 4  # two item images and two social icons
    assert all(alt and alt.strip() for _, alt in images), images
    alts = {alt for _, alt in images}
    assert "A whiteboard covered in sticky notes" in alts  # the item's own alt text
    assert "PM Career Digest on Linkedin" in alts
    assert "Discovery habits that survive a reorg" in alts  # no alt of its own: the title


def test_preheader_hidden_without_white_on_white(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    issue = replace(sample_issue(3), preheader="Pay <bands> & interviews: what to expect this "
                                               "week")
    html = render_issue(config, issue).html
    match = re.search(r'<div class="preheader" style="([^"]*)">(.*?)</div>', html)
    assert match, "no hidden preheader"
    style, body = match.groups()
    assert "display:none" in style and "mso-hide:all" in style and "overflow:hidden" in style
    assert "color" not in style  # hidden by display, never by white text (HTML_FONT_LOW_CONTRAST)
    # The preheader, then only the invisible fill that ends the inbox preview (issue 13).
    assert re.fullmatch(r"Pay &lt;bands&gt; &amp; interviews: what to expect this week"
                        r"(&#847;&zwnj;&nbsp;)+", body), body
    assert "color:#ffffff;line-height:1px" not in html  # MRML's mj-preview is not used


def test_dark_mode_and_one_place_for_colours(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    html = render_issue(config, sample_issue(3)).html
    assert '<meta name="color-scheme" content="light dark"' in html
    dark = html[html.index("@media (prefers-color-scheme: dark)"):]
    assert "#1a1d23" in dark and "#e7e9ec" in dark  # dark card and text
    # Every colour in the email comes from the theme file.
    theme = (BUNDLED_TEMPLATES / "email" / "theme.j2").read_text()
    palette = {c.lower() for c in re.findall(r"#[0-9a-fA-F]{6}", theme)}
    used = {c.lower() for c in re.findall(r"#[0-9a-fA-F]{6}\b", html)}
    assert used <= palette, used - palette


def test_items_of_one_article_show_the_title_once(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    rendered = render_issue(config, sample_issue(12))
    title = "Breaking into product: an interview with Clement Kao"
    assert rendered.html.count(f">{title}</a>") == 1
    assert all(f"Passage {n}:" in rendered.html for n in (1, 2, 3))
    assert rendered.text.count(title) == 1
    # Each passage with its note under it, in the editor's order, in both parts.
    for part in (rendered.html, rendered.text):
        marks = [part.index(m) for m in ("Passage 1:", "how do I start?", "Passage 2:",
                                         "Passage 3:", "Read this one twice.")]
        assert marks == sorted(marks)


def test_text_part_is_wrapped_with_numbered_link_references(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    issue = sample_issue(12)
    text = render_issue(config, issue).text
    for line in text.splitlines():
        url_only = re.fullmatch(r"(\[\d+\] )?(https?://|%%)\S+", line)
        assert len(line) <= 72 or url_only, line
    links = text[text.index("\nLinks\n"):]
    urls = list(dict.fromkeys(item.url for item in issue.items))
    for number, url in enumerate(urls, start=1):
        assert f"\n[{number}] {url}\n" in links
    assert "How I prepared for product sense interviews [2]" in text
    assert "> Passage 1: treat your career like a product." in text  # curated = quoted
    assert TOKENS["unsubscribe_url"] in text and TOKENS["web_url"] in text


def test_markup_from_content_is_escaped(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    issue = with_items(sample_issue(3), title="<script>alert(1)</script> & more")
    rendered = render_issue(config, issue)
    assert "<script>alert" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in rendered.html
    assert "<script>alert(1)</script> & more" in rendered.text  # plain text stays plain


def test_newsletter_templates_override_the_bundled_ones(tmp_path: Path) -> None:
    news = make_newsletter(tmp_path / "news", curated=False)
    theme = (BUNDLED_TEMPLATES / "email" / "theme.j2").read_text()
    (news.root / "templates" / "email").mkdir(parents=True)
    (news.root / "templates" / "email" / "theme.j2").write_text(
        theme.replace('"accent": "#0f766e"', '"accent": "#7c3aed"'))
    (news.root / "templates" / "email.txt.j2").write_text(
        "Custom text for {{ issue.subject }}\n{% for item in issue.items %}{{ item.title }} "
        "{{ link(item.url) }}\n{% endfor %}{{ tokens.unsubscribe_url }}\n")
    rendered = render_issue(news.config(), sample_issue(3))
    assert "#7c3aed" in rendered.html and "#0f766e" not in rendered.html
    assert rendered.text.startswith("Custom text for PM Career Digest #12")
    # Templates the newsletter does not override still come from the bundle.
    assert "Editor’s note:" in rendered.html


UTM = """
[tracking]
utm = true
utm_campaign = "issue-{number}-{issue}"
"""


def test_utm_tags_go_on_article_links_only(tmp_path: Path) -> None:
    config = config_for(tmp_path, UTM)
    issue = sample_issue(5)
    issue = replace(issue, sections=(issue.sections[0], replace(issue.sections[1], items=(
        replace(issue.sections[1].items[0], url="https://a.example.com/x?utm_source=them"),
        *issue.sections[1].items[1:]))))
    rendered = render_issue(config, issue)
    html, text = public_version(config, KEY, rendered)
    tags = "utm_source=pm-career-digest&utm_medium=email&utm_campaign=issue-12-2026-W48"
    assert f'href="{issue.items[0].url}?{tags.replace("&", "&amp;")}"' in html
    assert f"{issue.items[0].url}?{tags}" in text  # the text part links the same URL
    assert "https://a.example.com/x?utm_source=them" in text  # its own tags are kept
    assert "utm_source=them&amp;utm" not in html
    unsubscribe = "https://pmcareerdigest.example.com/unsubscribe"
    assert f'href="{unsubscribe}"' in html  # own links are never tagged
    assert 'href="https://pmcareerdigest.example.com/issues/2026-W48/"' in html
    assert 'href="https://pmcareerdigest.example.com/"' in html
    assert check_rendered(config, rendered, KEY).ok  # parity holds with tagged links


def test_utm_is_off_by_default(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    rendered = render_issue(config, sample_issue(12))
    assert "utm_" not in rendered.html and "utm_" not in rendered.text


def test_built_message_parses_as_multipart_alternative(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    rendered = render_issue(config, sample_issue(12))
    reader = Subscriber(id=7, email="ann@example.com", name="Ann Lee", status="active")
    message = build_message(config, rendered, reader, KEY, datetime(2026, 11, 23, 12, tzinfo=UTC))
    parsed = message_from_bytes(message.data, policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p["Content-Transfer-Encoding"] == "quoted-printable" for p in parts)
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    text, html = (p.get_content() for p in parts)
    assert "Hi Ann," in text and "Hi Ann," in html
    assert "%%" not in text and "%%" not in html
    unsubscribe = re.search(r"<(https://[^>]+/u/[^>]+)>", parsed["List-Unsubscribe"]).group(1)
    assert f'href="{unsubscribe}"' in html and unsubscribe in text
    assert parsed["Subject"] == "PM Career Digest #12: an interview with Clement Kao"
    assert len(message.data) <= 60_000  # a 12-item issue stays far below Gmail's clipping


@pytest.mark.parametrize("items", [1, 12])
def test_check_passes_the_sample_issues(tmp_path: Path, items: int) -> None:
    config = config_for(tmp_path, SOCIAL)
    report = check_rendered(config, render_issue(config, sample_issue(items)), KEY)
    assert report.errors == () and report.warnings == ()


def test_a_bad_utm_campaign_pattern_is_a_config_error(tmp_path: Path) -> None:
    from pipeline.errors import ConfigError

    config = config_for(tmp_path, '\n[tracking]\nutm = true\nutm_campaign = "{week}"\n')
    with pytest.raises(ConfigError, match="tracking.utm_campaign") as info:
        render_issue(config, sample_issue(3))
    assert info.value.exit_code == 2 and "{issue}" in info.value.hint
