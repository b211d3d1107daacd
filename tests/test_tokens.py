"""HMAC-SHA256 tokens: bound to purpose, subject and issue; altered or foreign ones refused;
expiring ones expire; reader tokens name the address's ref and verify with any accepted key.
(The signing key itself: test_keys.py.)"""

from __future__ import annotations

from pipeline import tokens

KEY = b"k" * 32


def test_round_trip_and_binding():
    token = tokens.sign(KEY, "unsubscribe", "42", "2026-W48")
    assert tokens.verify(KEY, "unsubscribe", token) == ("42", "2026-W48")
    assert tokens.verify(KEY, "confirm", token) is None  # another purpose
    assert tokens.verify(b"other key", "unsubscribe", token) is None
    subject, issue, expiry, mac = token.split(".")
    other = tokens.sign(KEY, "unsubscribe", "43", "2026-W48").split(".")[0]
    assert tokens.verify(KEY, "unsubscribe", ".".join((other, issue, expiry, mac))) is None
    week49 = tokens.sign(KEY, "unsubscribe", "42", "2026-W49").split(".")[1]
    assert tokens.verify(KEY, "unsubscribe", ".".join((subject, week49, expiry, mac))) is None
    for bad in ("", "a.b.c", "a.b.c.d.e", "!!.??.x.##", token + "x", token[:-1]):
        assert tokens.verify(KEY, "unsubscribe", bad) is None, bad


def test_expiring_tokens_expire_and_cannot_be_extended():
    token = tokens.sign_expiring(KEY, "confirm", "7", "abc", 3600, now=1_000_000)
    assert tokens.verify(KEY, "confirm", token, now=1_000_000 + 3599) == ("7", "abc")
    assert tokens.verify(KEY, "confirm", token, now=1_000_000 + 3601) is None
    subject, issue, expiry, mac = token.split(".")
    longer = ".".join((subject, issue, str(int(expiry) + 10**6), mac))
    assert tokens.verify(KEY, "confirm", longer, now=1_000_000 + 3601) is None
    assert tokens.verify(KEY, "confirm", ".".join((subject, issue, "", mac))) is None


def test_reader_ref_is_bound_to_the_address_not_the_key_or_the_row():
    ref = tokens.reader_ref("Ada@example.com")
    assert ref == tokens.reader_ref(" ada@example.com") == tokens.reader_ref("ADA@EXAMPLE.COM")
    assert ref != tokens.reader_ref("bob@example.com")
    assert len(ref) == tokens.REF_LENGTH and "ada" not in ref.lower()
    # Not a bare sha256 of the address: a list of hashes elsewhere does not match refs.
    import base64
    import hashlib
    bare = base64.urlsafe_b64encode(hashlib.sha256(b"ada@example.com").digest()).decode()
    assert not bare.startswith(ref)


def test_reader_tokens_verify_with_any_accepted_key_and_only_for_a_ref():
    ref = tokens.reader_ref("ada@example.com")
    old, new = b"o" * 32, b"n" * 32
    token = tokens.reader_token(old, "unsubscribe", ref, "2026-W48")
    assert tokens.read_reader_token((new, old), "unsubscribe", token) == (ref, "2026-W48")
    assert tokens.read_reader_token(old, "unsubscribe", token) == (ref, "2026-W48")
    assert tokens.read_reader_token((new,), "unsubscribe", token) is None
    assert tokens.read_reader_token((new, old), "confirm", token) is None
    # A genuine token whose subject is not a ref (a numeric id of the old format) is refused.
    legacy = tokens.sign(new, "unsubscribe", "42", "2026-W48")
    assert tokens.read_reader_token(new, "unsubscribe", legacy) is None
    expired = tokens.reader_token(new, "confirm", ref, "stamp", expires=1_000)
    assert tokens.read_reader_token(new, "confirm", expired, now=1_001) is None
    assert tokens.read_reader_token(new, "confirm", expired, now=999) == (ref, "stamp")
