"""Hearing back after sending: `digest inbound` (mail read from files, stdin or LMTP) and
`digest dns` (the records that make the mail authenticate and come back)."""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from .app import AppContext, echo, info, main, pass_app

if TYPE_CHECKING:
    from ..jobs.inbound import Result

# The library is imported inside each command: `digest --help` loads none of it.
EX_TEMPFAIL = 75  # sysexits.h: the MTA keeps the message and tries again


def _host_port(value: str) -> tuple[str, int]:
    found = re.match(r"^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s]+)):(\d{1,5})$", value or "")
    if not found or not 0 < int(found.group(3)) < 65536:
        raise click.BadParameter(f"{value!r}: expected HOST:PORT, e.g. 127.0.0.1:8024 or "
                                 "[::1]:8024", param_hint="--lmtp")
    return found.group(1) or found.group(2), int(found.group(3))


def _line(result: Result) -> str:
    from .send_cmds import printable

    who = ", ".join(result.recipients) or "-"
    code = f" {result.status}" if result.status else ""
    return printable(f"{result.source}: {result.kind}{code} {who}: {result.reason} → "
                     f"{result.action}")


def _printer(as_json: bool, counts: Counter[str]):
    def show(result: Result) -> None:
        counts["already applied" if result.duplicate else result.kind] += 1
        echo(json.dumps(result.as_json(), ensure_ascii=False) if as_json else _line(result))
    return show


@main.command()
@click.argument("sources", nargs=-1, metavar="PATH… | -")
@click.option("--dry-run", is_flag=True,
              help="Classify and say what would be done; change nothing.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per message (source, kind, recipients, status, reason…).")
@click.option("--lmtp", metavar="HOST:PORT",
              help="Serve LMTP for the MTA to hand messages to, until SIGTERM or Ctrl-C.")
@pass_app
def inbound(app: AppContext, sources: tuple[str, ...], dry_run: bool, as_json: bool,
            lmtp: str | None) -> None:
    """Read bounces, complaints, unsubscribe mail and auto-replies, and act on them.

    PATH is a Maildir folder, an mbox file, a message file or a folder of them; - reads one
    message from standard input (a Postfix pipe transport, a .forward). A hard bounce makes
    the reader bounced, soft bounces count toward [inbound] soft_bounce_limit, a complaint
    makes them complained, an unsubscribe request (verified by its token) unsubscribed. A
    message is applied once. Exits 0 when every source was read (a message that is no bounce
    is reported, not an error), 1 when a source could not be read.
    """
    if lmtp and sources:
        raise click.UsageError("give PATH… or --lmtp HOST:PORT, not both")
    if not lmtp and not sources:
        raise click.UsageError("give a Maildir, mbox or message PATH, - for standard input, "
                               "or --lmtp HOST:PORT")
    if lmtp:
        _serve_lmtp(app, _host_port(lmtp), dry_run, as_json)
        return
    from ..inbound import SourceProblem
    from ..jobs.inbound import Context, handle_sources

    counts: Counter[str] = Counter()
    show = _printer(as_json, counts)
    problems = 0
    with app.state() as state, _retry_later():
        ctx = Context.of(state, dry_run)
        stdin = sys.stdin.buffer if "-" in sources else None
        for item in handle_sources(state.db, ctx, sources, stdin):
            if isinstance(item, SourceProblem):
                problems += 1
                echo(f"error: {item}", err=True)
            else:
                show(item)
    total = sum(counts.values())
    summary = ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items()))
    if not as_json:
        info(app, f"{total} message(s){': ' + summary if summary else ''}"
                  f"{' (dry run: nothing changed)' if dry_run else ''}")
    if problems:
        echo(f"{problems} source(s) could not be read", err=True)
        raise SystemExit(1)


@contextmanager
def _retry_later() -> Iterator[None]:
    """The state could not be written (locked, full disk): exit 75, EX_TEMPFAIL, so an MTA's
    pipe transport keeps the message and retries; what was applied before stays applied."""
    import sqlite3

    from ..errors import StateError, StorageError

    try:
        yield
    except (StateError, StorageError, sqlite3.Error) as exc:
        echo(f"error: {getattr(exc, 'message', exc)}", err=True)
        echo("hint: the message being read was not applied (those before it were); try "
             "again later: an MTA's pipe transport retries on exit 75", err=True)
        raise SystemExit(EX_TEMPFAIL) from exc


def _serve_lmtp(app: AppContext, address: tuple[str, int], dry_run: bool,
                as_json: bool) -> None:
    from ..jobs.inbound import Context
    from ..jobs.lmtp import serve_lmtp
    from .signals import stop_on_signals

    host, port = address
    counts: Counter[str] = Counter()
    with app.state() as state:
        state.migrate()  # once, before connections race to
        ctx = Context.of(state, dry_run)
    with stop_on_signals() as stop:
        serve_lmtp(ctx, host, port, stop, _printer(as_json, counts),
                   lambda: info(app, f"serving LMTP on {host}:{port}"
                                     f"{' (dry run)' if dry_run else ''}; SIGTERM stops"))
    info(app, f"stopped; {sum(counts.values())} message(s) handled")


@main.command()
@pass_app
def dns(app: AppContext) -> None:
    """Print the DNS records to publish: DKIM, SPF, DMARC, and where bounces and unsubscribe
    mail must be delivered (MX or forwarding) so `digest inbound` hears them."""
    from ..mail.dns import dns_records

    for line in dns_records(app.config):
        echo(line)
