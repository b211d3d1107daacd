"""An empty issue is never sent: a missing curated folder is a configuration error (exit 2),
and an issue with no items fails `digest check` with `empty-issue` whatever [schedule]
min_new_items says; `digest run` and `digest send` then send nothing. The real CLI throughout."""

from __future__ import annotations

import json

from tests.conftest import (
    PINNED_NOW,
    PINNED_WEEK,
    ROOT,
    add_excerpt,
    make_newsletter,
    run_digest,
)


def test_an_issue_with_no_items_fails_its_check_and_is_not_sent(tmp_path, cli):
    # No feed and no excerpt: the issue has nothing in it, and min_new_items = 0 lets it
    # through the thin-week rule, so only the check stands between it and the readers.
    news = make_newsletter(tmp_path / "news", curated=False,
                           extra="\n[schedule]\nmin_new_items = 0\n")
    config = ("--config", news.config_path)
    assert cli(*config, "subscribers", "add", "ada@example.com").exit_code == 0

    run = cli(*config, "run", "--now", PINNED_NOW)
    assert run.exit_code == 1, run.output
    assert "empty-issue: the issue has no items" in run.output
    assert "not sent: the issue fails its check" in run.output
    assert news.outbox_messages() == []
    report = json.loads((news.issues / PINNED_WEEK / "report.json").read_text())
    assert report["status"] == "not_sent" and report["items"] == 0
    assert any(e.startswith("empty-issue:") for e in report["check"]["errors"])

    check = cli(*config, "check", "--week", PINNED_WEEK)
    assert check.exit_code == 1
    assert "empty-issue" in check.output

    send = cli(*config, "send", "--week", PINNED_WEEK)
    assert send.exit_code == 1
    assert news.outbox_messages() == []


def test_an_empty_thin_week_is_skipped_not_failed(tmp_path, cli):
    # With min_new_items = 3 an empty week is a thin week: skipped (exit 0, nothing sent, the
    # scheduler does not retry it), and its check still says why it could never go out.
    news = make_newsletter(tmp_path / "news", curated=False,
                           extra="\n[schedule]\nmin_new_items = 3\n")
    config = ("--config", news.config_path)
    assert cli(*config, "subscribers", "add", "ada@example.com").exit_code == 0
    run = cli(*config, "run", "--now", PINNED_NOW)
    assert run.exit_code == 0, run.output
    assert "skipped: 0 new item(s)" in run.output
    assert news.outbox_messages() == []
    report = json.loads((news.issues / PINNED_WEEK / "report.json").read_text())
    assert report["status"] == "skipped"
    assert any(e.startswith("empty-issue:") for e in report["check"]["errors"])
    send = cli(*config, "send", "--week", PINNED_WEEK)
    assert send.exit_code == 2 and "skipped" in send.output
    assert news.outbox_messages() == []


def test_one_item_is_enough_for_the_check(tmp_path, cli):
    # The same empty newsletter with a single excerpt passes (the check counts items, and an
    # issue with one passes the rest of the checks).
    news = make_newsletter(tmp_path / "news", curated=False,
                           extra="\n[schedule]\nmin_new_items = 0\n")
    add_excerpt(news.root, PINNED_WEEK, "the-one-item")
    config = ("--config", news.config_path)
    assert cli(*config, "subscribers", "add", "ada@example.com").exit_code == 0
    run = cli(*config, "run", "--now", PINNED_NOW)
    assert run.exit_code == 0, run.output
    assert "empty-issue" not in run.output
    assert len(news.outbox_messages()) == 1


def test_a_missing_curated_folder_is_a_configuration_error(tmp_path):
    news = make_newsletter(tmp_path / "news", curated=False)
    text = news.config_path.read_text().replace('[curated]\ndir = "curated"',
                                                '[curated]\ndir = "curatd"')
    news.write_config(text)
    missing = (news.root / "curatd").resolve()
    for command in (["build", "--now", PINNED_NOW], ["run", "--now", PINNED_NOW],
                    ["curate", "list"]):
        result = run_digest("--config", news.config_path, *command)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert f"curated.dir: {missing} does not exist" in result.stderr
        assert "create the folder" in result.stderr and "[curated] dir" in result.stderr
        assert "Traceback" not in result.stderr
    assert not (news.issues / PINNED_WEEK).exists()  # nothing was built
    # A file where the folder should be is no better.
    (news.root / "curatd").write_text("not a folder", encoding="utf-8")
    result = run_digest("--config", news.config_path, "build", "--now", PINNED_NOW)
    assert result.returncode == 2 and "is not a folder" in result.stderr
    # Commands that never read the excerpts still work (the web side, the list).
    listed = run_digest("--config", news.config_path, "subscribers", "list")
    assert listed.returncode == 0, listed.stderr


def test_the_shipped_configs_find_their_curated_folders():
    from pipeline.config import load_config

    for path in (ROOT / "config.toml", ROOT / "examples" / "config.toml"):
        folder = load_config(path).existing_curated_dir()
        assert folder == (ROOT / "curated").resolve()
