"""Hearing back after sending: bounces, complaints, unsubscribe mail and auto-replies read from
mailboxes (classify), and ESP webhooks (webhooks). Pure: bytes and dicts in, frozen values out;
the state layer and the CLI act on them.

The names below load their module on first use (PEP 562): `digest send` signs VERP return
paths with `inbound.verp` alone and must not pay for the classifier's patterns at start-up."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_HOME = {
    "classify": "classify",
    "KINDS": "model", "ConfirmSubscription": "model", "Event": "model", "Failure": "model",
    "Kind": "model", "Verdict": "model",
    "InboundMessage": "sources", "SourceProblem": "sources", "read_sources": "sources",
    "decode_local_part": "verp", "encode_local_part": "verp", "find_verp_token": "verp",
    "return_path": "verp", "sign_verp": "verp", "verify_verp": "verp",
}
__all__ = [  # the names of _HOME, spelled out for linters and readers
    "KINDS", "ConfirmSubscription", "Event", "Failure", "InboundMessage", "Kind",
    "SourceProblem", "Verdict", "classify", "decode_local_part", "encode_local_part",
    "find_verp_token", "read_sources", "return_path", "sign_verp", "verify_verp",
]

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    globals()[name] = value
    return value
