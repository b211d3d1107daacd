"""ESP webhook requests → the same state operations as inbound mail (jobs/inbound.py).

`WebhookKeys` are read from the environment variables `[inbound.webhooks]` names: a provider
whose variables are unset has no route. `receive` verifies one request (inbound.webhooks),
then applies its events, each once (by provider and event id). For Mailgun the replay check
and the events share one transaction: a request that fails midway spends neither its token
nor its events, so the provider's retry is applied. SNS is verified before any transaction
opens (it may fetch the signing certificate) and answered a subscription confirmation by
fetching its SubscribeURL with the `fetch` it is given."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..config import Config
from ..errors import ConfigError
from ..inbound import ConfirmSubscription
from ..inbound.webhooks import (
    WebhookRejected,
    parse_mailgun,
    parse_postmark,
    parse_sendgrid,
    parse_sns,
)
from ..inbound.webhooks.common import MAX_AGE
from ..inbound.webhooks.sendgrid import load_public_key
from ..state import inbound as applied_log
from ..state.db import Database
from .inbound import Context, Result, handle_events

log = logging.getLogger("pipeline.inbound")
PROVIDERS = ("ses", "mailgun", "postmark", "sendgrid")
# Mailgun tokens are kept twice as long as a signed timestamp stays acceptable.
TOKEN_KEEP_SECONDS = 2 * MAX_AGE

Fetch = Callable[[str], bytes]  # GET an https URL already checked to be on an SNS host


@dataclass(frozen=True)
class WebhookKeys:
    mailgun_signing_key: bytes | None = None
    postmark_credentials: tuple[str, str] | None = None
    sendgrid_public_key: str | None = None
    ses_topic_arns: tuple[str, ...] = ()

    def enabled(self) -> tuple[str, ...]:
        """The providers whose route exists."""
        return tuple(name for name, on in (
            ("ses", bool(self.ses_topic_arns)), ("mailgun", self.mailgun_signing_key),
            ("postmark", self.postmark_credentials), ("sendgrid", self.sendgrid_public_key))
            if on)


def _env(name: str | None, key: str) -> str | None:
    if name is None:
        return None
    value = os.environ.get(name, "").strip()
    if not value:
        log.warning("[inbound.webhooks] %s names %s, which is not set: that webhook is off",
                    key, name)
        return None
    return value


def webhook_keys(config: Config) -> WebhookKeys:
    """The keys from the environment. ConfigError (exit 2) for a SendGrid key that cannot
    verify anything: better refused at start than every event with 403."""
    hooks = config.inbound.webhooks
    mailgun = _env(hooks.mailgun_signing_key_env, "mailgun_signing_key_env")
    user = _env(hooks.postmark_username_env, "postmark_username_env")
    password = _env(hooks.postmark_password_env, "postmark_password_env")
    sendgrid = _env(hooks.sendgrid_public_key_env, "sendgrid_public_key_env")
    if sendgrid is not None:
        try:
            load_public_key(sendgrid)
        except ValueError as exc:
            raise ConfigError(f"{hooks.sendgrid_public_key_env}: {exc}",
                              hint="copy the verification key from SendGrid's Mail Settings, "
                                   "Event Webhook, Signature Verification") from exc
    return WebhookKeys(mailgun_signing_key=mailgun.encode() if mailgun else None,
                       postmark_credentials=(user, password) if user and password else None,
                       sendgrid_public_key=sendgrid, ses_topic_arns=hooks.ses_topic_arns)


@dataclass(frozen=True)
class Received:
    """What one request did: the results of its events, or the topic it confirmed."""

    results: tuple[Result, ...] = ()
    confirmed: str | None = None

    def as_json(self) -> dict[str, object]:
        if self.confirmed is not None:
            return {"confirmed": self.confirmed}
        return {"events": len(self.results),
                "applied": sum(1 for r in self.results if not r.duplicate),
                "results": [{"kind": r.kind, "recipients": list(r.recipients),
                             "duplicate": r.duplicate, "action": r.action}
                            for r in self.results]}


def receive(ctx: Context, keys: WebhookKeys, provider: str, body: bytes,
            headers: Mapping[str, str], fetch: Fetch) -> Received:
    """Verify and apply one webhook request. WebhookRejected (its `status` the HTTP answer)
    when it must not be acted on; nothing is changed then."""
    if provider not in keys.enabled():
        raise WebhookRejected(404, f"no {provider} webhook is configured")
    with Database.open(ctx.config.db_path, migrate=False) as db:
        if provider == "mailgun":
            assert keys.mailgun_signing_key is not None
            with db.atomic():
                events = parse_mailgun(body, signing_key=keys.mailgun_signing_key,
                                       seen_token=lambda token: applied_log.token_seen(
                                           db, "mailgun", token, time.time(),
                                           TOKEN_KEEP_SECONDS))
                return Received(tuple(handle_events(db, ctx, events)))
        if provider == "postmark":
            assert keys.postmark_credentials is not None
            user, password = keys.postmark_credentials
            events = parse_postmark(body, authorization=headers.get("authorization"),
                                    username=user, password=password)
        elif provider == "sendgrid":
            assert keys.sendgrid_public_key is not None
            events = parse_sendgrid(body, headers=headers, public_key=keys.sendgrid_public_key)
        else:
            parsed = parse_sns(body, fetch_certificate=fetch, topic_arns=keys.ses_topic_arns)
            if isinstance(parsed, ConfirmSubscription):
                fetch(parsed.subscribe_url)
                log.info("SNS subscription to %s confirmed", parsed.topic_arn)
                return Received(confirmed=parsed.topic_arn)
            events = parsed
        with db.atomic():
            return Received(tuple(handle_events(db, ctx, events)))
