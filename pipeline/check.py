"""Pre-flight checks of a built issue (`digest check`). Errors stop a send; warnings inform."""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import Config
from .models import RenderedIssue


@dataclass(frozen=True)
class CheckReport:
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    facts: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def check_rendered(config: Config, rendered: RenderedIssue, key: bytes) -> CheckReport:
    from .compose import build_message, public_version
    from .models import Subscriber

    errors: list[str] = []
    warnings: list[str] = []
    html, text = public_version(config, key, rendered)
    sample = Subscriber(id=0, email="reader@example.com", name="Sample Reader", status="active")
    from datetime import UTC, datetime

    message = build_message(config, rendered, sample, key, datetime(2000, 1, 1, tzinfo=UTC))
    if "/u/" not in message.data.decode("utf-8", "replace") and "unsubscribe" not in html.lower():
        errors.append("missing unsubscribe link")
    for marker in ("%%", "{{", "TODO"):
        if marker in html or marker in text:
            errors.append(f"leftover placeholder {marker!r}")
    if not rendered.issue.subject.strip():
        errors.append("empty subject")
    size = len(message.data)
    if size > 95_000:
        errors.append(f"encoded message is {size} bytes, over 95 KB (Gmail clips at ~102 KB)")
    elif size > 80_000:
        warnings.append(f"encoded message is {size} bytes, over 80 KB")
    return CheckReport(tuple(errors), tuple(warnings), {"encoded_bytes": size})
