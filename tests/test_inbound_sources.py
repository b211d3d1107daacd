"""inbound.read_sources: Maildir, mbox (read as a stream), message files, folders, stdin; a
source that cannot be read is reported and the others go on."""

from __future__ import annotations

import io
import mailbox
import os
import threading
from pathlib import Path

from pipeline.inbound import InboundMessage, SourceProblem, classify, read_sources
from pipeline.inbound import sources as sources_module

BOUNCE = (b"From: MAILER-DAEMON@mx.example.net\nTo: news@digest.example\n"
          b"Subject: Undelivered Mail Returned to Sender\nX-Failed-Recipients: a@example.org\n\n"
          b"<a@example.org>: host mx.example.org said: 550 5.1.1 User unknown (in reply to "
          b"RCPT TO command)\n")


def message(number: int) -> bytes:
    return BOUNCE.replace(b"a@example.org", f"r{number}@example.org".encode())


def test_maildir_new_and_cur_not_tmp(tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(message(1))
    key = box.add(message(2))
    seen = box.get_message(key)
    seen.set_subdir("cur")
    box[key] = seen
    (tmp_path / "Maildir" / "tmp" / "half-written").write_bytes(b"partial")
    found = list(read_sources([str(tmp_path / "Maildir")]))
    assert all(isinstance(item, InboundMessage) for item in found)
    assert len(found) == 2
    assert {classify(item.raw).recipients for item in found} == \
        {("r1@example.org",), ("r2@example.org",)}
    assert all("/new/" in item.source or "/cur/" in item.source for item in found)


def test_mbox_messages_with_quoted_from_lines(tmp_path: Path) -> None:
    path = tmp_path / "bounces.mbox"
    box = mailbox.mbox(path)
    for number in (1, 2, 3):
        box.add(message(number) + b"\nFrom the desk of the postmaster.\n")
    box.flush()
    box.close()
    found = list(read_sources([str(path)]))
    assert [item.source for item in found] == [f"{path}:1", f"{path}:2", f"{path}:3"]
    assert all(b"\nFrom the desk" in item.raw for item in found)  # ">From" unquoted
    assert [classify(item.raw).recipients for item in found] == \
        [("r1@example.org",), ("r2@example.org",), ("r3@example.org",)]


def test_an_mbox_is_read_as_a_stream(tmp_path: Path) -> None:
    # The writer holds back the end of the mbox until the reader has its first message: a
    # reader that loaded the whole file first would wait forever (the test would hang).
    fifo = tmp_path / "pipe.mbox"
    os.mkfifo(fifo)
    first_read = threading.Event()

    def write() -> None:
        with open(fifo, "wb") as stream:
            stream.write(b"From MAILER-DAEMON Mon Nov 30 07:00:00 2026\n" + message(1) +
                         b"\nFrom MAILER-DAEMON Mon Nov 30 07:00:01 2026\n")
            stream.flush()
            first_read.wait(30)
            stream.write(message(2))

    writer = threading.Thread(target=write)
    writer.start()
    stream = read_sources([str(fifo)])
    first = next(stream)
    first_read.set()
    rest = list(stream)
    writer.join()
    assert isinstance(first, InboundMessage) and b"r1@example.org" in first.raw
    assert len(rest) == 1 and b"r2@example.org" in rest[0].raw


def test_files_folders_stdin_and_problems_in_one_run(tmp_path: Path, monkeypatch) -> None:
    single = tmp_path / "one.eml"
    single.write_bytes(message(1))
    folder = tmp_path / "saved"
    folder.mkdir()
    (folder / "a.eml").write_bytes(message(2))
    (folder / ".hidden").write_bytes(b"not read")
    huge = tmp_path / "huge.eml"
    huge.write_bytes(b"x" * 2000)
    monkeypatch.setattr(sources_module, "MAX_MESSAGE_BYTES", 1000)
    found = list(read_sources([str(tmp_path / "missing"), str(single), str(huge), str(folder),
                               "-"], stdin=io.BytesIO(message(3))))
    problems = [item for item in found if isinstance(item, SourceProblem)]
    messages = [item for item in found if isinstance(item, InboundMessage)]
    assert [problem.source for problem in problems] == [str(tmp_path / "missing"), str(huge)]
    assert "no such file or folder" in str(problems[0]) and "1000" not in str(problems[0])
    assert [item.source for item in messages] == [str(single), str(folder / "a.eml"), "-"]
    assert [classify(item.raw).recipients[0] for item in messages] == \
        ["r1@example.org", "r2@example.org", "r3@example.org"]


def test_stdin_unavailable_is_a_problem_not_a_crash() -> None:
    assert isinstance(next(read_sources(["-"], stdin=None)), SourceProblem)
