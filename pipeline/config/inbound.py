"""The configuration of hearing back after sending: `[delivery] return_path` (VERP) and the
`[inbound]` table with its `[inbound.webhooks]`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

VERP_TOKEN = "{token}"
VERP_TOKEN_CHARS = 53  # inbound/verp.sign_verp for an ISO week
MAX_LOCAL_PART = 64  # RFC 5321 §4.5.3.1.1
_RETURN_PATH = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`|~.{}-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_VERP_SEPARATORS = "+-=."
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:\S+$")


def plain_return_path(template: str) -> str:
    """The return path without its `{token}` and the separator before it
    (`bounces+{token}@example.com` → `bounces@example.com`)."""
    local, _, domain = template.rpartition("@")
    if VERP_TOKEN in local:
        before, _, after = local.partition(VERP_TOKEN)
        head = before.rstrip(_VERP_SEPARATORS)
        local = head + after if head else after.lstrip(_VERP_SEPARATORS)
    return f"{local}@{domain}"


def verp_template(return_path: str | None) -> str | None:
    """`[delivery] return_path` when it holds {token} (VERP), else None."""
    return return_path if return_path and VERP_TOKEN in return_path else None


def envelope_sender(return_path: str | None, from_address: str) -> str:
    """The envelope sender of mail that names no reader (test copies, the editor's report,
    confirmation mail): the return path without its token, or the From address."""
    return plain_return_path(return_path) if return_path else from_address


def return_path_problem(value: str) -> str | None:
    valid = ('valid: an address such as "bounces@example.com", or "bounces+{token}@example.com"'
             " for VERP (one {token} in the local part, beside a fixed part)")
    local, at, domain = value.rpartition("@")
    if not at or not _RETURN_PATH.match(value) or "{" in domain or "}" in domain:
        return f"{value!r} is not an address with a domain; {valid}"
    rest = local.replace(VERP_TOKEN, "", 1)
    if "{" in rest or "}" in rest:
        return f"{value!r}: at most one {{token}}, and no other braces; {valid}"
    if not plain_return_path(value).partition("@")[0].strip(_VERP_SEPARATORS):
        return f"{value!r}: the local part needs a fixed part beside {{token}}; {valid}"
    octets = len(local.replace(VERP_TOKEN, "x" * VERP_TOKEN_CHARS))
    if octets > MAX_LOCAL_PART:
        return (f"{value!r}: with its token ({VERP_TOKEN_CHARS} characters) the local part "
                f"has {octets} characters, over SMTP's {MAX_LOCAL_PART}; shorten the fixed part")
    return None


def _env_name_problem(name: str) -> str | None:
    if _ENV_NAME.match(name):
        return None
    return (f"{name!r} is not an environment variable name; valid: a name such as "
            '"MAILGUN_SIGNING_KEY" (the value stays in the environment)')


def _topic_arns_problem(arns: tuple[str, ...]) -> str | None:
    bad = [arn for arn in arns if not _TOPIC_ARN.match(arn)]
    if bad:
        return (f"{', '.join(map(repr, bad))}: not an SNS topic ARN; valid: "
                '"arn:aws:sns:<region>:<account>:<topic>"')
    return None


@dataclass(frozen=True)
class WebhooksConfig:
    """ESP webhooks on `digest serve`: a provider's route exists only while the environment
    variables named here are set (SES: while topics are listed)."""

    mailgun_signing_key_env: str | None = field(default=None, metadata={
        "check": _env_name_problem, "doc": "holds Mailgun's HTTP webhook signing key"})
    postmark_username_env: str | None = field(default=None, metadata={
        "check": _env_name_problem})
    postmark_password_env: str | None = field(default=None, metadata={
        "check": _env_name_problem})
    sendgrid_public_key_env: str | None = field(default=None, metadata={
        "check": _env_name_problem, "doc": "holds the Event Webhook verification key"})
    ses_topic_arns: tuple[str, ...] = field(default=(), metadata={
        "check": _topic_arns_problem, "doc": "the SNS topics SES publishes to"})
    max_body_bytes: int = field(default=1_048_576, metadata={"min": 1024})


@dataclass(frozen=True)
class InboundConfig:
    """`digest inbound` and the webhooks: how bounces turn into statuses."""

    soft_bounce_limit: int = field(default=3, metadata={
        "min": 1, "doc": "soft bounces (of different issues) that make a reader bounced"})
    soft_bounce_days: int = field(default=30, metadata={"min": 1})
    webhooks: WebhooksConfig = WebhooksConfig()
