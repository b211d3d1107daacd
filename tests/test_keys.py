"""The signing key, through the real CLI: an empty or short key file or DIGEST_SECRET is refused
(exit 2, naming the file or the variable); a key file lost after messages went out is never
silently replaced (the ledger, or the archive when the database is gone too, says so); a fresh
newsletter makes one private key, once, even when processes start together."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pipeline.state import keys

from .conftest import PINNED_NOW, PINNED_WEEK, free_port, make_newsletter, run_digest

NEXT_WEEK, NEXT_NOW = "2026-W49", "2026-12-03T08:00:00+00:00"
GOOD = "0123456789abcdef" * 4  # 64 bytes


@pytest.fixture(autouse=True)
def no_secret_in_the_environment(monkeypatch):
    monkeypatch.delenv(keys.SECRET_ENV, raising=False)
    monkeypatch.delenv("DIGEST_SECRET_PREVIOUS", raising=False)


def _build(cli, news, week=PINNED_WEEK, now=PINNED_NOW):
    return cli("--config", news.config_path, "build", "--week", week, "--now", now)


@pytest.mark.parametrize("content", ["", "   \n\t\n", "short-key\n", "x" * 31])
def test_an_empty_or_short_key_file_is_refused_naming_it(tmp_path, cli, content):
    news = make_newsletter(tmp_path / "news")
    key_file = news.root / "var" / keys.KEY_FILE
    key_file.parent.mkdir(parents=True)
    key_file.write_text(content, encoding="utf-8")
    result = _build(cli, news)
    assert result.exit_code == 2, result.output
    assert str(key_file) in result.output
    assert "at least 32 bytes" in result.output
    assert "secrets.token_hex(32)" in result.output  # how to make a valid one
    assert key_file.read_text(encoding="utf-8") == content  # never replaced behind one's back
    assert not (news.issues / PINNED_WEEK / "issue.json").exists()


@pytest.mark.parametrize("value", ["", "   ", "test-secret", "é" * 15])
def test_a_short_digest_secret_is_refused_naming_the_variable(tmp_path, cli, monkeypatch,
                                                                value):
    news = make_newsletter(tmp_path / "news")
    monkeypatch.setenv(keys.SECRET_ENV, value)
    result = _build(cli, news)
    assert result.exit_code == 2, result.output
    assert "DIGEST_SECRET" in result.output and "at least 32 bytes" in result.output
    assert not (news.root / "var" / keys.KEY_FILE).exists()


def test_a_long_enough_digest_secret_is_used_and_no_file_is_made(tmp_path, cli, monkeypatch):
    news = make_newsletter(tmp_path / "news")
    monkeypatch.setenv(keys.SECRET_ENV, "é" * 16)  # 32 bytes in UTF-8
    assert _build(cli, news).exit_code == 0
    assert keys.signing_key(news.config()) == ("é" * 16).encode()
    assert not (news.root / "var" / keys.KEY_FILE).exists()


def test_a_lost_key_file_after_sending_stops_with_how_to_restore(tmp_path, cli, monkeypatch):
    news = make_newsletter(tmp_path / "news")
    config = ("--config", news.config_path)
    assert cli(*config, "subscribers", "add", "reader@example.com").exit_code == 0
    sent = cli(*config, "run", "--now", PINNED_NOW)
    assert sent.exit_code == 0, sent.output
    key_file = news.root / "var" / keys.KEY_FILE
    original = key_file.read_text(encoding="utf-8")
    key_file.unlink()

    # The ledger records a delivered message: no new key, whatever the command.
    for args in (("build", "--week", NEXT_WEEK, "--now", NEXT_NOW),
                 ("run", "--week", NEXT_WEEK, "--now", NEXT_NOW), ("site",)):
        refused = cli(*config, *args)
        assert refused.exit_code == 2, (args, refused.output)
        assert str(key_file) in refused.output and "is missing" in refused.output
        assert "1 delivered message" in refused.output
        assert "restore secret.key" in refused.output and "DIGEST_SECRET" in refused.output
        assert not key_file.exists()
    assert not (news.issues / NEXT_WEEK).exists()

    # The database is gone too: the archive's report.json still says the week was sent.
    for path in (news.root / "var").glob("digest.sqlite3*"):
        path.unlink()
    refused = _build(cli, news, NEXT_WEEK, NEXT_NOW)
    assert refused.exit_code == 2, refused.output
    assert str(news.issues / PINNED_WEEK / "report.json") in refused.output
    assert not key_file.exists()

    # The key from the backup, in the environment or restored as the file: work goes on.
    monkeypatch.setenv(keys.SECRET_ENV, original.strip())
    assert _build(cli, news, NEXT_WEEK, NEXT_NOW).exit_code == 0
    assert not key_file.exists()
    monkeypatch.delenv(keys.SECRET_ENV)
    key_file.write_text(original, encoding="utf-8")
    assert _build(cli, news, NEXT_WEEK, NEXT_NOW).exit_code == 0
    assert key_file.read_text(encoding="utf-8") == original


def test_previous_secrets_must_be_set_and_long_enough(tmp_path, cli, monkeypatch):
    news = make_newsletter(tmp_path / "news",
                           extra='\n[web]\nprevious_secrets_env = ["DIGEST_SECRET_PREVIOUS"]\n')
    serve = ("--config", news.config_path, "serve", "--port", str(free_port()))
    # `digest serve` verifies with the retired keys: it refuses to start without them (a
    # subprocess with a timeout: a server that did start would fail the test, not hang it).
    unset = run_digest(*serve, env={keys.SECRET_ENV: GOOD}, timeout=60)
    assert unset.returncode == 2, unset.stderr
    assert "DIGEST_SECRET_PREVIOUS" in unset.stderr and "not set" in unset.stderr
    short = run_digest(*serve, env={keys.SECRET_ENV: GOOD, "DIGEST_SECRET_PREVIOUS": "old"},
                       timeout=60)
    assert short.returncode == 2, short.stderr
    assert "DIGEST_SECRET_PREVIOUS" in short.stderr and "at least 32 bytes" in short.stderr
    # Jobs that only sign links (build, send) never need the retired keys.
    monkeypatch.setenv(keys.SECRET_ENV, GOOD)
    assert _build(cli, news).exit_code == 0


def test_a_bad_variable_name_in_previous_secrets_env_is_a_config_error(tmp_path, cli):
    news = make_newsletter(tmp_path / "news", curated=False,
                           extra='\n[web]\nprevious_secrets_env = ["OLD KEY=abc"]\n')
    result = cli("--config", news.config_path, "build")
    assert result.exit_code == 2
    assert "web.previous_secrets_env" in result.output
    assert "not an environment variable name" in result.output


def test_a_fresh_newsletter_makes_one_private_key(tmp_path):
    config = make_newsletter(tmp_path / "news", curated=False).config()
    key = keys.signing_key(config)
    path = config.state_dir / keys.KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys.signing_key(config) == key and len(key) == 64


def _key_in(config, barrier, out) -> None:
    barrier.wait()
    out.put(keys.signing_key(config))


@pytest.mark.slow  # processes started together
def test_processes_starting_together_share_one_whole_key(tmp_path):
    """`digest serve` and `digest run` starting at once on a fresh state folder: each must
    read the same complete key, never an empty file another process has just created."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    for round_ in range(30):
        config = make_newsletter(tmp_path / f"news{round_}", curated=False).config()
        barrier, out = context.Barrier(8), context.Queue()
        procs = [context.Process(target=_key_in, args=(config, barrier, out))
                 for _ in range(8)]
        for proc in procs:
            proc.start()
        found = {out.get(timeout=10) for _ in procs}
        for proc in procs:
            proc.join()
        assert len(found) == 1 and len(found.pop()) == 64, f"round {round_}"
        assert sorted(p.name for p in Path(config.state_dir).iterdir()) == [keys.KEY_FILE]
