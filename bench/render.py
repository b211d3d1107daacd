"""Benchmark: rendering one issue against a bare mjml2html call, and personalisation speed.

RESULT render_vs_mjml2html: time of render.render_issue (Jinja2 MJML + compile + text part) for
a 12-item issue divided by a bare mjml2html() of the same MJML, in the same run (goal <= 2).
RESULT personalise_per_s: personalised MIME messages composed per second (compose.Composer,
prepared once per issue as `digest send` does).
RESULT personalise_verp_per_s: the same with a VERP return path per message ([delivery]
return_path = "bounces+{token}@…": one more HMAC per message, jobs/send.verp_envelope).
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mjml import mjml2html  # noqa: E402

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

        readers = [Subscriber(id=i, email=f"reader{i}@example.com", name=f"Reader {i}",
                              status="active") for i in range(2000)]
        now = datetime(2026, 11, 23, 12, tzinfo=UTC)
        key = b"k" * 32
        # As `digest send` does: the per-issue parts once, then each reader's values.
        def compose_all(envelope) -> tuple[float, int]:
            start = time.perf_counter()
            composer = make_composer(config, rendered, key, now, envelope=envelope)
            size = 0
            for reader in readers:
                size += len(composer.compose(reader).data)
            return len(readers) / (time.perf_counter() - start), size

        verp = verp_envelope("bounces+{token}@example.com", key, issue.id)
        # Best of three rounds each, interleaved: the machine is shared.
        rounds = [(compose_all(None), compose_all(verp)) for _ in range(3)]
        per_s = max(plain[0] for plain, _ in rounds)
        verp_per_s = max(signed[0] for _, signed in rounds)
        size = rounds[0][0][1]
        print(f"{len(readers)} messages, {size / len(readers) / 1000:.1f} KB each")
    print(f"RESULT render_vs_mjml2html={full / bare:.2f}")
    print(f"RESULT personalise_per_s={per_s:.0f}")
    print(f"RESULT personalise_verp_per_s={verp_per_s:.0f}")


if __name__ == "__main__":
    main()
