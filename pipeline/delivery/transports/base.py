"""The interface every transport implements, owned by its user, the send loop (listmonk's
messenger interface is the model). A transport DECLARES what it can do in `capabilities`;
callers read the declaration instead of probing the object for methods."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from ...errors import DeliveryError
from ...models import DeliveryResult, OutgoingMessage


class ServerUnavailable(DeliveryError):
    """The transport could not reach its server (refused, timed out, greeting 4xx): retried
    with backoff, then it stops the run. The message was not transmitted."""


@dataclass(frozen=True)
class Capabilities:
    connections: int = 1  # >1: the pool runs one `clone()` per worker process, in parallel
    opens_ahead: bool = False  # `send_and_open` opens the next envelope with this message's end


class Transport(ABC):
    """Sends one message at a time; `close` ends its connection (if any)."""

    capabilities = Capabilities()

    @abstractmethod
    def send(self, message: OutgoingMessage) -> DeliveryResult: ...

    def send_and_open(self, message: OutgoingMessage,
                      upcoming: tuple[str, str] | None) -> DeliveryResult:
        """Send `message`; a transport that declares `opens_ahead` also opens the envelope
        (sender, recipient) of the next message in the same write."""
        return self.send(message)

    def clone(self) -> Transport:
        """A new, unconnected transport with the same settings, for one worker process; only
        asked of a transport that declares more than one connection."""
        raise NotImplementedError(f"{type(self).__name__} declares one connection")

    def close(self) -> None:  # noqa: B027 - a transport without a connection has nothing to end
        pass
