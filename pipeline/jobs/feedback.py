"""What the readers' servers said about each issue: hard and soft bounces, complaints and
unsubscribes with their rates over the messages sent, and a warning past the thresholds at
which mailbox providers and ESPs act (for the editor's report and report.json).

The counts are the subscriber events recorded with the issue's id (inbound mail, webhooks,
a 5xx at RCPT time, the web's unsubscribe), each reader counted once per kind. Bounce rate is
the hard bounces' (Amazon SES and the others count permanent bounces; a soft bounce is a
delay or a full mailbox, counted apart)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..state import inbound as inbound_state
from ..state import issues, ledger
from ..state.handle import State

# Amazon SES reviews an account at 0.1 % complaints (Gmail and Yahoo require under 0.3 %);
# at 2 % bounces the ESPs warn (SES reviews at 5 %, a list past 2 % needs cleaning).
COMPLAINT_THRESHOLD = 0.001
BOUNCE_THRESHOLD = 0.02
RECENT_ISSUES = 4  # the report shows the latest issues sent: their mail keeps coming back


@dataclass(frozen=True)
class IssueFeedback:
    issue: str
    sent: int
    hard_bounces: int = 0
    soft_bounces: int = 0
    complaints: int = 0
    unsubscribes: int = 0

    def rate(self, count: int) -> float:
        return count / self.sent if self.sent else 0.0

    @property
    def warnings(self) -> tuple[str, ...]:
        found = []
        complaints, bounces = self.rate(self.complaints), self.rate(self.hard_bounces)
        if self.complaints and complaints >= COMPLAINT_THRESHOLD:
            found.append(f"{self.issue}: complaints at {complaints:.2%} (≥ "
                         f"{COMPLAINT_THRESHOLD:.1%}: Amazon SES reviews an account there, "
                         "Gmail and Yahoo want under 0.3 %)")
        if self.hard_bounces and bounces >= BOUNCE_THRESHOLD:
            found.append(f"{self.issue}: hard bounces at {bounces:.2%} (≥ "
                         f"{BOUNCE_THRESHOLD:.0%}: clean the list; Amazon SES reviews an "
                         "account at 5 %)")
        return tuple(found)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"issue": self.issue, "sent": self.sent}
        for name in ("hard_bounces", "soft_bounces", "complaints", "unsubscribes"):
            count = getattr(self, name)
            data[name] = count
            data[name.removesuffix("s") + "_rate"] = round(self.rate(count), 6)
        data["warnings"] = list(self.warnings)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IssueFeedback:
        return cls(str(data.get("issue", "")), int(data.get("sent") or 0),
                   *(int(data.get(name) or 0) for name in
                     ("hard_bounces", "soft_bounces", "complaints", "unsubscribes")))

    def line(self) -> str:
        def part(label: str, count: int) -> str:
            return f"{label} {count} ({self.rate(count):.2%})"
        return (f"{self.issue}: {self.sent} sent; " + ", ".join((
            part("hard bounces", self.hard_bounces), part("soft", self.soft_bounces),
            part("complaints", self.complaints), part("unsubscribes", self.unsubscribes))))


def of_counts(issue: str, sent: int, counts: Mapping[str, int]) -> IssueFeedback:
    """The feedback of one issue from its event counts (state/inbound.issue_events)."""
    return IssueFeedback(issue, sent, counts.get("bounced", 0), counts.get("soft_bounce", 0),
                         counts.get("complained", 0), counts.get("unsubscribed", 0))


def recent(state: State, week: str) -> tuple[IssueFeedback, ...]:
    """The latest issues sent up to `week` (it included once its delivery started), newest
    first."""
    db = state.db
    weeks = {w for w in issues.sent(db) if w <= week}
    if ledger.sent_count(db, week):
        weeks.add(week)
    chosen = sorted(weeks, reverse=True)[:RECENT_ISSUES]
    return tuple(of_counts(w, ledger.sent_count(db, w), inbound_state.issue_events(db, w))
                 for w in chosen)
