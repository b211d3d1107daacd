"""Typed errors. Each carries a hint telling the user what to do next; the CLI prints both."""

from __future__ import annotations

# Exit codes shared by every command (README "Exit codes").
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 75  # EX_TEMPFAIL: another run holds the lock; try again later.


class PipelineError(Exception):
    """Base class: a message for the user and a hint on how to fix it."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(PipelineError):
    """The configuration file is missing or invalid. `problems` lists every one found."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, hint: str | None = None, problems: list[str] | None = None):
        super().__init__(message, hint)
        self.problems = problems or []


class UsageError(PipelineError):
    """A command-line argument or an input file is unusable."""

    exit_code = EXIT_USAGE


class SigningKeyError(PipelineError):
    """The key that signs readers' links is unusable, or missing where links were already sent
    (names the file or the environment variable, and how to make or restore one)."""

    exit_code = EXIT_USAGE


class CuratedError(UsageError):
    """An excerpt file in the curated folder is malformed (names its path and line)."""


class FetchError(PipelineError):
    """A feed or page could not be fetched."""


class ParseError(PipelineError):
    """A fetched document is not a usable feed."""


class RenderError(PipelineError):
    """A template or the MJML compiler failed."""


class CheckFailed(PipelineError):
    """A built issue failed its pre-flight check and must not be sent."""


class DeliveryError(PipelineError):
    """Delivery stopped (for instance the SMTP server is unreachable); the ledger is intact."""


class LockedError(PipelineError):
    """Another process holds the state lock."""

    exit_code = EXIT_LOCKED


class StorageError(PipelineError):
    """A file or folder cannot be written: a full disk, a read-only or foreign folder."""


class StateError(PipelineError):
    """The state database cannot be used: damaged, locked by another program, full."""


class ArchiveError(PipelineError):
    """A file of the archive (issues/<week>/) is damaged."""


class StaleStateError(PipelineError):
    """The archive records more of a week's delivery than the state database does: the
    database was lost or restored from an older backup, and sending would repeat messages."""
