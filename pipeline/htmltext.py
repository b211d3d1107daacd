"""HTML from outside: sanitise with nh3 first, then derive clean text and excerpts from it.

Everything downstream works on nh3's output only. nh3 (html5ever) serialises a normalised
document: tags are well formed, attribute values are double-quoted, `<` and `&` in text are
escaped and comments are gone. That is what lets `html_to_text` strip tags with a regular
expression instead of running a second HTML parser over every fragment.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin, urlsplit

import nh3

from .safetext import xml_safe

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
# Removed together with their content (nh3 would otherwise keep the text of a dropped tag).
CONTENT_DROPPED_TAGS = {"script", "style", "iframe", "object", "embed", "noscript", "template",
                        "svg", "math", "select", "textarea", "button", "form", "head", "title"}

_ABSOLUTE = re.compile(r"^(?:https?:|mailto:)", re.I)
_PIXEL_HINTS = re.compile(
    r"(/stat\?event=|/pixel\b|/open\.gif|/track(?:ing)?/|/beacon|feedburner\.com/~r/|/~r/|"
    r"feeds\.feedburner\.com/~ff/|/wf/open|/e2t/o/|1x1\.(?:gif|png)|/spacer\.gif|"
    r"stats\.wp\.com/|pixel\.wp\.com/|/b\.gif\?)", re.I)
# nh3 writes attributes as name="value" and escapes `"` inside values.
_IMG_TAG = re.compile(r"<img\b[^>]*>", re.I)
_TINY = re.compile(r'\s(?:width|height)="\s*[01](?:px)?\s*"', re.I)


# html5ever's time grows with the square of the nesting depth: 20,000 unclosed <div> take
# 0.7 s, 100,000 take 22 s (measured). Only the start of an item's text is ever used (its
# excerpt and TEXT_WORDS words), so a fragment is cut after this many tags.
MAX_TAGS = 1000


def sanitize_html(fragment: str, base_url: str | None = None) -> str:
    """nh3 against the email allow-list. Relative URLs are resolved against `base_url` (the
    xml:base in effect, else the feed's URL); anything that is not http(s)/mailto afterwards is
    dropped, and so are tracking pixels. Only the first MAX_TAGS tags are read."""
    if not fragment:
        return ""
    fragment = xml_safe(fragment)  # nh3 cannot even take a lone surrogate (from JSON)
    if fragment.count("<") > MAX_TAGS:
        fragment = fragment[: _nth_tag(fragment, MAX_TAGS)]

    def resolve(tag: str, attribute: str, value: str) -> str | None:
        if attribute in ("href", "src"):
            value = value.strip()
            if base_url and not _ABSOLUTE.match(value):
                try:
                    value = urljoin(base_url, value)
                except ValueError:
                    return None
            if not _ABSOLUTE.match(value):
                return None
            if tag == "img" and _PIXEL_HINTS.search(value):
                return None
        return value

    cleaned = nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        clean_content_tags=CONTENT_DROPPED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        attribute_filter=resolve,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    if "<img" in cleaned:
        cleaned = _IMG_TAG.sub(_keep_image, cleaned)
    return cleaned


def _nth_tag(fragment: str, n: int) -> int:
    position = -1
    for _ in range(n + 1):
        position = fragment.index("<", position + 1)
    return position


def _keep_image(match: re.Match[str]) -> str:
    """An <img> without a src (a pixel, a data: URI) or sized 0-1 px is worth nothing."""
    tag = match.group(0)
    if " src=" not in tag or _TINY.search(tag):
        return ""
    return tag


# --------------------------------------------------------------------------- text

# Block-level tags become paragraph breaks, table cells spaces, every other tag nothing.
_BLOCK_TAG = re.compile(
    r"</?(?:p|div|br|li|blockquote|h[1-6]|tr|pre|figure|ul|ol|table|thead|tbody|hr)\b[^>]*>",
    re.I)
_CELL_TAG = re.compile(r"</?t[dh]\b[^>]*>", re.I)
_ANY_TAG = re.compile(r"<[^>\"]*(?:\"[^\"]*\"[^>\"]*)*>")
_CAPTION = re.compile(r"<figcaption\b.*?</figcaption>", re.I | re.S)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_BREAKS = re.compile(r" ?\n[\n ]*")


def html_to_text(fragment: str) -> str:
    """Readable plain text of sanitised HTML: entities decoded, paragraphs kept (separated by a
    blank line), whitespace folded, image captions left out."""
    if not fragment:
        return ""
    text = fragment
    if "<" in text:
        if "<figcaption" in text:
            text = _CAPTION.sub("\n", text)
        text = _BLOCK_TAG.sub("\n", text)
        text = _CELL_TAG.sub(" ", text)
        text = _ANY_TAG.sub("", text)
    if "&" in text:
        text = html.unescape(text)
    return normalize_space(text)


def fragment_text(fragment: str, base_url: str | None = None) -> str:
    """Plain text of an untrusted HTML fragment (sanitised first)."""
    return html_to_text(sanitize_html(fragment, base_url))


# Where decoded text still opens a tag: `&lt;script&gt;` in a feed's HTML, double-escaped markup
# (`&amp;lt;p&amp;gt;`), a tag left unclosed.
_MARKUP = re.compile(r"<[A-Za-z/!?]")
UNESCAPE_ROUNDS = 3  # levels of escaping read as markup; deeper nesting is only stripped


def strip_markup(text: str, base_url: str | None = None) -> str:
    """Plain text with no markup left: text that still holds a tag once its entities are
    decoded is read as untrusted HTML again (a script or iframe goes with its content)."""
    for _ in range(UNESCAPE_ROUNDS):
        if "<" not in text or not _MARKUP.search(text):
            return text
        text = fragment_text(text, base_url)
    return _MARKUP.sub(lambda m: m.group(0)[1:], text)


def plain_text(clean: str, base_url: str | None = None) -> str:
    """Plain text of sanitised HTML, decoded and with no markup left (the `excerpt` contract)."""
    return strip_markup(html_to_text(clean), base_url)


# The email's per-reader placeholders are `%%NAME%%` (render.TOKENS), filled in for each reader
# when sending: text from outside that spelled one would be filled in too, and a feed's link
# ending in `?u=%%EMAIL%%` would hand every reader's address to its site.
_TOKEN_MARK = re.compile(r"%{2,}")


def defuse_tokens(text: str) -> str:
    """Text from outside with no `%%` left in it (`100%%` reads as `100%`)."""
    return _TOKEN_MARK.sub("%", text) if "%%" in text else text


# A URL with a scripting scheme written out in text ("[click](javascript:alert(1))", an
# author named "javascript:…"): harmless as text, but a mail client or a later template that
# turned it into a link would run it. The scheme goes; prose ("JavaScript: the good parts")
# has a space after the colon and stays.
_SCRIPT_SCHEME = re.compile(r"(?i)\b(?:java|vb|live)script\s*:(?=\S)|\bdata:(?=text/html)")


def defuse_script_urls(text: str) -> str:
    """Text from outside with no `javascript:`-style URL left in it."""
    return _SCRIPT_SCHEME.sub("", text) if ":" in text else text


def normalize_space(text: str) -> str:
    text = _SPACES.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _BREAKS.sub("\n", text).strip()
    return text.replace("\n", "\n\n")


# --------------------------------------------------------------------------- excerpts

# A sentence ends at . ! ? or … (plus closing quotes/brackets) followed by a space or the end.
_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]]*(?=\s|$)")
# Words after which a period does not end a sentence.
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "inc", "ltd",
    "co", "corp", "no", "fig", "approx", "u.s", "u.k", "jan", "feb", "mar", "apr", "jun", "jul",
    "aug", "sep", "sept", "oct", "nov", "dec", "z.b", "bzw", "ca", "usw", "vgl",
}


def _is_sentence_end(text: str, end: int) -> bool:
    """Whether the punctuation ending at `end` closes a sentence (not "e.g." or "J. Doe")."""
    stripped = text[:end].rstrip("\"'”’»)]")
    if not stripped.endswith("."):
        return True
    word = stripped[:-1].rsplit(None, 1)[-1].lower() if stripped[:-1].strip() else ""
    word = word.lstrip("(\"'“‘«[")
    if word in _ABBREVIATIONS:
        return False
    return not (len(word) == 1 and word.isalpha())  # an initial


def make_excerpt(text: str, max_words: int) -> str:
    """At most `max_words` words of `text`, cut at the last sentence end inside the budget
    (when that keeps at least a third of it), else at a word boundary with an ellipsis.
    Never mid-word; paragraph breaks become spaces."""
    words = text.split()
    if len(words) <= max_words:
        return " ".join(words)
    budget = " ".join(words[:max_words])
    ends = [m.end() for m in _SENTENCE_END.finditer(budget) if _is_sentence_end(budget, m.end())]
    if ends and ends[-1] >= len(budget) // 3:
        return budget[: ends[-1]].strip()
    return budget.rstrip(",;:—–-([{ ") + "…"


def title_from_text(text: str, max_words: int = 12) -> str:
    """A title for an untitled item: its first sentence, shortened."""
    first = text.strip().split("\n", 1)[0]
    for match in _SENTENCE_END.finditer(first):
        if _is_sentence_end(first, match.end()):
            first = first[: match.end()]
            break
    first = first.strip()
    return make_excerpt(first, max_words) if first else "Untitled"


def clip(text: str, limit: int) -> str:
    """`text` shortened to at most `limit` characters at a word boundary, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(",;:—–-([{ ") + "…"


def is_https_url(value: object) -> bool:
    """An absolute https URL with a host (the only kind of lead image we accept)."""
    if not isinstance(value, str) or not value.startswith("https://"):
        return False
    try:
        return bool(urlsplit(value).hostname) and not any(c.isspace() for c in value)
    except ValueError:
        return False
