"""One slot's work: deliver a batch of ledger rows, one message at a time, each with retries.

A 4xx reply, a dropped connection or an unreachable server is retried with backoff; a 5xx
never is. Each outcome is recorded (the ledger, or the worker's journal) before the next
message is transmitted, so a crash repeats at most the message in flight.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import DeliveryError
from ..models import DeliveryResult, Outcome, OutgoingMessage, Subscriber
from .transports.base import ServerUnavailable, Transport


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0

    def delay(self, attempt: int) -> float:
        """Exponential backoff with ±20 % jitter, so N connections do not retry in lockstep."""
        base = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempt - 1))
        return base * random.uniform(0.8, 1.2)


def transient(result: DeliveryResult) -> bool:
    """A dropped connection or a 4xx reply: worth retrying. 5xx never is."""
    return not result.ok and not result.permanent and (
        result.code is None or 400 <= result.code < 500)


def deliver_one(subscriber: Subscriber, compose: Callable[[Subscriber], OutgoingMessage],
                transport: Transport, policy: RetryPolicy,
                sleep: Callable[[float], None] = time.sleep,
                pace: Callable[[], None] | None = None) -> Outcome:
    """Compose one message and send it (see deliver_message)."""
    return deliver_message(compose(subscriber), subscriber.id, transport, policy, sleep, pace)


def deliver_message(message: OutgoingMessage, subscriber_id: int, transport: Transport,
                    policy: RetryPolicy, sleep: Callable[[float], None] = time.sleep,
                    pace: Callable[[], None] | None = None,
                    upcoming: tuple[str, str] | None = None) -> Outcome:
    """Send one message, retrying 4xx replies, dropped connections and an unreachable server
    with backoff up to `policy.max_attempts` tries. `pace` (the rate limit) is called before
    every transmission, retries included. `upcoming` (sender, recipient) of the next message
    lets an SMTP transport open its envelope in the same write as this message's end."""
    opens_ahead = upcoming is not None and transport.capabilities.opens_ahead
    tries = 0
    while True:
        tries += 1
        if pace is not None:
            pace()
        try:
            result = (transport.send_and_open(message, upcoming) if opens_ahead
                      else transport.send(message))
        except ServerUnavailable as exc:
            if tries < policy.max_attempts:
                sleep(policy.delay(tries))
                continue
            return Outcome(subscriber_id, message.message_id,
                           DeliveryResult(message.recipient, False, None, exc.message),
                           tries, fatal=exc.message, hint=exc.hint)
        except DeliveryError as exc:  # e.g. the login was refused: retrying cannot help
            return Outcome(subscriber_id, message.message_id,
                           DeliveryResult(message.recipient, False, None, exc.message),
                           tries, fatal=exc.message, hint=exc.hint)
        if not transient(result) or tries >= policy.max_attempts:
            return Outcome(subscriber_id, message.message_id, result, tries)
        sleep(policy.delay(tries))


@dataclass(frozen=True)
class BatchReport:
    """What a slot did with one batch. `recorded`: the outcomes are in the ledger already
    (else in the slot's journal, for the parent to fold in). `unsent`: rows not attempted
    because the slot had to stop (`fatal`: the server is unreachable)."""

    outcomes: tuple[Outcome, ...]
    recorded: bool = False
    unsent: tuple[int, ...] = ()
    fatal: str | None = None
    hint: str | None = None


def deliver_batch(batch: list[Subscriber], compose: Callable[[Subscriber], OutgoingMessage],
                  transport: Transport, policy: RetryPolicy,
                  record_outcome: Callable[[Outcome], None], recorded: bool,
                  pace: Callable[[], None] | None = None) -> BatchReport:
    """A slot's work: send each row of `batch` (already `sending`) and record its outcome
    (`record_outcome`: the ledger, or the slot's journal) before the next one goes out. Stops
    at an unreachable server; the rows left are reported `unsent`."""
    outcomes: list[Outcome] = []
    following = compose(batch[0]) if batch else None
    for index, subscriber in enumerate(batch):
        message = following
        assert message is not None
        following = compose(batch[index + 1]) if index + 1 < len(batch) else None
        upcoming = (following.sender, following.recipient) if following else None
        outcome = deliver_message(message, subscriber.id, transport, policy, pace=pace,
                                  upcoming=upcoming)
        if outcome.fatal:
            return BatchReport(tuple(outcomes), recorded, tuple(s.id for s in batch[index:]),
                               outcome.fatal, outcome.hint)
        record_outcome(outcome)
        outcomes.append(outcome)
    return BatchReport(tuple(outcomes), recorded)
