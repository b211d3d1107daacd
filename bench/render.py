"""Benchmark: rendering one issue against a bare mjml2html call, and personalisation speed.

RESULT render_vs_mjml2html: time of render.render_issue (Jinja2 MJML + compile + text part) for
a 12-item issue divided by a bare mjml2html() of the same MJML, in the same run (goal <= 2).
RESULT personalise_per_s: personalised MIME messages composed per second (compose.Composer,
prepared once per issue as `digest send` does).
RESULT personalise_clicks_per_s: the same with `[tracking] clicks = "aggregate"` (every article
link through /c/ with the reader's click value, the trap link in the HTML part).
RESULT personalise_verp_per_s: the same with a VERP return path per message ([delivery]
return_path = "bounces+{token}@…": one more HMAC per message, jobs/send.verp_envelope).
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mjml import mjml2html  # noqa: E402

from pipeline.issue.links import click_links  # noqa: E402
from pipeline.issue.render import render_issue  # noqa: E402
from pipeline.jobs.send import verp_envelope  # noqa: E402
from pipeline.mail.compose import make_composer  # noqa: E402
from pipeline.models import Subscriber  # noqa: E402
from tests.conftest import make_newsletter  # noqa: E402
from tests.golden.sample import sample_issue  # noqa: E402


def best_of(fn, repeat: int = 7, number: int = 50) -> float:
    """The fastest mean time per call over `repeat` rounds of `number` calls."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = make_newsletter(Path(tmp) / "news", curated=False).config()
        issue = sample_issue(12)
        rendered = render_issue(config, issue)  # warm the template cache
        bare = best_of(lambda: mjml2html(rendered.mjml))
        full = best_of(lambda: render_issue(config, issue))
        print(f"mjml2html {bare * 1000:.3f} ms, render_issue {full * 1000:.3f} ms "
              f"({len(rendered.mjml):,} bytes of MJML, {len(rendered.html):,} of HTML)")

        key = b"k" * 32
        per_s = personalise_rate(config, rendered, key, "clicks off")
        verp = verp_envelope("bounces+{token}@example.com", key, issue.id)
        verp_per_s = personalise_rate(config, rendered, key, "VERP return path", envelope=verp)
        tracked = dataclasses.replace(
            config, tracking=dataclasses.replace(config.tracking, clicks="aggregate"))
        tracked_issue = render_issue(tracked, issue, click_links(tracked, issue, key))
        clicks_per_s = personalise_rate(tracked, tracked_issue, key, "clicks aggregate")
    print(f"RESULT render_vs_mjml2html={full / bare:.2f}")
    print(f"RESULT personalise_per_s={per_s:.0f}")
    print(f"RESULT personalise_verp_per_s={verp_per_s:.0f}")
    print(f"RESULT personalise_clicks_per_s={clicks_per_s:.0f}")


def personalise_rate(config, rendered, key: bytes, label: str, count: int = 4000,
                     envelope=None) -> float:
    """Messages per second, best of three rounds: as `digest send` does, the per-issue parts
    once, then each reader's values."""
    readers = [Subscriber(id=i, email=f"reader{i}@example.com", name=f"Reader {i}",
                          status="active") for i in range(count)]
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        composer = make_composer(config, rendered, key, now, click_key=b"c" * 32,
                                 envelope=envelope)
        size = 0
        for reader in readers:
            size += len(composer.compose(reader).data)
        best = max(best, len(readers) / (time.perf_counter() - start))
    print(f"{label}: {len(readers)} messages, {size / len(readers) / 1000:.1f} KB each, "
          f"{best:,.0f} per second")
    return best


if __name__ == "__main__":
    main()
