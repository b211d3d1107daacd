"""A TOML table → frozen dataclass, validated from the dataclass's own type hints and field
metadata (key, choices, pattern, min, max, check, multiline). Every problem is collected, not
raised, so the user sees them all at once. Paths are resolved against the config file's folder,
defaults included.

Every string is one line without control characters unless its field says `multiline=True`:
names and addresses end up in mail headers, where a CR or LF would start a new header."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
import unicodedata
from pathlib import Path
from typing import Any, Literal


class Problems(list[str]):
    def add(self, where: str, message: str) -> None:
        self.append(f"{where}: {message}")


def _key_name(f: dataclasses.Field) -> str:
    return f.metadata.get("key", f.name)


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_type_name(a) for a in typing.get_args(tp) if a is not type(None))
    if origin is tuple:
        item = typing.get_args(tp)[0]
        return "an array of " + ("tables" if dataclasses.is_dataclass(item) else
                                 _PLURALS.get(item, _type_name(item)))
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false",
            Path: "a path (string)"}.get(tp, getattr(tp, "__name__", str(tp)))


_PLURALS = {str: "strings", int: "integers", float: "numbers", bool: "true/false values",
            Path: "paths (strings)"}


def _convert(value: Any, tp: Any, where: str, root: Path, problems: Problems) -> Any:
    """Check `value` against type `tp`; return the converted value or None after a problem."""
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(value, inner[0], where, root, problems)
    if origin is Literal:
        if value not in typing.get_args(tp):
            problems.add(where, f"{value!r} is not valid; valid: {_type_name(tp)}")
            return None
        return value
    if origin is tuple:
        item_tp = typing.get_args(tp)[0]
        if not isinstance(value, list):
            problems.add(where, f"expected {_type_name(tp)}, got {type(value).__name__}")
            return None
        items = [_convert(v, item_tp, f"{where}[{i}]", root, problems) for i, v in enumerate(value)]
        # One bad item (its problems already recorded) makes the whole array unusable.
        return None if any(item is None for item in items) else tuple(items)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            problems.add(where, f"expected a table, got {type(value).__name__}")
            return None
        return build_dataclass(tp, value, where, root, problems)
    if tp is bool:
        if not isinstance(value, bool):
            problems.add(where, f"expected true or false, got {value!r}")
            return None
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.add(where, f"expected an integer, got {value!r}")
            return None
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.add(where, f"expected a number, got {value!r}")
            return None
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            problems.add(where, f"expected a string, got {value!r}")
            return None
        return value
    if tp is Path:
        if not isinstance(value, str) or not value:
            problems.add(where, f"expected a path (string), got {value!r}")
            return None
        return (root / value).resolve()
    raise TypeError(f"unsupported config type {tp!r}")  # a programming error, not user input


_LINE_BREAKS = "\r\n"
_CONTROL_CATEGORIES = ("Cc", "Zl", "Zp")  # C0/C1 controls, DEL, U+2028/U+2029 separators


def text_problem(value: str, multiline: bool = False) -> str | None:
    """Why `value` cannot be used as configuration text, or None. Single-line text (the
    default) has no control character at all; multi-line text may hold line breaks and tabs."""
    for index, char in enumerate(value):
        if unicodedata.category(char) not in _CONTROL_CATEGORIES:
            continue
        if multiline and (char in _LINE_BREAKS or char == "\t"):
            continue
        what = "a line break" if char in _LINE_BREAKS + "\u2028\u2029" else "a control character"
        valid = ("text with line breaks but no other control character" if multiline
                 else "one line of text without control characters")
        return f"contains {what} (U+{ord(char):04X}) at character {index + 1}; valid: {valid}"
    return None


def _text_problems(f: dataclasses.Field, value: Any, where: str, problems: Problems) -> bool:
    """Record the control characters in a string (or an array of strings); True if any."""
    multiline = bool(f.metadata.get("multiline"))
    items = [(where, value)] if isinstance(value, str) else (
        [(f"{where}[{i}]", v) for i, v in enumerate(value)] if isinstance(value, tuple) else [])
    found = False
    for item_where, item in items:
        if isinstance(item, str) and (problem := text_problem(item, multiline)):
            problems.add(item_where, problem)
            found = True
    return found


def _check_constraints(f: dataclasses.Field, value: Any, where: str, problems: Problems) -> None:
    meta = f.metadata
    if value is None or _text_problems(f, value, where, problems):
        return  # a string with a control character: that is its one problem
    if "choices" in meta and value not in meta["choices"]:
        problems.add(where, f"{value!r} is not valid; valid: {', '.join(meta['choices'])}")
    if "pattern" in meta and isinstance(value, str) and not re.match(meta["pattern"], value):
        expected = meta.get("valid", meta["pattern"])
        problems.add(where, f"{value!r} is not valid; expected {expected}")
    if "min" in meta and isinstance(value, int | float) and value < meta["min"]:
        problems.add(where, f"{value!r} is too small; minimum {meta['min']}")
    if "max" in meta and isinstance(value, int | float) and value > meta["max"]:
        problems.add(where, f"{value!r} is too large; maximum {meta['max']}")
    if "check" in meta and (problem := meta["check"](value)):
        problems.add(where, problem)


def build_dataclass(cls: type, table: dict[str, Any], where: str, root: Path, problems: Problems,
           extra: dict[str, Any] | None = None) -> Any:
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if not f.metadata.get("internal")]
    known = {_key_name(f) for f in fields}
    for key in table:
        if key not in known:
            problems.add(f"{where}.{key}" if where else key,
                         f"unknown key; valid keys: {', '.join(sorted(known))}")
    values: dict[str, Any] = dict(extra or {})
    missing = False
    for f in fields:
        key = _key_name(f)
        key_where = f"{where}.{key}" if where else key
        if key not in table:
            required = (f.default is dataclasses.MISSING
                        and f.default_factory is dataclasses.MISSING)
            if required:
                problems.add(key_where, f"required ({_type_name(hints[f.name])})")
                missing = True
            elif isinstance(f.default, Path):
                # Defaults are relative to the config file's folder too, not to the cwd.
                values[f.name] = (root / f.default).resolve()
            elif dataclasses.is_dataclass(f.default):
                # An absent table: build it from its defaults so its paths resolve as well.
                values[f.name] = build_dataclass(hints[f.name], {}, key_where, root, problems)
            continue
        converted = _convert(table[key], hints[f.name], key_where, root, problems)
        if converted is None:
            missing = True
            continue
        _check_constraints(f, converted, key_where, problems)
        values[f.name] = converted
    if missing:
        return None
    return cls(**values)
