"""`digest stats` and what reads it, over real state: issues built and sent by the real CLI,
clicks stored through the state layer as the web's writer stores them (times after the send
began), growth from subscriber events, the editor's report, keep_days, the HTML page in
Chromium, `[issue] learn_from_clicks`."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta

import pytest

from pipeline.state import clicks, events
from pipeline.state.db import Database
from pipeline.state.events import EventKind
from pipeline.state.handle import State
from pipeline.tokens import reader_ref

from .conftest import PINNED_WEEK, add_excerpt
from .test_clicks_e2e import READER_AGENT, READERS, _send, _tracked_newsletter
from .test_stats_html import open_in_chromium

NEXT_WEEK, NEXT_NOW = "2026-W49", "2026-12-03T08:00:00+00:00"


def _began(news, week: str = PINNED_WEEK) -> datetime:
    with sqlite3.connect(news.config().db_path) as conn:
        value = conn.execute("SELECT min(updated_at) FROM deliveries WHERE issue_id = ?",
                             (week,)).fetchone()[0]
    return datetime.fromisoformat(value)


def _click(db, week: str, index: int, delivery: str, at: datetime,
           agent: str = READER_AGENT) -> None:
    clicks.record(db, [clicks.ClickRow(week, index, delivery,
                                       at.isoformat(timespec="microseconds"), "GET", agent)])


def _readers_clicks(news, week: str = PINNED_WEEK) -> None:
    """Each reader clicks link 1, two of them link 2, minutes apart; one scanner sweep."""
    began = _began(news, week)
    with Database.open(news.config().db_path) as db:
        for n in range(len(READERS)):
            ref = f"{n:016d}"  # a delivery part as aggregate stores it (16 characters)
            _click(db, week, 1, ref, began + timedelta(minutes=10 + n))
            if n:
                _click(db, week, 2, ref, began + timedelta(minutes=20 + n))
        for i in (0, 1, 2, 3):  # the scanner: trap first, every link in a second
            _click(db, week, i, "s" * 16, began + timedelta(seconds=30 + i * 0.2))


@pytest.fixture
def sent(tmp_path, cli):
    news, _ = _tracked_newsletter(tmp_path, "aggregate")
    _send(news, cli)
    _readers_clicks(news)
    return news


def _stats(cli, news, *args: str) -> dict:
    result = cli("--config", news.config_path, "stats", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_stats_json_has_the_contract_keys_and_the_machine_reasons(sent, cli):
    data = _stats(cli, sent, "--week", PINNED_WEEK)
    assert {"week", "delivered", "clicks", "unique_human_clickers", "links",
            "growth"} <= set(data)
    assert data["week"] == PINNED_WEEK and data["delivered"] == len(READERS)
    assert data["clicks"] == {"human": 5, "machine": 3}
    assert data["unique_human_clickers"] == 3 and data["scanned"] == 1
    for link in data["links"]:
        assert {"url", "title", "section", "source", "human", "machine"} <= set(link)
    assert [x["human"] for x in data["links"][:2]] == [3, 2]
    assert data["machine_reasons"]["trap"] == 1 and data["machine_reasons"]["early"] == 4
    row = data["growth"][-1]
    assert set(row) == {"week", "confirmed", "unsubscribed", "bounced", "complained", "net",
                        "size"}
    # Without --week: the latest issue sent.
    assert _stats(cli, sent)["week"] == PINNED_WEEK


def test_stats_in_the_terminal_and_the_sponsor_without_one(sent, cli):
    result = cli("--config", sent.config_path, "stats", "--week", PINNED_WEEK)
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())  # rich wraps at the terminal's width
    assert "Top links of 2026-W48" in output and "Growth" in output
    assert "3 machine clicks filtered" in output and "trap 1" in output
    result = cli("--config", sent.config_path, "stats", "--sponsor", PINNED_WEEK)
    assert result.exit_code == 2 and "no tracked sponsor link" in result.output


def test_growth_counts_moves_into_and_out_of_the_active_list(tmp_path, cli):
    news, _ = _tracked_newsletter(tmp_path, "off")
    config = news.config()
    with State(config, datetime.fromisoformat("2026-11-27T12:00:00+00:00")) as state:
        db = state.db
        with db.atomic():
            db.execute("DELETE FROM subscriber_events")  # only the events below
        def event(kind, status, previous, at):
            events.record(db, reader_ref(f"{at}{kind}@x.example"), kind, source="test",
                          status=status, previous=previous, at=at)
        event(EventKind.CONFIRMED, "active", None, "2026-11-10T10:00:00+00:00")  # W46
        event(EventKind.CONFIRMED, "active", "pending", "2026-11-17T10:00:00+00:00")  # W47
        event(EventKind.SUBSCRIBED, "pending", None, "2026-11-17T11:00:00+00:00")  # no move
        event(EventKind.UNSUBSCRIBED, "unsubscribed", "pending", "2026-11-18T10:00:00+00:00")
        event(EventKind.BOUNCED, "bounced", "active", "2026-11-24T10:00:00+00:00")  # W48
        event(EventKind.COMPLAINED, "complained", "bounced", "2026-11-25T10:00:00+00:00")
        event(EventKind.UNSUBSCRIBED, "unsubscribed", "active", "2026-11-25T11:00:00+00:00")
        from pipeline.jobs.stats import growth
        rows = growth(state, "2026-W48", 3)
    active = len(READERS)  # the readers added by the fixture are active today
    assert [(r.week, r.confirmed, r.unsubscribed, r.bounced, r.complained, r.net, r.size)
            for r in rows] == [("2026-W46", 1, 0, 0, 0, 1, active + 1),
                               ("2026-W47", 1, 0, 0, 0, 1, active + 2),
                               ("2026-W48", 0, 1, 1, 0, -2, active)]


def test_the_editors_report_carries_last_weeks_results(sent, cli):
    add_excerpt(sent.root, NEXT_WEEK, "next-week")
    result = cli("--config", sent.config_path, "run", "--week", NEXT_WEEK, "--now", NEXT_NOW)
    assert result.exit_code == 0, result.output
    report = json.loads((sent.issues / NEXT_WEEK / "report.json").read_text())
    results = report["last_week_results"]
    assert results["issue"]["week"] == PINNED_WEEK
    assert results["issue"]["human"] == 5 and results["issue"]["machine"] == 3
    assert [x["human"] for x in results["issue"]["top_links"]] == [3, 2]
    assert len(results["growth"]) == 4 and results["growth"][-1]["week"] == NEXT_WEEK
    from email import message_from_bytes, policy
    mails = [message_from_bytes(p.read_bytes(), policy=policy.default)
             for p in (sent.root / "var" / "outbox-editor" / "new").iterdir()]
    body = next(m.get_content() for m in mails if NEXT_WEEK in m["Subject"])
    assert "Last issue (2026-W48): 3 delivered, 3 readers clicked" in body
    assert "3 machine clicks filtered" in body and "1. " in body and "Growth" in body


def test_after_keep_days_the_clicks_go_and_the_totals_stay(sent, cli):
    before = _stats(cli, sent, "--week", PINNED_WEEK)
    config = sent.config()
    from pipeline.jobs.stats import settle
    with State(config, _began(sent) + timedelta(days=29)) as state:
        assert settle(state).pruned == {}
        assert len(clicks.for_issue(state.db, PINNED_WEEK)) == 9
    with State(config, _began(sent) + timedelta(days=31)) as state:
        result = settle(state)
        assert result.pruned == {PINNED_WEEK: 9}
        assert clicks.for_issue(state.db, PINNED_WEEK) == []
    with sqlite3.connect(config.db_path) as conn:
        assert conn.execute("SELECT count(*) FROM clicks").fetchone()[0] == 0
        kept = conn.execute("SELECT stats_json FROM click_totals").fetchone()[0]
    assert "s" * 16 not in kept and "0000000000000001" not in kept  # no delivery part
    after = _stats(cli, sent, "--week", PINNED_WEEK)
    for key in ("delivered", "clicks", "unique_human_clickers", "links", "machine_reasons"):
        assert after[key] == before[key], key


def test_settled_clicks_keep_their_class_and_reasons(sent):
    from pipeline.jobs.stats import settle
    with State(sent.config(), _began(sent) + timedelta(hours=2)) as state:
        assert settle(state).classified == 9
        rows = clicks.for_issue(state.db, PINNED_WEEK)
    sweep = [r for r in rows if r.delivery == "s" * 16]
    assert {r.kind for r in sweep} == {"machine"}
    assert "trap" in sweep[0].reasons and all("early" in r.reasons for r in sweep)
    assert {r.kind for r in rows if r.delivery != "s" * 16} == {"human"}


def test_learn_from_clicks_weighs_sources_by_their_human_clicks(sent):
    from pipeline.jobs.stats import source_weights_before
    with State(sent.config()) as state:
        weights = source_weights_before(state, NEXT_WEEK)
        assert source_weights_before(state, PINNED_WEEK) == {}  # nothing sent before it
    issue = json.loads((sent.issues / PINNED_WEEK / "issue.json").read_text())
    sources = [i["source"] for s in issue["sections"] for i in s["items"]]
    first, second = sources[0], sources[1]
    assert weights[first] > 1.0  # link 1 was clicked by every reader
    assert set(weights) == set(sources)
    assert weights == source_weights_before(State(sent.config()), NEXT_WEEK)  # deterministic
    if second != first:
        assert weights[second] >= 1.0


@pytest.mark.chromium
def test_the_real_stats_page_draws_its_charts_in_chromium(sent, cli, tmp_path):
    path = tmp_path / "report" / "stats.html"
    result = cli("--config", sent.config_path, "stats", "--html", path, "--weeks", "4")
    assert result.exit_code == 0, result.output
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    (charts,), problems, dialogs, requests = open_in_chromium(path)
    assert problems == [] and dialogs == [] and requests == [path.as_uri()]
    assert [c["id"] for c in charts] == ["chart-growth", "chart-issues", "chart-sources"]
    for chart in charts:
        assert chart["width"] > 300 and chart["height"] > 150, chart
        assert chart["painted"] > 200, chart
    assert charts[0]["points"] == [4, 4] and charts[1]["labels"] == 1
