"""One handle per command or job: its config, the state database, the signing key, the clock.

sqlite-utils' `Database` is the model: a command opens one `State` and hands it to every job
and operation, so a weekly run opens SQLite once and reads the key once. The database is
opened (and migrated) on first use and the key read on first use: `digest --help` and a
command that needs neither touch no file. `release()` closes the connection before delivery
workers are forked (an SQLite connection must not cross a fork; the workers, other processes,
never touch the database) and the next use reopens it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ..config import Config
from . import keys, ledger
from .db import Database


class State:
    def __init__(self, config: Config, now: datetime | None = None) -> None:
        self.config = config
        # The command's clock: `--now` when given (tests, backfills), else when it started.
        self.now = now or datetime.now(UTC)
        self._db: Database | None = None
        self._migrated = False
        self._key: bytes | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database.open(self.config.db_path, migrate=not self._migrated)
            self._migrated = True
        return self._db

    def migrate(self) -> None:
        """Open the database now, applying missing migrations (a server does it before its
        first requests, which must not race to create the schema)."""
        _ = self.db

    @property
    def key(self) -> bytes:
        """The key that signs readers' links (state/keys.py), read once."""
        if self._key is None:
            self._key = keys.signing_key(self.config, self._ledger_sent)
        return self._key

    def _ledger_sent(self) -> int:
        if self._db is None and not self.config.db_path.exists():
            return 0  # no database yet: nothing was sent from this one
        return ledger.sent_total(self.db)

    def release(self) -> None:
        """Close the database connection; the next use opens a new one."""
        if self._db is not None:
            self._db.close()
            self._db = None

    close = release

    def __enter__(self) -> State:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
