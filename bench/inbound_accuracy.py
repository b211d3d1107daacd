"""Benchmark: the inbound classifier against Sisimai on the fixture corpus, beside flufl.bounce,
and its speed.

For every file of the corpus, then for the held-out half of the files added after the classifier
was first tuned (tests/fixtures/inbound/split.json; prefix "heldout_"), in percent:
RESULT recipient_rate: bounces whose failed recipient(s) we name as Sisimai does (goal >= 95)
RESULT hardsoft_agreement: bounces where our hard/soft agrees with Sisimai's (goal >= 90)
RESULT arf_complaint_rate: ARF complaint reports we read as complaints (goal >= 95); RFC 6591
  authentication-failure reports (DMARC forensic) come in the ARF format but are nobody's
  complaint: they are counted apart and must not be complaints (auth_failure_as_complaint)
RESULT false_hard_count: auto-replies and other non-bounces we call hard (goal 0)
RESULT flufl_recipient_rate / flufl_hardsoft_agreement: flufl.bounce's own scores, all files
RESULT inbound_msgs_per_s: messages classified per second (the whole corpus, repeated)
RESULT inbound_mbox_10k_s: seconds to read and classify an mbox of 10,000 bounces (the corpus
  repeated), streamed by read_sources
"""

from __future__ import annotations

import mailbox
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from inbound_scoring import CORPUS, Score, expected, flufl, ours, score, split  # noqa: E402

from pipeline.inbound import InboundMessage, classify, read_sources  # noqa: E402


def _results(prefix: str, result: Score) -> None:
    print(f"RESULT {prefix}recipient_rate={100 * result.recipient_rate:.1f}")
    print(f"RESULT {prefix}hardsoft_agreement={100 * result.kind_rate:.1f}")
    print(f"RESULT {prefix}arf_complaint_rate={100 * result.arf_rate:.1f}")
    print(f"RESULT {prefix}false_hard_count={len(result.wrongly_hard)}")
    print(f"RESULT {prefix}auth_failure_as_complaint={len(result.auth_failure_as_complaint)}")


def main() -> None:
    verbose = "-v" in sys.argv
    mine = score(ours)
    held = score(ours, split()["held_out"])
    theirs = score(flufl)
    for label, result in (("corpus", mine), ("held-out half", held)):
        print(f"{label}: {result.bounces} bounces, {result.arf} ARF complaint reports, "
              f"{result.auth_failure_reports} ARF authentication-failure reports, "
              f"{result.not_bounces} non-bounces")
    _results("", mine)
    _results("heldout_", held)
    print(f"RESULT flufl_recipient_rate={100 * theirs.recipient_rate:.1f}")
    print(f"RESULT flufl_hardsoft_agreement={100 * theirs.kind_rate:.1f}")
    if verbose:
        for line in mine.wrong_recipient + mine.disagreeing + mine.arf_missed + mine.wrongly_hard:
            print("  ", line)
    raws = [(CORPUS / "corpus" / name).read_bytes() for name in sorted(expected())]
    count = 0
    started = time.perf_counter()
    while time.perf_counter() - started < 3 or count < 2000:
        for raw in raws:
            classify(raw)
        count += len(raws)
    elapsed = time.perf_counter() - started
    print(f"RESULT inbound_msgs_per_s={count / elapsed:.0f}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bounces.mbox"
        box = mailbox.mbox(path)
        for number in range(10_000):
            box.add(raws[number % len(raws)])
        box.flush()
        box.close()
        started = time.perf_counter()
        kinds = [classify(item.raw).kind for item in read_sources([str(path)])
                 if isinstance(item, InboundMessage)]
        elapsed = time.perf_counter() - started
    assert len(kinds) == 10_000, len(kinds)
    print(f"RESULT inbound_mbox_10k_s={elapsed:.1f}")


if __name__ == "__main__":
    main()
