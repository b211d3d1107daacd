"""Where inbound messages come from: Maildir folders, mbox files, single message files, a
folder of message files, or one message on standard input ("-", for a Postfix `pipe`
transport or a .forward). Messages are yielded one at a time (an mbox of 100,000 bounces is read
as a stream, never whole); a source that cannot be read is yielded as a `SourceProblem` and the
other sources go on."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAX_MESSAGE_BYTES = 50 * 1024 * 1024  # a "message" larger than this is not a bounce we read
_MBOX_SEPARATOR = re.compile(rb"^From \S*\s+\S.*$")
_MBOX_QUOTED_FROM = re.compile(rb"^>(>*From )")


@dataclass(frozen=True)
class InboundMessage:
    source: str  # "path", "mbox-path:12" (1-based), "maildir/cur/name", "-" for stdin
    raw: bytes


@dataclass(frozen=True)
class SourceProblem:
    source: str
    problem: str  # one line: what went wrong and what is valid

    def __str__(self) -> str:
        return f"{self.source}: {self.problem}"


def _is_maildir(path: Path) -> bool:
    return any((path / name).is_dir() for name in ("cur", "new"))


def _read_file(path: Path, label: str) -> InboundMessage | SourceProblem:
    try:
        if path.stat().st_size > MAX_MESSAGE_BYTES:
            return SourceProblem(label, f"larger than {MAX_MESSAGE_BYTES // 1024 // 1024} MB: "
                                        "not read as one message")
        return InboundMessage(label, path.read_bytes())
    except OSError as exc:
        return SourceProblem(label, f"cannot be read: {exc.strerror or exc}")


def _files_in(directory: Path) -> list[Path] | SourceProblem:
    """The visible regular files of a folder, in name order."""
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        return SourceProblem(str(directory), f"cannot be listed: {exc.strerror or exc}")
    return [directory / name for name in names
            if not name.startswith(".") and (directory / name).is_file()]


def _maildir(path: Path) -> Iterator[InboundMessage | SourceProblem]:
    for folder in ("new", "cur"):
        if (path / folder).is_dir():
            files = _files_in(path / folder)
            if isinstance(files, SourceProblem):
                yield files
            else:
                yield from (_read_file(entry, str(entry)) for entry in files)


def _mbox_messages(stream: BinaryIO, label: str) -> Iterator[InboundMessage]:
    """The messages of an mbox (mboxo or mboxrd), one at a time."""
    lines: list[bytes] = []
    number = 0
    previous_blank = True
    for line in stream:
        if line.startswith(b"From ") and previous_blank and _MBOX_SEPARATOR.match(line.rstrip()):
            if lines:
                number += 1
                yield InboundMessage(f"{label}:{number}", b"".join(lines))
            lines = []
            previous_blank = False
            continue
        lines.append(_MBOX_QUOTED_FROM.sub(rb"\1", line))
        previous_blank = not line.strip()
    if any(line.strip() for line in lines):
        number += 1
        yield InboundMessage(f"{label}:{number}", b"".join(lines))


def _file(path: Path) -> Iterator[InboundMessage | SourceProblem]:
    label = str(path)
    try:
        stream = path.open("rb")  # buffered: peek below
    except OSError as exc:
        yield SourceProblem(label, f"cannot be read: {exc.strerror or exc}")
        return
    with stream:
        try:
            # peek, not read and seek: a FIFO (a pipe from another program) works too.
            if stream.peek(5)[:5] != b"From ":
                data = stream.read(MAX_MESSAGE_BYTES + 1)
                if len(data) > MAX_MESSAGE_BYTES:
                    yield SourceProblem(label, f"larger than {MAX_MESSAGE_BYTES // 1048576} MB: "
                                               "not read as one message")
                else:
                    yield InboundMessage(label, data)
                return
            yield from _mbox_messages(stream, label)
        except OSError as exc:
            yield SourceProblem(label, f"reading stopped: {exc.strerror or exc}")


def _directory(path: Path) -> Iterator[InboundMessage | SourceProblem]:
    files = _files_in(path)
    if isinstance(files, SourceProblem):
        yield files
        return
    for entry in files:
        yield from _file(entry)


def read_sources(paths: Iterable[str], stdin: BinaryIO | None = None
                 ) -> Iterator[InboundMessage | SourceProblem]:
    """Every message of every source, in order. `-` reads one message from `stdin`."""
    for name in paths:
        if name == "-":
            if stdin is None:
                yield SourceProblem("-", "standard input is not available")
            else:
                yield InboundMessage("-", stdin.read(MAX_MESSAGE_BYTES + 1)[:MAX_MESSAGE_BYTES])
            continue
        path = Path(name)
        if path.is_dir():
            yield from (_maildir(path) if _is_maildir(path) else _directory(path))
        elif path.exists():
            yield from _file(path)
        else:
            yield SourceProblem(name, "no such file or folder (give a Maildir folder, an mbox "
                                      "file, a message file, or - for standard input)")
