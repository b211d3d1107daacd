"""Has this week's delivery started, and may this ledger send it? Both witnesses are asked:
the ledger (state/ledger.py) and the archive's delivery record (archive/record.py), so a lost
or older database neither rebuilds a week readers got nor sends it to them again."""

from __future__ import annotations

from ..archive import files as archive
from ..archive import record
from ..errors import ArchiveError
from ..state import ledger
from ..state.handle import State


def started(state: State, week: str) -> bool:
    """Delivery of `week` started, as the ledger or the archive knows: its archived issue is
    what readers got, so it is never rebuilt. A damaged record was written, so it started."""
    if ledger.started(state.db, week):
        return True
    try:
        return record.load(state.config.archive_dir, week) is not None
    except ArchiveError:
        return True


def check(state: State, week: str, force: bool = False,
          command: str = "send") -> record.SendRecord | None:
    """The archive's record of the week, after making sure the ledger is not behind it
    (StaleStateError, exit 1). `force` (--force-resend) goes on, and a damaged record is
    then ignored: the send writes a new one."""
    config = state.config
    try:
        previous = record.load(config.archive_dir, week)
    except ArchiveError:
        if force:
            return None
        raise
    why = record.problem(previous, ledger.started(state.db, week),
                         ledger.sent_count(state.db, week))
    if why is not None and not force:
        raise record.stale_state_error(week, archive.record_path(config.archive_dir, week),
                                       config.db_path, why, command)
    return previous


def recorder(state: State, week: str, previous: record.SendRecord | None,
             forced: bool) -> record.Recorder:
    """A Recorder writing into the archive and counting in the command's ledger."""
    archive_dir = state.config.archive_dir
    return record.Recorder(week, previous, forced,
                           lambda r: archive.write_delivery_record(archive_dir, week,
                                                                   r.to_json()),
                           lambda: ledger.sent_count(state.db, week))
