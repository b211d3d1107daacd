"""What MJML (mjml-python) rejects, measured, and the cleaning that keeps it from ever seeing
it; bidi controls; credentials in URLs."""

from __future__ import annotations

import pytest
from mjml import mjml2html

from pipeline.safetext import (
    clean_text,
    redact_credentials,
    redact_url,
    shown,
    without_credentials,
    xml_safe,
)

MJML = ("<mjml><mj-body><mj-section><mj-column><mj-text>a{}b</mj-text>"
        "</mj-column></mj-section></mj-body></mjml>")
# Raw characters mjml-python refuses to compile ("unable to parse next template").
REJECTED = {"NUL": "\x00", "BEL": "\x07", "BS": "\x08", "VT": "\x0b", "FF": "\x0c",
            "ESC": "\x1b", "US": "\x1f", "U+FFFE": "\ufffe", "U+FFFF": "\uffff"}
# Accepted by MJML, but HTML forbids them in its input stream: removed all the same.
FORBIDDEN_IN_HTML = {"DEL": "\x7f", "C1 U+0080": "\x80", "NEL": "\x85", "C1 U+009F": "\x9f"}
# Noncharacters MJML and browsers take: left alone (see safetext's docstring).
ACCEPTED_NONCHARACTERS = ["\ufdd0", "\ufdef", "\U0001fffe", "\U0010ffff"]


@pytest.mark.parametrize("name", REJECTED)
def test_mjml_rejects_these_raw_characters_and_compiles_once_cleaned(name):
    char = REJECTED[name]
    with pytest.raises(ValueError):
        mjml2html(MJML.format(char))
    # Removed; the vertical tab and form feed separate words, so they become spaces.
    kept = " " if name in ("VT", "FF") else ""
    assert xml_safe(char) == kept and clean_text(f"x{char}y") == f"x{kept}y"
    assert f">a{kept}b<" in mjml2html(MJML.format(xml_safe(char))).replace("\n", "")


def test_a_lone_surrogate_cannot_even_be_encoded_and_is_removed():
    with pytest.raises(UnicodeEncodeError):
        mjml2html(MJML.format("\ud800"))
    assert clean_text("a\ud800b\udfffc") == "abc"


@pytest.mark.parametrize("name", FORBIDDEN_IN_HTML)
def test_characters_html_forbids_are_removed_too(name):
    assert clean_text(f"x{FORBIDDEN_IN_HTML[name]}y") == ("x y" if name == "NEL" else "xy")


@pytest.mark.parametrize("char", ACCEPTED_NONCHARACTERS)
def test_other_noncharacters_compile_and_stay(char):
    assert char in mjml2html(MJML.format(char))
    assert clean_text(f"x{char}y") == f"x{char}y"


def test_tabs_newlines_and_ordinary_text_stay():
    text = "Tabs\tand\nnew lines\r\n, café, 東京, emoji 🎉, NBSP\u00a0, LRM\u200e, ZWJ\u200d"
    assert xml_safe(text) == text and clean_text(text) == text
    assert xml_safe("already clean") == "already clean"


def test_bidi_embeddings_overrides_and_isolates_are_removed_marks_stay():
    spoof = "Invoice \u202egpj.exe and \u2066isolated\u2069 \u202aembedded\u202c"
    assert clean_text(spoof) == "Invoice gpj.exe and isolated embedded"
    for char in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
        assert clean_text(char) == ""
    assert clean_text("\u05e9\u05dc\u05d5\u05dd\u200f!") == "\u05e9\u05dc\u05d5\u05dd\u200f!"
    assert xml_safe("\u202e") == "\u202e"  # the safety net only removes what XML forbids


@pytest.mark.parametrize(("url", "shown_as", "base"), [
    ("https://user:s3cret@feeds.example.com/feed.xml",
     "https://***@feeds.example.com/feed.xml", "https://feeds.example.com/feed.xml"),
    ("http://token@example.com:8080/rss?x=1", "http://***@example.com:8080/rss?x=1",
     "http://example.com:8080/rss?x=1"),
    ("https://me:p@ss@example.com/f", "https://***@example.com/f", "https://example.com/f"),
    ("https://example.com/feed?mail=a@b.c", "https://example.com/feed?mail=a@b.c",
     "https://example.com/feed?mail=a@b.c"),
    ("https://example.com/@user/feed", "https://example.com/@user/feed",
     "https://example.com/@user/feed"),
])
def test_credentials_are_redacted_for_showing_and_dropped_from_link_bases(url, shown_as, base):
    assert redact_url(url) == shown_as
    assert without_credentials(url) == base
    assert "s3cret" not in (redact_credentials(f"redirect loop: {url} → {url}") or "")


def test_messages_are_shown_without_credentials_or_control_characters():
    message = "redirect loop: https://u:pw@h.example/a →\n https://u:pw@h.example/b\x1b[2J"
    assert shown(message) == ("redirect loop: https://***@h.example/a → "
                              "https://***@h.example/b[2J")
    assert shown(None) is None and shown("") == ""
