"""DKIM signing (RFC 6376) with dkimpy, when [delivery.dkim] is configured.

The signature covers both RFC 8058 headers (List-Unsubscribe, List-Unsubscribe-Post), as Gmail
and Yahoo require of bulk senders, plus the headers a reader sees. The key is read and checked
once per send; signing happens in the delivery workers (dkimpy's RSA is pure Python, about
10 ms per message for a 2048-bit key).
"""

from __future__ import annotations

from pathlib import Path

import dkim
from dkim.crypto import UnparsableKeyError, parse_pem_private_key

from ..config import DkimConfig
from ..errors import ConfigError

SIGNED_HEADERS = (
    b"from", b"to", b"subject", b"date", b"message-id", b"reply-to", b"list-id",
    b"list-unsubscribe", b"list-unsubscribe-post", b"mime-version", b"content-type",
)


class DkimSigner:
    """A callable that returns the DKIM-Signature header line for a message (CRLF bytes)."""

    def __init__(self, domain: str, selector: str, private_key: bytes) -> None:
        self.domain = domain.encode("ascii")
        self.selector = selector.encode("ascii")
        self.private_key = private_key

    def __call__(self, message: bytes) -> bytes:
        return dkim.sign(message, self.selector, self.domain, self.private_key,
                         include_headers=list(SIGNED_HEADERS),
                         canonicalize=(b"relaxed", b"relaxed"), linesep=b"\r\n")


def load_signer(config: DkimConfig | None, where: str = "delivery.dkim") -> DkimSigner | None:
    """The signer for [delivery.dkim], or None when DKIM is not configured. A missing or
    unreadable key is a configuration error (exit 2) naming the key file."""
    if config is None:
        return None
    path = Path(config.key_file)
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{where}.key_file: cannot read {path}: {exc.strerror}",
                          hint="point key_file at the PEM private key whose public half is "
                               f"published at {config.selector}._domainkey.{config.domain}"
                          ) from exc
    try:
        parse_pem_private_key(key)
        config.domain.encode("ascii")
        config.selector.encode("ascii")
    except (UnparsableKeyError, ValueError) as exc:
        raise ConfigError(f"{where}: {path} is not a usable DKIM key ({exc})",
                          hint="use an RSA private key in PEM form, e.g. made with "
                               "`openssl genrsa -out dkim.key 2048`") from exc
    return DkimSigner(config.domain, config.selector, key)
