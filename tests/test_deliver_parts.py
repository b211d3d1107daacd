"""Small parts of delivery: the shared rate limit, the progress display, dot-stuffing, the
worker journal that survives a crash, and the batch size."""

from __future__ import annotations

import io

from rich.console import Console

from pipeline.cli.progress import SendProgress
from pipeline.delivery import journal
from pipeline.delivery.loop import batch_size
from pipeline.delivery.pool import Pacer
from pipeline.delivery.transports.smtp import dot_stuff
from pipeline.models import DeliveryResult, Outcome


def test_pacer_hands_out_one_slot_per_interval():
    pacer = Pacer(rate=2000)
    pacer()
    first = pacer._next.value
    for _ in range(20):
        pacer()
    # Twenty more transmissions: booked at least twenty intervals further (more when a sleep
    # overslept: missed slots are not made up for with a burst).
    assert pacer._next.value - first >= 20 / 2000 - 1e-9


def test_progress_bar_on_a_terminal_and_silence_otherwise():
    out = io.StringIO()
    progress = SendProgress("sending 2026-W48", enabled=True,
                            console=Console(file=out, force_terminal=True, width=120))
    progress.start(3)
    progress(DeliveryResult("a@example.com", True, 250))
    progress(DeliveryResult("b@example.com", False, 451, "busy"))
    progress(DeliveryResult("c@example.com", False, 550, "no", permanent=True))
    progress.stop()
    text = out.getvalue()
    assert "sending 2026-W48" in text and "3/3" in text
    assert "sent 1" in text and "failed 1" in text and "bounced 1" in text
    quiet = SendProgress("x", enabled=False)
    quiet.start(1)
    quiet(DeliveryResult("a@example.com", True, 250))
    quiet.stop()
    assert (quiet.sent, quiet._progress) == (1, None)


def test_dot_stuffing():
    assert dot_stuff(b"a\r\n.b\r\n") == b"a\r\n..b\r\n.\r\n"
    assert dot_stuff(b".x\r\n") == b"..x\r\n.\r\n"
    assert dot_stuff(b"no final break") == b"no final break\r\n.\r\n"


def test_journal_round_trip_skips_a_torn_line(tmp_path):
    path = journal.journal_path(tmp_path / "journal", "2026-W48", 2)
    log = journal.Journal(path)
    log(Outcome(7, "<m7@x>", DeliveryResult("a@example.com", True, 250), 1))
    log(Outcome(8, "<m8@x>", DeliveryResult("b@example.com", False, 550, "no", True), 1))
    log.close()
    with open(path, "ab") as handle:
        handle.write(b'[9, "<m9@x>", 1, "c@exa')  # a write cut short by a crash
    outcomes = journal.read(path)
    assert [o.subscriber_id for o in outcomes] == [7, 8]
    assert outcomes[1].result.permanent and outcomes[1].result.code == 550
    assert journal.leftovers(tmp_path / "journal", "2026-W48") == [path]
    journal.empty(path)
    assert journal.read(path) == []


def test_batch_size_keeps_every_slot_busy():
    assert batch_size(10, 4) == 1
    assert batch_size(400, 4) == 25
    assert batch_size(100_000, 4) == 64
