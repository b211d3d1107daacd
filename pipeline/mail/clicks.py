"""Click tracking at compose time: each reader's half of their click tokens, and the click
slots of a message laid out once per issue."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from ..config import Config
from ..tracking import reader_values

SOFT_BREAK = b"=\r\n"  # quoted-printable: the line goes on


def click_values(config: Config, key: bytes, click_key: bytes | None,
                 week: str) -> Callable[[str], str] | None:
    """reader ref → the reader's half of their click tokens (tracking/clicktoken.py), or None
    when clicks are off. `aggregate`: a hash keyed with the issue's click key, which names
    nobody once that key is dropped; `per_reader`: the reader's ref itself."""
    mode = config.tracking.clicks
    if mode == "off":
        return None
    if mode == "per_reader":
        return reader_values(key, week, None)
    return reader_values(key, week, click_key or secrets.token_bytes(32))  # none: a sample


_VALUE = object()  # where a run's click value goes


def layout_clicks(pieces: list[bytes | str], slots: tuple[int, ...]
                   ) -> tuple[list[Any], tuple[int, ...]]:
    """Fold every `click` slot into the literals around it, as a run of byte chunks the value
    is joined into: an issue has a click slot per article link, and filling each like the
    other slots (encode, then a soft break on either side) costs a third of the throughput.
    The value (`delivery.seal`, URL-safe base64, under 40 characters) is the same in every
    slot of a message and neither quoted-printable nor HTML changes it, so the soft breaks
    around it are laid out here, exactly where compose._fill would put them."""
    out: list[Any] = []
    new_slots: list[int] = []
    run: list[Any] = []

    def flush() -> None:
        if not run:
            return
        if _VALUE not in run:  # one literal
            out.append(run[0])
        else:
            laid: list[Any] = []
            for piece in run:
                if piece is _VALUE or piece:
                    if laid and (laid[-1] is _VALUE or not laid[-1].endswith(b"\r\n")):
                        laid.append(SOFT_BREAK)
                    laid.append(piece)
            chunks = [b""]
            for piece in laid:
                if piece is _VALUE:
                    chunks.append(b"")
                else:
                    chunks[-1] += piece
            out.append(tuple(chunks))
        run.clear()

    for i, piece in enumerate(pieces):
        if i in slots and piece != "click":
            flush()
            new_slots.append(len(out))
            out.append(piece)
        else:
            run.append(_VALUE if i in slots else piece)
    flush()
    return out, tuple(new_slots)
