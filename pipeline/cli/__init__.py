"""The `digest` command line: a thin layer that parses, calls the library, prints and exits.

The group and what commands share are app.py; the commands live in modules by area and
register themselves on `main` when imported here. Each command imports the library it uses
inside its body, so `digest --help` and `digest issues list` load only what they need.
"""

from . import (  # noqa: F401
    desk_cmds,
    feed_cmds,
    issue_cmds,
    run_cmds,
    send_cmds,
    serve_cmds,
    state_cmds,
)
from .app import main

__all__ = ["main"]
