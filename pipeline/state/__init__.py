"""The state folder: the SQLite database (every SQL statement lives in this package), the lock, the
signing key, backups. `handle.State` is the one handle a command opens."""
