"""Human or machine (issue 14): a Safe Links-like sweep is machine, trap included; a reader's
clicks minutes apart are human; HEAD and prefetches are not counted; known agents are machine.
Each result keeps its reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.tracking import (
    TRAP_INDEX,
    ClassifyRules,
    ClickEvent,
    Reason,
    classify_clicks,
    link_table,
    uncounted_reason,
)

from .clickdata import BASE, CHROME, SAFARI, delivery, sample_issue

SENT = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
LATER = SENT + timedelta(days=7)
TABLE = link_table(sample_issue(), BASE)


def at(seconds: float) -> datetime:
    return SENT + timedelta(seconds=seconds)


def sweep(d: str, start: float, spacing: float = 0.1, trap: bool = True,
          agent: str = CHROME) -> list[ClickEvent]:
    """A gateway fetching every link of one message, the trap first."""
    events = [ClickEvent(d, TRAP_INDEX, at(start), agent)] if trap else []
    return events + [ClickEvent(d, link.index, at(start + spacing * n), agent)
                     for n, link in enumerate(TABLE, 1)]


def test_a_scanner_sweeping_every_link_within_two_seconds_of_delivery_is_all_machine():
    events = sweep(delivery(1), start=1.2, spacing=0.1)
    assert events[-1].at - events[0].at <= timedelta(seconds=2)
    clicks = classify_clicks(events, SENT, LATER)
    assert all(c.kind == "machine" for c in clicks)
    assert clicks[0].reasons[0] == Reason.TRAP
    for click in clicks[1:]:
        assert {Reason.NEAR_TRAP, Reason.BURST, Reason.EARLY} <= set(click.reasons)


def test_a_sweep_minutes_after_delivery_without_the_trap_is_caught_as_a_burst():
    clicks = classify_clicks(sweep(delivery(1), start=300, spacing=0.8, trap=False), SENT, LATER)
    assert all(c.kind == "machine" and c.reasons == (Reason.BURST,) for c in clicks)


def test_a_sweep_that_skips_the_burst_window_is_caught_by_the_trap():
    # One link every 6 s (never 3 within 5 s), but the trap was followed first.
    clicks = classify_clicks(sweep(delivery(1), start=600, spacing=6.0), SENT, LATER)
    assert all(c.kind == "machine" for c in clicks)
    assert all(c.reasons == (Reason.NEAR_TRAP,) for c in clicks[1:])


def test_a_reader_clicking_two_links_minutes_apart_is_human():
    d = delivery(2)
    events = [ClickEvent(d, 2, at(3600), SAFARI), ClickEvent(d, 5, at(3600 + 240), SAFARI)]
    clicks = classify_clicks(events, SENT, LATER)
    assert [c.kind for c in clicks] == ["human", "human"]
    assert all(c.reasons == () and c.settled for c in clicks)


def test_two_quick_tabs_stay_human_and_a_third_within_seconds_is_a_burst():
    d = delivery(3)
    two = [ClickEvent(d, 1, at(7200), CHROME), ClickEvent(d, 2, at(7203), CHROME)]
    assert all(c.human for c in classify_clicks(two, SENT, LATER))
    three = two + [ClickEvent(d, 3, at(7204), CHROME)]
    assert all(c.reasons == (Reason.BURST,) for c in classify_clicks(three, SENT, LATER))
    # The same link three times is one link: a reader clicking again, not a sweep.
    again = [ClickEvent(d, 1, at(7200 + s), CHROME) for s in (0, 1, 2)]
    assert all(c.human for c in classify_clicks(again, SENT, LATER))


def test_the_trap_marks_only_its_own_delivery_and_only_around_that_moment():
    scanned, other = delivery(4), delivery(5)
    events = sweep(scanned, start=40) + [
        ClickEvent(other, 1, at(41), SAFARI),  # another reader, same second (but early)
        ClickEvent(other, 3, at(4000), SAFARI),  # another reader, later
        ClickEvent(scanned, 2, at(40 + 3600), SAFARI),  # the scanned reader, an hour later
    ]
    clicks = classify_clicks(events, SENT, LATER)
    assert clicks[-3].reasons == (Reason.EARLY,)  # not near_trap: another delivery
    assert clicks[-2].human and clicks[-1].human


def test_clicks_within_a_minute_of_sending_are_early():
    d = delivery(6)
    clicks = classify_clicks([ClickEvent(d, 1, at(30), SAFARI), ClickEvent(d, 2, at(61), SAFARI)],
                             SENT, LATER)
    assert clicks[0].reasons == (Reason.EARLY,) and clicks[1].human
    # Without a send time the rule is off.
    assert classify_clicks([ClickEvent(d, 1, at(30), SAFARI)], None, LATER)[0].human


@pytest.mark.parametrize("agent", [
    "python-requests/2.32.3", "curl/8.5.0", "Wget/1.21.4", "Go-http-client/2.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Microsoft Office Existence Discovery", "Mozilla/4.0 (compatible; ms-office; MSOffice 16)",
    "facebookexternalhit/1.1", "WhatsApp/2.23.20.0", "Slackbot-LinkExpanding 1.0",
    "Mozilla/5.0 (compatible; Google-Safety; +http://www.google.com/bot.html)",
])
def test_known_machine_agents_are_machine(agent):
    (click,) = classify_clicks([ClickEvent(delivery(7), 1, at(7200), agent)], SENT, LATER)
    assert click.kind == "machine" and click.reasons == (Reason.AGENT,)


def test_a_click_without_a_user_agent_is_machine():
    (click,) = classify_clicks([ClickEvent(delivery(7), 1, at(7200), "  ")], SENT, LATER)
    assert click.reasons == (Reason.NO_AGENT,)


@pytest.mark.parametrize(("method", "headers", "expected"), [
    ("HEAD", {}, Reason.HEAD), ("head", {"User-Agent": "x"}, Reason.HEAD),
    ("GET", {"Purpose": "prefetch"}, Reason.PREFETCH),
    ("GET", {"sec-purpose": "prefetch;prerender"}, Reason.PREFETCH),
    ("GET", {"Sec-Purpose": "prefetch"}, Reason.PREFETCH),
    ("GET", {"X-Purpose": "preview"}, Reason.PREFETCH),
    ("GET", {"X-Moz": "prefetch"}, Reason.PREFETCH),
    ("GET", {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}, None),
    ("GET", {}, None),
])
def test_head_and_prefetches_are_not_counted(method, headers, expected):
    assert uncounted_reason(method, headers) == expected


def test_an_uncounted_request_that_reaches_the_classifier_is_machine():
    d = delivery(8)
    events = [ClickEvent(d, 1, at(7200), CHROME, method="HEAD"),
              ClickEvent(d, 2, at(9000), CHROME, purpose="prefetch")]
    assert [c.reasons for c in classify_clicks(events, SENT, LATER)] == [
        (Reason.HEAD,), (Reason.PREFETCH,)]


def test_recent_clicks_are_not_settled_and_results_keep_the_input_order():
    d = delivery(9)
    now = at(7230)
    events = [ClickEvent(d, 2, at(7200), CHROME), ClickEvent(d, 1, at(100), CHROME)]
    clicks = classify_clicks(events, SENT, now)
    assert [c.event for c in clicks] == events
    assert [c.settled for c in clicks] == [False, True]
    # A trap followed later still reaches back: the unsettled click was waiting for it.
    later = classify_clicks(events + [ClickEvent(d, TRAP_INDEX, at(7250), CHROME)], SENT,
                            at(9000))
    assert later[0].reasons == (Reason.NEAR_TRAP,)


def test_the_rules_are_parameters_and_the_result_is_deterministic():
    events = sweep(delivery(10), start=500, spacing=2.0, trap=False)
    strict = ClassifyRules(burst_links=3, burst_seconds=5)
    loose = ClassifyRules(burst_links=3, burst_seconds=3)
    assert all(not c.human for c in classify_clicks(events, SENT, LATER, strict))
    assert all(c.human for c in classify_clicks(events, SENT, LATER, loose))
    assert classify_clicks(events, SENT, LATER) == classify_clicks(list(events), SENT, LATER)
