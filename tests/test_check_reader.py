"""`digest check` as a reader would catch it (issue 13, item 8): a text part without the
excerpts or notes, an issue without the postal address, a preheader that shows, and `alt=""`
on a decorative image accepted. Each case overrides one bundled template in the newsletter's
own templates folder and runs the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.mail.visible import hides, says, visible_text, words
from tests.conftest import make_newsletter
from tests.golden.sample import sample_issue
from tests.test_check import override, run_check, write_issue

INTERVIEW = "item 'Breaking into product: an interview with Clement Kao'"
HIDDEN = "display:none;max-height:0px;max-width:0px;overflow:hidden;mso-hide:all;opacity:0;"
TEXT_EXCERPT = '{{ passage.excerpt | wrap(indent=("> " if item.kind == "curated" else "")) }}'
TEXT_NOTE = """{{ ("Editor's note: " ~ passage.note) | wrap }}"""


@pytest.fixture
def news(tmp_path: Path) -> Path:
    root = make_newsletter(tmp_path / "news", curated=False).root
    write_issue(root, sample_issue(12))
    return root


CASES = {
    "text part without excerpts": (
        [("email.txt.j2", TEXT_EXCERPT, "")],
        [f"text-parity: {INTERVIEW} is in the HTML but its excerpt 'Passage 1: treat your "
         "career like…' and excerpt 'Passage 2:",
         "text-parity: item 'How I prepared for product sense interviews' is in the HTML but "
         "its excerpt 'Most candidates spend their preparation on…' missing from the text part"]),
    "text part without notes": (
        [("email.txt.j2", TEXT_NOTE, "")],
        [f"text-parity: {INTERVIEW} is in the HTML but its editor's note \"The best answer to "
         "'how do…\" and editor's note 'Read this one twice.' missing from the text part"]),
    "text part without excerpts and notes": (
        [("email.txt.j2", TEXT_EXCERPT, ""), ("email.txt.j2", TEXT_NOTE, "")],
        ["text-parity: ", "editor's note 'Read this one twice.'"]),
    "html part without notes": (
        [("email/item.mjml.j2", "{{ passage.note }}", "")],
        [f"missing-item: {INTERVIEW}: its editor's note \"The best answer",
         "not shown in the HTML part"]),
    "no postal address in the html part": (
        [("email/footer.mjml.j2", "{{ newsletter.postal_address }}", "")],
        ["missing-postal-address: the HTML part does not show [newsletter] postal_address"]),
    "postal address hidden in the html part": (
        [("email/footer.mjml.j2", '<mj-text mj-class="footer">{{ newsletter.postal_address }}',
          '<mj-text mj-class="footer"><span style="display: none !important">'
          "{{ newsletter.postal_address }}</span>")],
        ["missing-postal-address: the HTML part"]),
    "no postal address in the text part": (
        [("email.txt.j2", "{{ newsletter.postal_address | wrap }}", "")],
        ["missing-postal-address: the text part does not show"]),
    "preheader without its hiding": (
        [("email.mjml.j2", f'class="preheader" style="{HIDDEN}"', 'class="preheader"')],
        ["visible-preheader: the preheader shows in the HTML part"]),
    "preheader collapsed but overflowing": (
        [("email.mjml.j2", HIDDEN, "max-height:0px;mso-hide:all;")],
        ["visible-preheader: "]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_what_a_reader_would_miss_fails_the_check(cli, news: Path, case: str) -> None:
    changes, expected = CASES[case]
    for name, old, new in changes:
        if (news / "templates" / name).exists():  # a second change to the same override
            path = news / "templates" / name
            text = path.read_text(encoding="utf-8")
            assert old in text
            path.write_text(text.replace(old, new), encoding="utf-8")
        else:
            override(news, name, old, new)
    result = run_check(cli, news)
    assert result.exit_code == 1, result.output
    for line in expected:
        assert line in result.output, result.output
    assert "check failed" in result.output


def test_the_bundled_templates_pass_and_a_decorative_image_may_have_empty_alt(
        cli, news: Path) -> None:
    assert run_check(cli, news).exit_code == 0
    override(news, "email/item.mjml.j2", 'alt="{{ item.image_alt or item.title }}"', 'alt=""')
    result = run_check(cli, news)
    assert result.exit_code == 0, result.output
    assert "image-alt" not in result.output
    html = (news / "templates" / "email" / "item.mjml.j2").read_text()
    assert 'alt=""' in html
    # No alt attribute at all is still an error (test_check.py: "image without alt").


def test_hidden_means_what_mail_clients_honour() -> None:
    for style in ("display:none", "DISPLAY: none !important", "visibility:hidden",
                  "max-height:0px;overflow:hidden", "height:0;overflow:hidden;"):
        assert hides(style), style
    for style in ("", "max-height:0px", "overflow:hidden", "font-size:0px", "opacity:0",
                  "display:block", "max-height:10px;overflow:hidden"):
        assert not hides(style), style
    html = ("<html><head><title>T</title><style>p{}</style></head><body>"
            '<div style="display:none">Preheader <b>bold</b></div><p>Seen<br>text<p>more'
            '<div hidden>gone</div><!--[if mso]>outlook<![endif]--><img alt="x"></body></html>')
    assert visible_text(html) == "Seen text more"
    assert says(words("Seen, text: more!"), "seen text") and not says(words("seen"), "text")
    assert says(words("anything"), "—")  # nothing to look for
