"""The documentation keeps up with the code (sqlite-utils' habit): every command and option of
the `digest --help` tree is in README.md, every key of the config dataclasses in the commented
config.toml. A new option or key fails here until it is documented."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path

import click
import pytest

from pipeline.cli import main
from pipeline.config import Config

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CONFIG_TOML = (ROOT / "config.toml").read_text(encoding="utf-8")


def _commands(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        yield path + (name,), command
        if isinstance(command, click.Group):
            yield from _commands(command, path + (name,))


COMMANDS = list(_commands(main))


def _lines_about(path: tuple[str, ...]) -> list[str]:
    """README lines that name the command: `digest run`, or for a subcommand a line naming
    its group and the subcommand (the table writes `digest subscribers import … | add …`)."""
    lines = README.splitlines()
    if len(path) == 1:
        return [line for line in lines if re.search(rf"digest {path[0]}\b", line)]
    group, leaf = " ".join(path[:-1]), path[-1]
    return [line for line in lines
            if f"digest {group}" in line and re.search(rf"(?<![\w-]){leaf}\b", line)]


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=" ".join)
def test_every_command_and_its_options_are_in_the_readme(path):
    command = dict(COMMANDS)[path]
    lines = _lines_about(path)
    assert lines, f"README.md never names `digest {' '.join(path)}`"
    options = [opt for param in command.params if isinstance(param, click.Option)
               for opt in param.opts if opt.startswith("--") and opt != "--help"]
    missing = [opt for opt in options if not any(opt in line for line in lines)]
    assert not missing, (f"README.md: the lines about `digest {' '.join(path)}` do not "
                         f"mention {', '.join(missing)}")


def test_the_global_options_are_in_the_readme():
    options = [opt for param in main.params for opt in param.opts if opt.startswith("--")]
    assert options
    missing = [opt for opt in options if opt != "--help" and opt not in README]
    assert not missing, f"README.md does not mention {', '.join(missing)}"


def _key(field: dataclasses.Field) -> str:
    return field.metadata.get("key", field.name)


def _config_keys(cls: type, table: tuple[str, ...] = ()):
    """(table, key) for every key the config accepts, e.g. (("delivery", "smtp"), "host")."""
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        if field.metadata.get("internal"):
            continue
        kind = hints[field.name]
        inner = [a for a in typing.get_args(kind) if a is not type(None) and a is not Ellipsis]
        target = inner[0] if inner else kind
        if dataclasses.is_dataclass(target):
            yield from _config_keys(target, table + (_key(field),))
        else:
            yield table, _key(field)


def _documented_keys() -> set[tuple[tuple[str, ...], str]]:
    """(table, key) of every key written in config.toml, set or commented out (`# key = …`),
    under the table header above it (`[delivery.smtp]`, `[[feeds]]`, also commented out)."""
    found = set()
    table: tuple[str, ...] = ()
    for line in CONFIG_TOML.splitlines():
        header = re.match(r"^\s*#?\s*\[\[?([\w.]+)\]\]?", line)
        if header:
            table = tuple(header.group(1).split("."))
            continue
        key = re.match(r"^\s*#?\s*([A-Za-z_][\w]*)\s*=", line)
        if key:
            found.add((table, key.group(1)))
    return found


def test_every_config_key_is_in_the_commented_config_toml():
    keys = list(_config_keys(Config))
    assert (("delivery", "smtp"), "host") in keys and (("newsletter",), "from") in keys
    documented = _documented_keys()
    missing = [".".join(table + (key,)) for table, key in keys if (table, key) not in documented]
    assert not missing, f"config.toml does not show {', '.join(missing)}"
