"""[desk]: `digest desk`, the editor's page (pipeline/web/desk)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


def _env_name_problem(value: str) -> str | None:
    if re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", value):
        return None
    return (f"{value!r} is not an environment variable name; valid: a name such as "
            '"DIGEST_DESK_PASSWORD_HASH" (the hash itself stays in the environment)')


@dataclass(frozen=True)
class DeskConfig:
    """The desk binds to loopback; on any other address it needs a password, whose hash (never
    the password) lives in the environment variable named here."""

    password_hash_env: str | None = field(default=None, metadata={
        "check": _env_name_problem,
        "doc": "environment variable holding a scrypt$… or pbkdf2_sha256$… password hash"})
    session_hours: int = field(default=12, metadata={"min": 1, "max": 24 * 30})
