"""Files: atomic writes (temp file in the same folder, flush, fsync, os.replace), explicit file
modes whatever the umask, and OSError → StorageError (one line naming the path and what to do).

Public files (the archive under issues/) are 0644 in 0755 folders, so a web server running as
another user can publish them; private ones (database, key, journals, backups, outbox) are 0600
in 0700 folders. mkstemp makes 0600 files and mkdir's mode is masked by the umask, so both are
set explicitly.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .errors import StorageError

PUBLIC_FILE, PUBLIC_DIR = 0o644, 0o755
PRIVATE_FILE, PRIVATE_DIR = 0o600, 0o700


def _reason(exc: OSError, folder: Path) -> tuple[str, str]:
    """(what went wrong, what to do) for an OSError on a file in `folder`."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ("no space left on the device",
                f"free space on the disk that holds {folder} (`df -h {folder}`), then run the"
                " command again: what was done so far is kept")
    if exc.errno == errno.EROFS:
        return ("the file system is read-only",
                f"remount the file system that holds {folder} read-write, or point the config"
                " at a writable folder, then run the command again")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return ("permission denied",
                f"make {folder} writable by the user that runs digest (`ls -ld {folder}`),"
                " then run the command again")
    return (exc.strerror or str(exc),
            "check the disk and the folder, then run the command again")


def storage_error(exc: OSError, path: Path | str | None = None,
                  doing: str = "write") -> StorageError:
    """A one-line StorageError for `exc`: what, where, what to do."""
    named = path if path is not None else exc.filename
    if named is None:  # an OSError that names no file (the CLI's last resort)
        reason, hint = _reason(exc, Path.cwd())
        return StorageError(f"a file operation failed: {reason}", hint=hint)
    where = Path(os.fsdecode(named))
    folder = where if where.is_dir() else where.parent
    reason, hint = _reason(exc, folder)
    return StorageError(f"cannot {doing} {where}: {reason}", hint=hint)


def make_dirs(path: Path, mode: int) -> None:
    """Create `path` and its missing parents with `mode` whatever the umask. Folders that
    exist keep their mode (the operator may have chosen one)."""
    missing: list[Path] = []
    current = path
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode)
        except FileExistsError:
            continue  # made meanwhile by another process: its mode stands
        os.chmod(folder, mode)


def atomic_write_bytes(path: Path, data: bytes, mode: int = PUBLIC_FILE,
                       dir_mode: int = PUBLIC_DIR) -> None:
    """Replace `path` with `data` atomically; the file gets `mode`, new folders `dir_mode`.
    Raises StorageError (a full disk, a read-only or foreign folder) naming the path."""
    tmp: str | None = None
    try:
        make_dirs(path.parent, dir_mode)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        if isinstance(exc, OSError):
            raise storage_error(exc, path) from exc
        raise


def atomic_write_text(path: Path, text: str, mode: int = PUBLIC_FILE,
                      dir_mode: int = PUBLIC_DIR) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode, dir_mode)


def dumps_json(data: Any) -> str:
    """Deterministic JSON: sorted keys are NOT used, so the writer's order is the reader's."""
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def atomic_write_json(path: Path, data: Any, mode: int = PUBLIC_FILE,
                      dir_mode: int = PUBLIC_DIR) -> None:
    atomic_write_text(path, dumps_json(data), mode, dir_mode)


def private_file(path: Path) -> None:
    """Create `path` empty with 0600 when missing, else take away group/other access."""
    make_dirs(path.parent, PRIVATE_DIR)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        make_private(path)
    else:
        os.fchmod(fd, PRIVATE_FILE)  # the umask may have taken away our own bits
        os.close(fd)


def make_private(path: Path) -> None:
    """Take group/other access away from `path` if it exists (it may vanish meanwhile)."""
    try:
        if path.stat().st_mode & 0o077:
            os.chmod(path, PRIVATE_FILE)
    except FileNotFoundError:
        pass
    except PermissionError:  # another user's file: theirs to tighten
        pass
