"""Scoring the inbound classifier against Sisimai's verdicts on the fixture corpus
(tests/fixtures/inbound/expected.json, made by tools/sisimai_expected.pl). Shared by
tests/test_inbound_corpus.py and bench/inbound_accuracy.py."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import compat32
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "fixtures" / "inbound"
# The newsletter's addresses in the corpus' own terms: none (the samples come from other lists).
LIST_ADDRESSES: tuple[str, ...] = ()


@dataclass
class Score:
    bounces: int = 0  # messages Sisimai reads as a hard or soft bounce
    right_recipient: int = 0
    agreeing_kind: int = 0
    arf: int = 0
    arf_complaint: int = 0
    not_bounces: int = 0  # auto-replies and other mail Sisimai does not count as a bounce
    # ARF-format reports that are not a reader's complaint (RFC 6591 DMARC/auth-failure):
    # Sisimai calls them feedback too; acting on one would drop a reader because someone
    # spoofed the newsletter's domain, so they must not be complaints.
    auth_failure_reports: int = 0
    auth_failure_as_complaint: list[str] = field(default_factory=list)
    wrongly_hard: list[str] = field(default_factory=list)
    wrong_recipient: list[str] = field(default_factory=list)
    disagreeing: list[str] = field(default_factory=list)
    arf_missed: list[str] = field(default_factory=list)

    def rate(self, part: int, whole: int) -> float:
        return part / whole if whole else 1.0

    @property
    def recipient_rate(self) -> float:
        return self.rate(self.right_recipient, self.bounces)

    @property
    def kind_rate(self) -> float:
        return self.rate(self.agreeing_kind, self.bounces)

    @property
    def arf_rate(self) -> float:
        return self.rate(self.arf_complaint, self.arf)


def expected() -> dict[str, list[dict[str, str]]]:
    return json.loads((CORPUS / "expected.json").read_text())["messages"]


def manual_not_bounces() -> list[str]:
    """Files kept as known non-bounces (auto-replies, replies, newsletters): never hard."""
    folder = CORPUS / "corpus" / "not-bounce"
    return sorted(f"not-bounce/{path.name}" for path in folder.iterdir() if path.is_file())


def split() -> dict[str, list[str]]:
    """The files added after the classifier was first tuned (split.json): "tune", which may
    guide changes, and "held_out", scored apart to see how the classifier generalises."""
    data = json.loads((CORPUS / "split.json").read_text())
    return {"tune": data["tune"], "held_out": data["held_out"]}


def score(decide: Callable[[bytes], tuple[str, set[str]]],
          names: Iterable[str] | None = None) -> Score:
    """`decide(raw)` → (kind, recipients) for each corpus file (or only `names`), against
    Sisimai's verdicts."""
    result = Score()
    truth = expected()
    chosen = set(truth) | set(manual_not_bounces())
    if names is not None:
        chosen &= set(names)
    for name in sorted(chosen):
        raw = (CORPUS / "corpus" / name).read_bytes()
        rows = truth.get(name, [])
        kind, recipients = decide(raw)
        bounce_rows = [row for row in rows if row["kind"] in ("hard", "soft")]
        feedback = any(row["reason"] == "feedback" for row in rows)
        if feedback and all(row["feedback"] in ("auth-failure", "not-spam") for row in rows):
            result.auth_failure_reports += 1
            if kind in ("complaint", "hard"):
                result.auth_failure_as_complaint.append(name)
        elif feedback:
            result.arf += 1
            if kind == "complaint":
                result.arf_complaint += 1
            else:
                result.arf_missed.append(f"{name}: {kind}")
        elif bounce_rows:
            result.bounces += 1
            wanted = {row["recipient"] for row in bounce_rows}
            if wanted <= recipients:
                result.right_recipient += 1
            else:
                result.wrong_recipient.append(f"{name}: {sorted(recipients)} != {sorted(wanted)}")
            # The message's kind is hard only when Sisimai has every recipient hard.
            sisimai = "hard" if all(row["kind"] == "hard" for row in bounce_rows) else "soft"
            if kind == sisimai:
                result.agreeing_kind += 1
            else:
                result.disagreeing.append(f"{name}: {kind} != {sisimai} "
                                          f"({bounce_rows[0]['reason']})")
        elif not rows and not name.startswith("not-bounce/"):
            continue  # Sisimai reads nothing in it: no ground truth
        else:
            result.not_bounces += 1
            if kind == "hard":
                result.wrongly_hard.append(name)
    return result


def ours(raw: bytes) -> tuple[str, set[str]]:
    from pipeline.inbound import classify
    verdict = classify(raw, list_addresses=LIST_ADDRESSES)
    return verdict.kind, set(verdict.recipients)


def flufl(raw: bytes) -> tuple[str, set[str]]:
    """flufl.bounce's own verdict: permanent → hard, temporary → soft."""
    from flufl.bounce import all_failures
    try:
        temporary, permanent = all_failures(message_from_bytes(raw, policy=compat32))
    except Exception:  # noqa: BLE001 - a detector crashing on a message is its miss only
        return "not-bounce", set()
    def text(items: set[bytes]) -> set[str]:
        return {item.decode("utf-8", "replace").lower() if isinstance(item, bytes) else
                str(item).lower() for item in items}
    if permanent:
        return "hard", text(permanent) | text(temporary)
    if temporary:
        return "soft", text(temporary)
    return "not-bounce", set()
