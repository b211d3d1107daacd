"""Transport adapters behind one interface (base.Transport): the Maildir outbox (maildir.py,
the embedded default) and an SMTP relay (smtp.py); `open_transport` opens the configured one."""

from __future__ import annotations

from ...config import Config
from .base import Transport
from .maildir import MaildirTransport
from .smtp import SmtpTransport


def open_transport(config: Config, outbox: str = "outbox") -> Transport:
    """The configured transport, not connected yet: the Maildir `<state dir>/<outbox>/` or
    the SMTP relay of [delivery.smtp] (ConfigError when it is incomplete)."""
    if config.delivery.transport == "maildir":
        return MaildirTransport(config.state_dir / outbox)
    return SmtpTransport.from_config(config)
