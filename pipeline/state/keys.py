"""The key that signs readers' links: where it comes from, and when to refuse it.

The current key is $DIGEST_SECRET, else `secret.key` in the state folder. That file is created
(random, mode 0600) only for a newsletter that has never sent a message: once links are in
readers' inboxes, a new key would silently break every one of them, so a lost key file stops
the command until it is restored or DIGEST_SECRET is set. A key shorter than 32 bytes (an empty
file, a short variable) is refused: a guessable key lets anyone unsubscribe anyone.

Rotation: `[web] previous_secrets_env` names environment variables holding retired keys.
Links are signed with the current key and verified against the current and retired ones.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from ..archive import record
from ..archive.files import RECORD_FILE
from ..config import Config
from ..errors import SigningKeyError
from ..fsutil import PRIVATE_DIR, make_dirs
from . import ledger
from .db import Database

SECRET_ENV = "DIGEST_SECRET"
KEY_FILE = "secret.key"
MIN_KEY_BYTES = 32
MAKE_KEY = "python3 -c 'import secrets; print(secrets.token_hex(32))'"
# report.json statuses of a week whose delivery started (jobs/weekly.py, jobs/report.py).


def _checked(value: str, where: str, hint: str) -> bytes:
    size = len(value.strip().encode("utf-8"))
    if size < MIN_KEY_BYTES:
        raise SigningKeyError(
            f"{where} holds {f'a {size}-byte key' if size else 'an empty key'}; the key that "
            f"signs readers' links must be at least {MIN_KEY_BYTES} bytes (a short key can be "
            "guessed, and then anyone can unsubscribe anyone)",
            hint=hint)
    return value.encode("utf-8")


def signing_key(config: Config, ledger_sent: Callable[[], int] | None = None) -> bytes:
    """The current key. SigningKeyError (exit 2) when it is too short, or when the key file is
    missing although messages carrying links signed by it were sent. `ledger_sent` counts the
    messages the ledger delivered (the command's open database; by default the key opens the
    database itself, when there is one)."""
    env = os.environ.get(SECRET_ENV)
    if env is not None:
        return _checked(env, f"the environment variable {SECRET_ENV}",
                        f"set {SECRET_ENV} to a new key made with `{MAKE_KEY}`, or unset it to "
                        f"use {KEY_FILE}; links signed with a short key cannot be kept working")
    path = config.state_dir / KEY_FILE
    if not path.exists():
        sent = delivered_evidence(config, ledger_sent)
        if sent:
            raise SigningKeyError(
                f"{path} is missing, but {sent}: a new key would break every unsubscribe "
                "link already in readers' inboxes, so none is made",
                hint=f"restore {KEY_FILE} from your backup into {config.state_dir} (mode 0600),"
                     f" or set {SECRET_ENV} to the key those links were signed with")
        _create_key_file(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SigningKeyError(f"{path}: cannot read the signing key ({exc})",
                              hint=f"it must be a readable text file, e.g. `{MAKE_KEY}`") from exc
    return _checked(text, str(path),
                    f"write a new key made with `{MAKE_KEY}` to it (mode 0600); links signed "
                    "with a short key cannot be kept working").strip()


def verification_keys(config: Config, current: bytes) -> tuple[bytes, ...]:
    """The current key, then every retired key named by [web] previous_secrets_env."""
    keys = [current]
    for name in config.web.previous_secrets_env:
        value = os.environ.get(name)
        if value is None:
            raise SigningKeyError(
                f"[web] previous_secrets_env names {name}, which is not set",
                hint=f"set {name} to the previous key (links it signed keep working), or "
                     "remove it from the list once those links no longer matter")
        key = _checked(value, f"the environment variable {name}",
                       f"set {name} to the retired key the old links were signed with, or "
                       "remove it from [web] previous_secrets_env")
        if key not in keys:
            keys.append(key)
    return tuple(keys)


def delivered_evidence(config: Config, ledger_sent: Callable[[], int] | None = None
                       ) -> str | None:
    """Why this newsletter counts as having sent messages (their links carry the key), or
    None for one that never did: the ledger, or — when the database is new or was lost — the
    archive's report.json files."""
    if ledger_sent is not None or config.db_path.exists():
        if ledger_sent is None:
            with Database.open(config.db_path) as db:
                sent = ledger.sent_total(db)
        else:
            sent = ledger_sent()
        if sent:
            return f"the database ({config.db_path}) records {sent} delivered message(s)"
    weeks = record.delivered_weeks(config.archive_dir)
    if weeks:
        folder = config.archive_dir / weeks[-1]
        files = [str(f) for f in (folder / "report.json", folder / RECORD_FILE) if f.exists()]
        return f"the archive says issue {weeks[-1]} was sent ({', '.join(files)})"
    return None


def _create_key_file(path: Path) -> None:
    make_dirs(path.parent, PRIVATE_DIR)  # the state folder: private
    # Written whole under a private name, then linked into place: link() never replaces, so
    # of two processes starting at once the first key wins and neither can read a
    # half-written (empty) key file, as it could after an O_EXCL create.
    tmp = path.parent / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
