"""The editor hears back (jobs/feedback.py): per issue, hard and soft bounces, complaints and
unsubscribes with their rates over the messages sent, a warning at the providers' thresholds
(complaints ≥ 0.1 %, hard bounces ≥ 2 %), in report.json and the editor's email."""

from __future__ import annotations

import pytest

from pipeline.jobs.feedback import IssueFeedback, of_counts
from pipeline.jobs.report import RunReport, RunStatus, summary_text

from .conftest import make_newsletter


@pytest.mark.parametrize(("sent", "complaints", "hard", "warned"), [
    (1000, 1, 19, ["complaints at 0.10%"]),  # exactly 0.1 %: warned
    (1001, 1, 20, []),  # just under both
    (1000, 0, 20, ["hard bounces at 2.00%"]),
    (0, 0, 0, []),  # nothing sent: no rate, no warning
])
def test_thresholds(sent, complaints, hard, warned):
    item = of_counts("2026-W48", sent, {"complained": complaints, "bounced": hard,
                                        "soft_bounce": 7, "unsubscribed": 3})
    assert [w.split(": ", 1)[1].split(" (")[0] for w in item.warnings] == warned
    data = item.to_json()
    assert (data["complaints"], data["hard_bounces"], data["soft_bounces"],
            data["unsubscribes"]) == (complaints, hard, 7, 3)
    if sent:
        assert data["complaint_rate"] == round(complaints / sent, 6)
        assert data["unsubscribe_rate"] == round(3 / sent, 6)
    assert IssueFeedback.from_json(data) == item


def test_report_json_and_the_editors_email_carry_it(tmp_path):
    config = make_newsletter(tmp_path / "news").config()
    feedback = (of_counts("2026-W49", 500, {}),
                of_counts("2026-W48", 500, {"complained": 2, "bounced": 3, "soft_bounce": 4,
                                            "unsubscribed": 5}))
    report = RunReport("2026-W49", 2, {"craft": 1}, 1, status=RunStatus.SENT,
                       feedback=feedback)
    data = report.to_json()
    assert [item["issue"] for item in data["feedback"]] == ["2026-W49", "2026-W48"]
    assert data["feedback"][1]["complaint_rate"] == 0.004
    assert RunReport.from_json(data).feedback == feedback
    text = summary_text(config, report)
    assert ("2026-W48: 500 sent; hard bounces 3 (0.60%), soft 4 (0.80%), complaints 2 (0.40%),"
            " unsubscribes 5 (1.00%)") in text
    assert "WARNING: 2026-W48: complaints at 0.40%" in text
    assert "WARNING: 2026-W49" not in text
