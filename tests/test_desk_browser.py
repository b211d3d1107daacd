"""The editor's pass in a real browser (issue 15): headless Chromium (Playwright, the system's
Chromium) against the real `digest desk`: pick two candidates (one with the keyboard), drop
one, write a note, reorder, see the preview update, approve; then `digest run` at the send time
sends exactly that issue, and `git status` of curated/ shows every change."""

from __future__ import annotations

import pytest

from pipeline.identity import short_id

from .conftest import chromium_browser
from .desksupport import (
    APPROVAL,
    AT_SEND,
    BEFORE_SEND,
    READERS,
    WEEK,
    curated_changes,
    desk_newsletter,
    git,
    issue_json,
    running_desk,
)

pytestmark = pytest.mark.chromium

RESUME = "https://beta.example/resume-screen"  # Interviews and hiring
LOOPS = "https://alpha.example/interview-loops"  # Interviews and hiring
ROADMAP = "https://alpha.example/roadmap-discovery"
NOTE = "The six-second screen, from the other side of the desk."


def preview_text(page, width: int) -> str:
    return page.frame_locator(f"iframe.w{width}").locator("body").inner_text()


def submit(page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def test_the_editors_pass_in_chromium_then_the_run_sends_it(cli, tmp_path):
    news = desk_newsletter(tmp_path / "news", extra=APPROVAL)
    assert cli("--config", news.config_path, "fetch", "--now", BEFORE_SEND).exit_code == 0
    for address in READERS:
        assert cli("--config", news.config_path, "subscribers", "add", address).exit_code == 0
    problems: list[str] = []
    with chromium_browser("the desk must be used in a real browser") as browser, \
            running_desk(news, "--now", BEFORE_SEND) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.on("console", lambda m: m.type in ("error", "warning") and problems.append(m.text))
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(base + "/")  # opens on the next issue to go out
        assert page.title().startswith(f"Desk · {WEEK}")
        assert page.locator("li.cand").count() == 7
        assert ROADMAP.rsplit("/", 1)[1] in page.locator("#issue").inner_html()
        assert "Roadmap discovery habits" in preview_text(page, 600)
        assert NOTE not in preview_text(page, 375)

        # Pick one with the mouse, the other with the keyboard (j to it, p).
        submit(page, f"#c-{short_id(RESUME)} button[data-key=p]")
        assert "picked curated/" in page.inner_text("#flash")
        page.locator("h2").first.click()  # no row focused: j starts at the first
        ids = page.eval_on_selector_all("li.cand", "rows => rows.map(r => r.id)")
        for _ in range(ids.index(f"c-{short_id(LOOPS)}") + 1):
            page.keyboard.press("j")
        assert page.evaluate("document.activeElement.id") == f"c-{short_id(LOOPS)}"
        page.keyboard.press("k")
        page.keyboard.press("j")
        with page.expect_navigation():
            page.keyboard.press("p")
        assert page.locator(f"#c-{short_id(LOOPS)} .badge").inner_text() == "picked"
        assert page.locator(f"#c-{short_id(RESUME)} .badge").inner_text() == "picked"

        # Drop an item the ranking put in, with a reason.
        page.fill(f"#c-{short_id(ROADMAP)} input[name=reason]", "ran one like it last month")
        submit(page, f"#c-{short_id(ROADMAP)} button[data-key=d]")
        assert page.locator(f"#c-{short_id(ROADMAP)} .badge").inner_text() == "dropped"
        assert "Roadmap discovery habits" not in preview_text(page, 600)

        # A note on a pick, saved in place; the preview shows it at both widths.
        resume_card = page.locator(".item.curated", has_text="Hiring manager notes")
        resume_card.locator("textarea[name=note]").fill(NOTE)
        with page.expect_navigation():
            resume_card.locator("button", has_text="Save note").click()
        assert NOTE in preview_text(page, 600) and NOTE in preview_text(page, 375)

        # Reorder: the interview loops go above the resume screen.
        before = preview_text(page, 600)
        assert before.index("Hiring manager notes") < before.index("Interview loops")
        loops_card = page.locator(".item.curated", has_text="Interview loops")
        with page.expect_navigation():
            loops_card.locator("button[aria-label='Move up']").click()
        after = preview_text(page, 600)
        assert after.index("Interview loops") < after.index("Hiring manager notes")

        # On a phone: one column, no sideways scrolling of the page.
        phone = browser.new_page(viewport={"width": 375, "height": 800})
        phone.goto(base + "/")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 375
        phone.close()

        submit(page, "#approve")
        assert "approved" in page.inner_text("#flash")
        assert page.inner_text("#status").startswith("approved")
        assert page.locator("#approve").count() == 0
    assert problems == []  # no CSP violation, no script error
    approved = (news.issues / WEEK / "issue.json").read_bytes()

    sent = cli("--config", news.config_path, "run", "--week", WEEK, "--now", AT_SEND)
    assert sent.exit_code == 0, sent.output
    assert (news.issues / WEEK / "issue.json").read_bytes() == approved
    items = [i for s in issue_json(news)["sections"] for i in s["items"]]
    assert ROADMAP not in [i["url"] for i in items]
    curated = [i["url"] for i in items if i["kind"] == "curated"]
    assert curated == [LOOPS, RESUME]
    assert next(i for i in items if i["url"] == RESUME)["note"] == NOTE
    messages = news.outbox_messages()
    assert sorted(m["To"].addresses[0].addr_spec for m in messages) == sorted(READERS)
    html = messages[0].get_body(("html",)).get_content()
    assert NOTE in html and "Roadmap discovery habits" not in html
    assert html.index("Interview loops") < html.index("Hiring manager notes")

    changes = sorted(line[3:] for line in curated_changes(news.root))
    assert changes == sorted([f"curated/_drops/{WEEK}.txt",
                              "curated/2026-11-22-hiring-manager-notes-on-the-resume-screen.md",
                              "curated/2026-11-22-interview-loops-that-hire-product-managers-"
                              "well.md"])
    git(news.root, "add", "curated")
    diff = git(news.root, "diff", "--cached", "curated")
    assert f'+note = "{NOTE}"' in diff and "+order = 1" in diff and "+order = 2" in diff
    assert f"+{ROADMAP}  # ran one like it last month" in diff
