"""The `digest` group and what every command shares: the app context (config, State), output,
error translation, the state lock and common options.

Every PipelineError becomes its message, its hint and its exit code (2 for usage and
configuration errors, 1 for a failed job, 75 when locked). Only click and pipeline.errors are
imported up front: the config, the state and the stages are imported where a command first
needs them, so `digest --help` loads none of them (bench/cli_help.py measures it).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import ConfigError, PipelineError

if TYPE_CHECKING:
    from ..config import Config
    from ..jobs.build import BuildResult
    from ..state.handle import State


@dataclass
class AppContext:
    config_path: Path
    verbosity: int = 0
    log_json: bool = False
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            from ..config import load_config  # start-up: `--help` reads no config

            self._config = load_config(self.config_path)
        return self._config

    def state(self, now: datetime | None = None) -> State:
        """The command's one State (database, signing key, clock); use it in a `with`."""
        from ..state.handle import State  # start-up: only commands that use the state

        return State(self.config, now)


def echo(message: str = "", err: bool = False) -> None:
    click.echo(message, err=err)


def info(ctx: AppContext, message: str) -> None:
    """Printed unless -q."""
    if ctx.verbosity >= 0:
        click.echo(message)


def report_error(exc: PipelineError) -> None:
    click.secho(f"error: {exc.message}", fg="red", err=True)
    if isinstance(exc, ConfigError):
        for problem in exc.problems:
            click.echo(f"  - {problem}", err=True)
    if exc.hint:
        click.echo(f"hint: {exc.hint}", err=True)


class DigestGroup(click.Group):
    """Turns library errors into a message, a hint and an exit code. The adapters translate
    what they can foresee; a disk or database failure that escapes them (a full disk in the
    middle of a write, a database locked by another program) still gets one line, not a
    traceback: the ledger is committed message by message, so the next run resumes."""

    def invoke(self, ctx: click.Context):
        import sqlite3  # start-up: only to name the error class

        try:
            return super().invoke(ctx)
        except PipelineError as exc:
            report_error(exc)
            ctx.exit(exc.exit_code)
        except sqlite3.Error as exc:
            from ..state.db import state_error  # start-up: only on this error

            error = state_error(exc, _db_path(ctx))
            report_error(error)
            ctx.exit(error.exit_code)
        except BrokenPipeError:
            raise  # `digest … | head`: not a disk problem
        except OSError as exc:
            from ..fsutil import storage_error  # start-up: only on this error

            error = storage_error(exc, doing="use")
            report_error(error)
            ctx.exit(error.exit_code)


def _db_path(ctx: click.Context) -> Path:
    """The state database the failing command used (its config was loaded by then)."""
    app = ctx.find_object(AppContext)
    if app is not None and app._config is not None:
        return app._config.db_path
    return Path("digest.sqlite3")


@click.group(cls=DigestGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("config.toml"), show_default=True,
              help="The newsletter's config.toml; its folder anchors every relative path.")
@click.option("-v", "--verbose", count=True, help="Say more (repeatable).")
@click.option("-q", "--quiet", is_flag=True, help="Print only warnings and errors.")
@click.option("--log-json", is_flag=True, help="Log as JSON lines on stderr (for log shippers).")
@click.version_option(package_name="pm-career-digest")
@click.pass_context
def main(ctx: click.Context, config_path: Path, verbose: int, quiet: bool, log_json: bool) -> None:
    """PM Career Digest: build and deliver the weekly newsletter.

    The weekly job is `digest run`; the other commands run its stages one at a time.
    """
    from .logs import setup_logging  # start-up: `digest --help` never gets here

    verbosity = -1 if quiet else verbose
    setup_logging(verbosity, log_json)
    ctx.obj = AppContext(config_path=config_path, verbosity=verbosity, log_json=log_json)


pass_app = click.make_pass_decorator(AppContext)


def writes_state(command):
    """Hold the state lock (state/lock.py) for the whole command; place it under @pass_app.
    A second state-writing invocation exits 75 naming the process that holds the lock."""
    @functools.wraps(command)
    def wrapper(app: AppContext, *args, **kwargs):
        from ..state.lock import command_line, state_lock  # start-up: when the command runs

        with state_lock(app.config, command_line()):
            return command(app, *args, **kwargs)

    return wrapper


week_option = click.option("--week", metavar="YYYY-Www",
                           help="ISO week, e.g. 2026-W48 (default: this week in the "
                                "newsletter's time zone).")
now_option = click.option("--now", metavar="ISO-8601",
                          help="Pin the clock, e.g. 2026-11-26T08:00:00+00:00 (tests, backfills).")
force_resend_option = click.option(
    "--force-resend", is_flag=True,
    help="Send even though the archive records that this week's delivery started and the "
         "state database does not know it (a lost database, an older backup): readers may "
         "get the issue twice.")


def resolve_week(app: AppContext, week: str | None, now: str | None = None) -> str:
    """`--week`, checked; without it, this week in the newsletter's time zone (or --now's)."""
    from ..weeks import parse_now, parse_week, week_id  # start-up: when a command runs

    if week:
        parse_week(week)
        return week
    return week_id(parse_now(now), app.config.newsletter.tz)


def print_build_summary(result: BuildResult) -> None:
    issue = result.issue
    if result.frozen:
        echo(f"Issue #{issue.number} ({issue.id}): delivery has started, so it is not rebuilt;"
             f" {result.folder} stays what its readers got")
    else:
        echo(f"Issue #{issue.number} ({issue.id}) built in {result.folder}")
    echo(f"  subject: {issue.subject}")
    for section in issue.sections:
        curated = sum(1 for i in section.items if i.kind == "curated")
        echo(f"  {section.title}: {len(section.items)} item(s) ({curated} curated)")
    failed = [f for f in result.feeds if f.status in ("failed", "gone")]
    ok = len(result.feeds) - len(failed)
    echo(f"  feeds: {ok} ok, {len(failed)} failed")
    for feed in failed:
        echo(f"    ✗ {feed.name}: {feed.error}")
    for warning in result.check.warnings:
        echo(f"  warning: {warning}")
    for error in result.check.errors:
        echo(f"  check error: {error}")
