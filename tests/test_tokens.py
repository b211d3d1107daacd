"""HMAC-SHA256 tokens: bound to purpose, subject and issue; altered or foreign ones refused;
expiring ones expire; the signing key comes from DIGEST_SECRET or a 0600 file made once."""

from __future__ import annotations

import stat
from pathlib import Path

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


def test_signing_key_from_env_or_a_private_file(tmp_path, monkeypatch):
    monkeypatch.delenv(tokens.SECRET_ENV, raising=False)
    key = tokens.signing_key(tmp_path / "var")
    path = tmp_path / "var" / tokens.KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tokens.signing_key(tmp_path / "var") == key and len(key) == 64
    monkeypatch.setenv(tokens.SECRET_ENV, "from-the-environment")
    assert tokens.signing_key(tmp_path / "var") == b"from-the-environment"


def test_binding_hides_the_address_and_ignores_case():
    assert tokens.binding("Ada@Example.com") == tokens.binding(" ada@example.com")
    assert "ada" not in tokens.binding("ada@example.com")
    assert tokens.binding("ada@example.com") != tokens.binding("bob@example.com")


def _key_in(folder: str, barrier, out) -> None:
    barrier.wait()
    out.put(tokens.signing_key(Path(folder)))


def test_processes_starting_together_share_one_whole_key(tmp_path, monkeypatch):
    """`digest serve` and `digest run` starting at once on a fresh state folder: each must
    read the same complete key, never an empty file another process has just created."""
    import multiprocessing

    monkeypatch.delenv(tokens.SECRET_ENV, raising=False)
    context = multiprocessing.get_context("fork")
    for round_ in range(30):
        folder = str(tmp_path / f"var{round_}")
        barrier, out = context.Barrier(8), context.Queue()
        procs = [context.Process(target=_key_in, args=(folder, barrier, out))
                 for _ in range(8)]
        for proc in procs:
            proc.start()
        keys = {out.get(timeout=10) for _ in procs}
        for proc in procs:
            proc.join()
        assert len(keys) == 1 and len(keys.pop()) == 64, f"round {round_}"
        assert sorted(p.name for p in Path(folder).iterdir()) == [tokens.KEY_FILE]
