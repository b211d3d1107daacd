"""What a reader's mail client shows of an HTML part: its text outside hidden elements, and a
text's words for comparing what two parts say. Used by the pre-flight checks (check.py).

Hidden is what the clients honour inline (the email norm: several webmail clients drop <style>
blocks): `display:none`, `visibility:hidden`, a zero `max-height`/`height` with
`overflow:hidden`, the `hidden` attribute, and everything inside <head>, <style>, <script>,
<template>. Outlook's conditional comments (`<!--[if mso]>`) are comments: not shown elsewhere.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                  "param", "source", "track", "wbr"})
NEVER_SHOWN = frozenset({"head", "style", "script", "title", "template"})
_ZERO = re.compile(r"^0(?:\.0*)?(?:px|em|rem|%|pt)?$")
_WORD = re.compile(r"\w+")


def hides(style: str) -> bool:
    """Whether an inline style hides its element."""
    rules: dict[str, str] = {}
    for declaration in style.split(";"):
        name, _, value = declaration.partition(":")
        value = value.replace("!important", "").strip().lower()
        rules[name.strip().lower()] = value
    if rules.get("display") == "none" or rules.get("visibility") == "hidden":
        return True
    collapsed = any(_ZERO.match(rules.get(key, "-")) for key in ("max-height", "height"))
    return collapsed and rules.get("overflow") == "hidden"


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, bool]] = []  # (tag, hidden), innermost last
        self.parts: list[str] = []

    @property
    def hidden(self) -> bool:
        return bool(self.open) and self.open[-1][1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID:
            return
        values = dict(attrs)
        self.open.append((tag, self.hidden or tag in NEVER_SHOWN or "hidden" in values
                          or hides(values.get("style") or "")))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass  # <div/> holds nothing

    def handle_endtag(self, tag: str) -> None:
        # Close up to the matching open tag (an unclosed <p> inside it closes with it).
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index][0] == tag:
                del self.open[index:]
                return

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    """The text a reader sees in `html`, whitespace folded."""
    parser = _Visible()
    parser.feed(html)
    parser.close()
    return " ".join(" ".join(parser.parts).split())


def words(text: str) -> str:
    """`text` as its words alone, lower-cased, one space apart: what a part says, whatever its
    wrapping, quoting (`> `), punctuation or entities."""
    return " ".join(_WORD.findall(text.casefold()))


def says(haystack_words: str, text: str) -> bool:
    """Whether a part (given as `words(part)`) says `text`, word for word. Text without a
    word says nothing to look for."""
    needle = words(text)
    return not needle or f" {needle} " in f" {haystack_words} "
