"""Names are normalised before they are stored, wherever they come from: no line breaks or
control characters, no terminal escape sequences, no bidi overrides, no RFC 2047 encoded-word
for a mail client to decode, folded whitespace, at most 100 characters. Through the real CLI
(`subscribers add --name`, `subscribers import`); the web signup: test_confirm_links.py."""

from __future__ import annotations

import json

import pytest

from pipeline.names import MAX_NAME, normalize_name

from .conftest import make_newsletter

CASES = {
    "Ada Lovelace": "Ada Lovelace",
    "  Ada \t\r\n Lovelace ": "Ada Lovelace",
    "Ada\r\nBcc: all@example.com": "Ada Bcc: all@example.com",
    "=?utf-8?q?X=0D=0AY?=": "= ?utf-8?q?X=0D=0AY?=",
    "=?UTF-8?B?QWRhDQpCY2M6IHg=?= Lovelace": "= ?UTF-8?B?QWRhDQpCY2M6IHg= ?= Lovelace",
    "\x1b[31mRed\x1b[0m Reader": "Red Reader",
    "\x1b]0;pwned\x07Title": "Title",
    "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\": "click",
    "\x9b2JClear": "Clear",
    "Bell\x07 Null\x00 Del\x7f Nel\x85 C1\x90x": "Bell Null Del Nel C1",
    "abc\u202edcba": "abcdcba",  # right-to-left override
    "\u2066isolate\u2069 \u200bzero\ufeffwidth": "isolate zerowidth",
    "line\u2028separator": "line separator",
    "Zoe\u0308 U\u0308nal": "Zoë Ünal",  # NFC
    "\u200d\u200c  ": None,
    "\x1b[2J": None,
    "": None,
    "محمد\u200cرضا": "محمد\u200cرضا",  # a joiner some scripts need is kept
    "👩\u200d💻 Dev": "👩\u200d💻 Dev",
    "nonchar\ufffe": "nonchar",
}


@pytest.mark.parametrize("raw, stored", list(CASES.items()))
def test_names_are_normalised(raw, stored):
    assert normalize_name(raw) == stored
    if stored is not None:
        assert normalize_name(stored) == stored  # idempotent: stored names stay as they are


def test_long_names_are_cut():
    name = normalize_name("Ada " * 100)
    assert name is not None and len(name) <= MAX_NAME and not name.endswith(" ")
    assert normalize_name(None) is None


def test_every_cli_path_stores_the_normalised_name(tmp_path, cli):
    news = make_newsletter(tmp_path / "news", curated=False)
    config = ("--config", news.config_path)
    hostile = "\x1b[31mEve\x1b[0m\r\n=?utf-8?q?X=0D=0AY?=\u202e"
    assert cli(*config, "subscribers", "add", "eve@example.com", "--name", hostile
               ).exit_code == 0
    csv = tmp_path / "list.csv"
    csv.write_text('email,name\nmal@example.com,"Mal\x1b]0;x\x07\r\nBcc: y@example.com"\n',
                   encoding="utf-8")
    imported = cli(*config, "subscribers", "import", csv)
    assert imported.exit_code == 0, imported.output
    listed = cli(*config, "subscribers", "list", "--json")
    names = {row["email"]: row["name"] for row in json.loads(listed.output)}
    assert names == {"eve@example.com": "Eve = ?utf-8?q?X=0D=0AY?=",
                     "mal@example.com": "Mal Bcc: y@example.com"}
    assert "\x1b" not in cli(*config, "subscribers", "list").output
