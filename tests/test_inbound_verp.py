"""VERP tokens: valid, short, case-proof local parts that verify; any token losslessly in a
local part."""

from __future__ import annotations

import re

import pytest

from pipeline.inbound import (
    decode_local_part,
    encode_local_part,
    find_verp_token,
    return_path,
    sign_verp,
    verify_verp,
)
from pipeline.tokens import read_reader_token, reader_ref, reader_token

KEY, OLD_KEY = b"a" * 32, b"b" * 32
# RFC 5322 dot-atom: atext runs separated by single dots.
DOT_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
TEMPLATE = "bounces+{token}@news.example.com"


@pytest.mark.parametrize("address", ["reader@example.org", "Ünïcode@example.de",
                                     "a.very.long.address+tag@sub.domain.example.co.uk"])
def test_round_trip_in_a_valid_local_part_of_at_most_64_octets(address: str) -> None:
    ref = reader_ref(address)
    token = sign_verp(KEY, ref, "2026-W48")
    local = return_path(TEMPLATE, token).split("@")[0]
    assert DOT_ATOM.match(local) and len(local.encode()) <= 64
    assert verify_verp(KEY, token) == (ref, "2026-W48")
    assert verify_verp(KEY, token.upper()) == (ref, "2026-W48")  # a server lower/upper-cased it
    assert verify_verp([KEY, OLD_KEY], token) == (ref, "2026-W48")


def test_wrong_key_tampering_and_garbage_fail() -> None:
    token = sign_verp(OLD_KEY, reader_ref("reader@example.org"), "2026-W48")
    assert verify_verp(KEY, token) is None
    assert verify_verp([KEY, OLD_KEY], token) is not None
    other = sign_verp(KEY, reader_ref("other@example.org"), "2026-W48")
    mine = sign_verp(KEY, reader_ref("reader@example.org"), "2026-W48")
    assert verify_verp(KEY, other[:27] + mine[27:]) is None  # another reader's ref, my MAC
    assert verify_verp(KEY, mine.replace("2026-w48", "2026-w49")) is None
    for garbage in ("", "x", "bounces", "-" * 60, mine[:-1], mine + "a"):
        assert verify_verp(KEY, garbage) is None


def test_issue_must_fit_a_local_part() -> None:
    with pytest.raises(ValueError, match="issue"):
        sign_verp(KEY, reader_ref("reader@example.org"), "2026 W48")
    with pytest.raises(ValueError, match="ref"):
        sign_verp(KEY, "not-a-ref", "2026-W48")


def test_find_token_in_headers() -> None:
    token = sign_verp(KEY, reader_ref("reader@example.org"), "2026-W48")
    headers = ["news@news.example.com", f"<{return_path(TEMPLATE, token).upper()}>"]
    assert find_verp_token(headers, TEMPLATE) == token
    assert find_verp_token(headers, "bounces@news.example.com") is None
    assert find_verp_token(["xbounces+abc@news.example.com"], TEMPLATE) is None


def test_any_reader_token_losslessly_as_a_local_part() -> None:
    ref = reader_ref("reader@example.org")
    for token in (reader_token(KEY, "unsubscribe", ref, "2026-W48"),
                  reader_token(KEY, "unsubscribe", ref)):  # empty issue: ".." in the token
        encoded = encode_local_part(token)
        assert DOT_ATOM.match(encoded) and encoded == encoded.lower()
        assert decode_local_part(encoded.upper()) == token
        assert read_reader_token(KEY, "unsubscribe", decode_local_part(encoded))[0] == ref
    assert decode_local_part("!!!") is None


def test_the_package_names_load_lazily_and_all_of_them_resolve():
    # `digest send` imports inbound.verp alone; the package's names load on first use.
    import subprocess
    import sys

    import pipeline.inbound as package

    assert sorted(package.__all__) == sorted(package._HOME)
    assert all(getattr(package, name) is not None for name in package.__all__)
    loaded = subprocess.run([sys.executable, "-c", "import sys, pipeline.jobs.send;"
                             " print('pipeline.inbound.classify' in sys.modules)"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "False"
