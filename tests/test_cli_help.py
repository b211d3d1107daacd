"""Every command and group has help text (sqlite-utils' habit), and `--help` needs no config."""

from __future__ import annotations

import click
from click.testing import CliRunner

from pipeline.cli import main


def _walk(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        yield path + (name,), command
        if isinstance(command, click.Group):
            yield from _walk(command, path + (name,))


def test_every_command_has_help_text(tmp_path):
    runner = CliRunner()
    commands = list(_walk(main))
    # The PRODUCT.md contract names these; they must all exist.
    names = {" ".join(path) for path, _ in commands}
    for required in ("run", "fetch", "build", "check", "send", "subscribers import",
                     "subscribers add", "subscribers remove", "subscribers list", "curate list",
                     "issues list", "issues show"):
        assert required in names, f"missing command: digest {required}"
    for path, command in commands:
        assert command.help and command.help.strip(), f"digest {' '.join(path)} has no help"
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.help, f"digest {' '.join(path)} {param.opts[0]} has no help"
        # --help works anywhere, even with no config file around.
        result = runner.invoke(main, ["--config", str(tmp_path / "none.toml"), *path, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.output
