"""Hearing back after sending: bounces, complaints, unsubscribe mail and auto-replies read from
mailboxes (classify), and ESP webhooks (webhooks). Pure: bytes and dicts in, frozen values out;
the state layer and the CLI act on them."""

from .classify import classify
from .model import KINDS, ConfirmSubscription, Event, Failure, Kind, Verdict
from .sources import InboundMessage, SourceProblem, read_sources
from .verp import (
                   decode_local_part,
                   encode_local_part,
                   find_verp_token,
                   return_path,
                   sign_verp,
                   verify_verp,
)

__all__ = [
    "KINDS", "ConfirmSubscription", "Event", "Failure", "InboundMessage", "Kind",
    "SourceProblem", "Verdict", "classify", "decode_local_part", "encode_local_part",
    "find_verp_token", "read_sources", "return_path", "sign_verp", "verify_verp",
]
