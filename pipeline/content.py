"""HTML from outside: sanitise with nh3 first, then derive clean text and excerpts from it."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from urllib.parse import urljoin

import nh3

# An allow-list fit for email: text structure, links and images, nothing active.
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "em", "figcaption", "figure", "h1", "h2", "h3",
    "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "q", "s", "small", "strong",
    "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "u", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height", "title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
URL_SCHEMES = {"http", "https", "mailto"}


def sanitize_html(fragment: str, base_url: str | None = None) -> str:
    """nh3 against the email allow-list; relative URLs resolved against `base_url`."""
    if not fragment:
        return ""

    def resolve(tag: str, attribute: str, value: str) -> str | None:
        if attribute in ("href", "src"):
            value = value.strip()
            if base_url:
                value = urljoin(base_url, value)
            if not re.match(r"^(https?:|mailto:)", value, re.I):
                return None
            if tag == "img" and _looks_like_tracking_pixel(value):
                return None
        return value

    cleaned = nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        attribute_filter=resolve,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    # An <img> whose src was dropped (a pixel, a data: URI) is worth nothing.
    return re.sub(r"<img(?![^>]*\ssrc=)[^>]*>", "", cleaned)


_PIXEL_HINTS = re.compile(
    r"(/stat\?event=|/pixel|/open\.gif|/track|/beacon|feedburner\.com/~r/|/~r/|1x1|"
    r"/wf/open|/e2t/o/|gravatar\.com/avatar/.*\bs=1\b)", re.I)


def _looks_like_tracking_pixel(url: str) -> bool:
    return bool(_PIXEL_HINTS.search(url))


class _TextExtractor(HTMLParser):
    BLOCKS = {"p", "div", "br", "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "tr",
              "pre", "figure", "ul", "ol", "table", "hr"}
    SKIP = {"script", "style", "figcaption", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(fragment: str) -> str:
    """Readable plain text: entities decoded, paragraphs kept, whitespace folded."""
    if not fragment:
        return ""
    if "<" not in fragment:
        return normalize_space(html.unescape(fragment))
    parser = _TextExtractor()
    parser.feed(fragment)
    parser.close()
    return normalize_space("".join(parser.parts))


def normalize_space(text: str) -> str:
    paragraphs = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n|\n", text)]
    return "\n\n".join(p for p in paragraphs if p)


_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s|$)")


def make_excerpt(text: str, max_words: int) -> str:
    """At most `max_words` words, cut at a sentence end when one falls in the budget's second
    half, else at a word boundary with an ellipsis. Never mid-word."""
    text = re.sub(r"\s+", " ", text).strip()
    words = text.split(" ")
    if len(words) <= max_words:
        return text
    budget = " ".join(words[:max_words])
    ends = [m.end() for m in _SENTENCE_END.finditer(budget)]
    if ends and ends[-1] >= len(budget) // 2:
        return budget[: ends[-1]].strip()
    return budget.rstrip(",;:—–- ") + "…"


def title_from_text(text: str, max_words: int = 12) -> str:
    """A title for an untitled item: its first sentence, shortened."""
    first = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0] if text.strip() else ""
    return make_excerpt(first, max_words) if first else "Untitled"
