"""What the reader sees (issue 13, items 3, 4, 5 and 7), read from a real `digest build`:
a preheader that ends the inbox preview, quotes Outlook can draw, articles that read as
articles in the HTML and the text part, an <h1>, fonts on headings, styled alt text."""

from __future__ import annotations

import html as htmllib
import re
from html.parser import HTMLParser

import pytest

from .emailbuild import IMAGE_ALT, IMAGE_URL, NAME, build_issue, contrast, theme

FILL = "&#847;&zwnj;&nbsp;"
INVISIBLE = {"\u034f", "\u200c", "\u00a0"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_issue(tmp_path_factory.mktemp("layout") / "news")


def articles(built) -> list[tuple[str, dict]]:
    """(section title, item) of every article: one item per article (issue 13 item 2)."""
    return [(section["title"], item) for section in built.issue["sections"]
            for item in section["items"]]


def passages(item: dict) -> list[dict]:
    """An item's passages: its `excerpts` when the editor quoted the article several times."""
    return item.get("excerpts") or [item]


class _BodyText(HTMLParser):
    """The body's text in document order, hidden text included: what an inbox preview reads."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.in_body = False
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.in_body = self.in_body or tag == "body"

    def handle_data(self, data) -> None:
        if self.in_body:
            self.parts.append(data)


def preview_text(html: str) -> str:
    parser = _BodyText()
    parser.feed(html)
    return re.sub(r"[ \t\r\n]+", " ", "".join(parser.parts)).strip()


def test_the_preheader_ends_the_inbox_preview(built) -> None:
    preheader = built.issue["preheader"]
    fill = theme()["preheader_fill"]
    match = re.search(r'<div class="preheader" style="([^"]*)">(.*?)</div>', built.html)
    assert match, "no hidden preheader"
    style, content = match.groups()
    # Hidden by display and size, never by colour (SpamAssassin's HTML_FONT_LOW_CONTRAST).
    for rule in ("display:none", "mso-hide:all", "overflow:hidden", "max-height:0px"):
        assert rule in style, style
    assert "color" not in style
    assert content == htmllib.escape(preheader, quote=False) + FILL * fill

    # An inbox preview is the body's first text, hidden or not: the preheader, then nothing
    # visible for the next 160 characters (Gmail shows ~100, iPhone Mail ~140), even in a
    # client that drops zero-width characters.
    text = preview_text(built.html)
    assert text.startswith(preheader)
    after = text[len(preheader):]
    invisible_run = len(after) - len(after.lstrip("".join(INVISIBLE)))
    assert invisible_run == 3 * fill
    without_zero_width = preheader + after.replace("\u034f", "").replace("\u200c", "")
    assert set(without_zero_width[len(preheader):160]) == {"\u00a0"}
    assert after.lstrip("".join(INVISIBLE)).startswith(NAME)  # then the masthead


def test_quotes_are_one_cell_tables_with_a_bar_of_three_to_one(built) -> None:
    colours = theme()
    light, dark = colours["light"], colours["dark"]
    assert contrast(light["bar"], light["card"]) >= 3.0
    assert contrast(dark["bar"], dark["card"]) >= 3.0

    html = built.html
    assert '<div class="quote"' not in html
    quotes = re.findall(r'<table role="presentation" width="100%" cellpadding="0" '
                        r'cellspacing="0"><tr><td class="quote" style="([^"]*)">(.*?)</td>'
                        r"</tr></table>", html)
    curated = [p for i in built.items if i["kind"] == "curated" for p in passages(i)
               if p["excerpt"]]
    assert len(quotes) == len(curated) >= 10
    for style, body in quotes:
        # Outlook pads and borders table cells only, and does not inherit fonts into tables.
        assert style.startswith(f"border-left:3px solid {light['bar']};"
                                "padding:0px 0px 0px 14px;"), style
        assert f"font-family:{colours['font']};" in style and "font-size:16px" in style
        assert body.startswith("<p ")
    for item in curated:
        first_words = htmllib.escape(item["excerpt"].split()[0] + " " + item["excerpt"].split()[1],
                                     quote=False)
        assert any(first_words in body for _, body in quotes), item["excerpt"][:60]
    dark_css = html[html.index("@media (prefers-color-scheme: dark)"):]
    assert re.search(rf"\.card \.quote \{{ border-left-color: {dark['bar']} !important; \}}",
                     dark_css)


def test_every_article_ends_with_a_read_link_in_both_parts(built) -> None:
    found = articles(built)
    html, text = built.html, built.text
    links = re.findall(r'<p class="read" style="[^"]*"><a href="([^"]+)" style="[^"]*">'
                       r'Read on ([^<]+)&nbsp;<span aria-hidden="true">→</span></a></p>', html)
    assert len(links) == len(found) >= 10
    assert sorted(links) == sorted((item["url"], htmllib.escape(item["source"], quote=False))
                                   for _, item in found)
    assert any(item["kind"] == "feed" for _, item in found)  # plain excerpts get one too

    references = dict(re.findall(r"^\[(\d+)\] (\S+)$", text, re.M))
    read_lines = re.findall(r"^Read on (.+) → \[(\d+)\]$", text, re.M)
    assert len(read_lines) == len(found)
    assert sorted((references[number], source) for source, number in read_lines) == \
        sorted((item["url"], item["source"]) for _, item in found)

    # Articles of one section are parted by a rule line; sections by their own heading.
    sections = len(built.issue["sections"])
    assert text.count("\n* * *\n") == len(found) - sections
    for line in text.splitlines():
        url_only = re.fullmatch(r"(\[\d+\] )?https?://\S+", line)
        assert len(line) <= 72 or url_only, line


def test_headings_masthead_and_images_off(built) -> None:
    colours = theme()
    html, issue = built.html, built.issue
    font = f"font-family:{colours['font']};"
    h1 = re.findall(r'<h1 style="([^"]*)"><a href="[^"]+" style="[^"]*">([^<]+)</a></h1>', html)
    assert len(h1) == 1 and h1[0][1] == NAME and font in h1[0][0]
    assert html.count("<h1") == 1
    for level, expected in (("h2", len(issue["sections"])), ("h3", len(articles(built)))):
        styles = re.findall(rf'<{level} style="([^"]*)">', html)
        assert len(styles) == html.count(f"<{level}") == expected, level
        assert all(font in style for style in styles), level

    # Dark mode: the masthead link is text-coloured, more specific than the link rule.
    dark_css = html[html.index("@media (prefers-color-scheme: dark)"):]
    assert re.search(rf"\.card h1 a \{{ color: {colours['dark']['text']} !important; \}}",
                     dark_css)
    assert dark_css.index(".card h1 a {") > dark_css.index("a, .card a, .page a {")

    # Images off: the alt text is set in the body font, muted, at a readable size.
    images = re.findall(rf'<img src="{re.escape(IMAGE_URL)}" alt="([^"]*)" width="(\d+)" '
                        r'style="([^"]*)" />', html)
    assert len(images) == 1
    alt, width, style = images[0]
    assert alt == IMAGE_ALT and int(width) == colours["content_width"]
    assert font in style and "font-size:14px" in style
    assert f"color:{colours['light']['muted']}" in style

    # What worked stays: language, direction, title, presentation tables.
    assert re.search(r'<html lang="en"', html)
    assert re.search(r'<div[^>]+lang="en" dir="auto"', html)
    assert f"<title>{htmllib.escape(issue['subject'], quote=False)}</title>" in html
    tables = re.findall(r"<table\b[^>]*>", html)
    assert tables and all('role="presentation"' in t for t in tables)
