"""Click tokens (issue 14): signed, URL-safe, short; a forged or altered token reads as None;
a token can only name a link of its own issue."""

from __future__ import annotations

import re
import string

import pytest

from pipeline.tokens import reader_ref, reader_token
from pipeline.tracking import (
    CLICK_PLACEHOLDER,
    ClickRef,
    click_token,
    click_url,
    delivery_hash,
    delivery_value,
    link_part,
    link_table,
    read_click_token,
    target,
)

from .clickdata import BASE, CLICK_KEY, KEY, sample_issue

WEEK = "2026-W48"
REF = reader_ref("ada@example.com")
HASH = delivery_hash(CLICK_KEY, WEEK, REF)
URL_SAFE = re.compile(r"^[A-Za-z0-9._-]+$")


@pytest.mark.parametrize("delivery", [HASH, REF], ids=["aggregate", "per_reader"])
def test_a_token_reads_back_what_it_names(delivery):
    token = click_token(KEY, WEEK, 7, delivery)
    assert read_click_token(KEY, token) == ClickRef(WEEK, 7, delivery)
    assert URL_SAFE.match(token), token


def test_tokens_stay_short_inside_a_realistic_link():
    # aggregate 52 characters, per_reader 58: with a 37-character base and "/c/", under 100.
    for delivery in (HASH, REF):
        token = click_token(KEY, WEEK, 9999, delivery)
        assert len(token) <= 60, token
        assert len(f"https://pmcareerdigest.example.com/c/{token}") < 100


def test_every_single_character_change_is_refused():
    token = click_token(KEY, WEEK, 12, HASH)
    alphabet = string.ascii_letters + string.digits + "-_."
    changed = 0
    for position, original in enumerate(token):
        for replacement in alphabet:
            if replacement == original:
                continue
            altered = token[:position] + replacement + token[position + 1:]
            assert read_click_token(KEY, altered) is None, altered
            changed += 1
    assert changed == len(token) * (len(alphabet) - 1)


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-1], lambda t: t + "A", lambda t: t + ".x", lambda t: t.replace(".", "", 1),
    lambda t: "", lambda t: "....", lambda t: t.upper(), lambda t: t.replace("12", "012", 1),
    lambda t: t.replace("2026-W48", "2026-W47", 1), lambda t: t.replace(".", "%2E"),
    lambda t: t + "\n", lambda t: " " + t,
])
def test_truncated_padded_or_respelled_tokens_are_refused(mangle):
    assert read_click_token(KEY, mangle(click_token(KEY, WEEK, 12, HASH))) is None


def test_a_token_signed_with_another_key_is_refused_and_rotation_still_reads_old_ones():
    old, new = b"o" * 32, b"n" * 32
    token = click_token(old, WEEK, 3, HASH)
    assert read_click_token(new, token) is None
    assert read_click_token((new, old), token) == ClickRef(WEEK, 3, HASH)
    assert read_click_token((new,), token) is None


def test_halves_of_different_weeks_or_deliveries_do_not_combine():
    other_week = "2026-W47"
    mine = delivery_value(KEY, WEEK, HASH)
    # The link part of last week's issue with this week's delivery value, and the reverse.
    assert read_click_token(KEY, f"{link_part(KEY, other_week, 3)}.{mine}") is None
    theirs = delivery_value(KEY, other_week, delivery_hash(CLICK_KEY, other_week, REF))
    assert read_click_token(KEY, f"{link_part(KEY, WEEK, 3)}.{theirs}") is None
    # A made-up delivery part with a seal copied from a genuine one: refused.
    seal = mine.split(".")[1]
    forged = delivery_hash(CLICK_KEY, WEEK, reader_ref("mallory@example.com"))
    assert read_click_token(KEY, f"{link_part(KEY, WEEK, 3)}.{forged}.{seal}") is None
    # What a reader can do with their own message: their delivery value on another link of
    # the same issue, which is clicking that link.
    assert read_click_token(KEY, f"{link_part(KEY, WEEK, 5)}.{mine}") == ClickRef(WEEK, 5, HASH)


def test_other_signed_tokens_of_the_project_are_not_click_tokens():
    unsubscribe = reader_token(KEY, "unsubscribe", REF, WEEK)
    assert read_click_token(KEY, unsubscribe) is None


def test_the_delivery_hash_names_nobody_without_the_click_key():
    assert len(HASH) == 16 and URL_SAFE.match(HASH)
    assert HASH == delivery_hash(CLICK_KEY, WEEK, REF)  # stable: unique counts work
    assert HASH != delivery_hash(b"x" * 32, WEEK, REF)
    assert HASH != delivery_hash(CLICK_KEY, "2026-W47", REF)  # no reader followed across weeks
    assert REF not in HASH and HASH not in REF
    hashes = {delivery_hash(CLICK_KEY, WEEK, reader_ref(f"r{n}@example.com"))
              for n in range(5000)}
    assert len(hashes) == 5000


def test_a_token_can_only_name_a_link_of_its_issue():
    issue = sample_issue(WEEK)
    table = link_table(issue, BASE)
    issue_urls = {item.url for item in issue.items}
    for link in table:
        ref = read_click_token(KEY, click_token(KEY, WEEK, link.index, HASH))
        assert ref is not None and ref.issue == WEEK
        named = target(table, ref.link_index)
        assert named is not None and named.url in issue_urls
    # Indices past the table, and the trap, lead nowhere.
    past = read_click_token(KEY, click_token(KEY, WEEK, len(table) + 1, HASH))
    assert past is not None and target(table, past.link_index) is None
    assert target(table, 0) is None


def test_the_template_url_becomes_a_token_once_compose_fills_the_placeholder():
    url = click_url(BASE, KEY, WEEK, 4)
    assert url.startswith(f"{BASE}/c/") and url.endswith("." + CLICK_PLACEHOLDER)
    filled = url.replace(CLICK_PLACEHOLDER, delivery_value(KEY, WEEK, HASH))
    token = filled.removeprefix(f"{BASE}/c/")
    assert token == click_token(KEY, WEEK, 4, HASH)
    assert read_click_token(KEY, token) == ClickRef(WEEK, 4, HASH)


@pytest.mark.parametrize("call", [
    lambda: link_part(KEY, "2026-48", 1), lambda: link_part(KEY, WEEK, -1),
    lambda: link_part(KEY, WEEK, 10000), lambda: delivery_value(KEY, WEEK, "short"),
    lambda: delivery_value(KEY, WEEK, "a@example.com"), lambda: delivery_hash(KEY, "W48", REF),
])
def test_bad_inputs_to_the_signers_raise(call):
    with pytest.raises(ValueError):
        call()
