"""Bulk writes from a file: every row validated first, then each sent once under a SQLite journal.

``load_rows(op, source)`` reads CSV (with a header) or JSON lines for one of :data:`OPS`
(``publish``, ``block``, ``rename``, ``set-main``, ``delete``) and raises :class:`BulkInputError`
listing every bad row with its line number. ``run_bulk(playback, rows, journal)`` then sends the
rows through a ``PlayBack`` (only its seed methods), recording each row's outcome in the journal,
keyed by the row's content (op and arguments) within a generation. A run killed anywhere (or ended
with failures) and started again — even on an edited file — sends only what is not done; a run that
ended with every row done closes the generation, so the next run sends its rows afresh. A row whose
outcome is unknown (sent, then a timeout or a lost connection) is read back before anything is
re-sent, and a ``delete`` is never sent while an earlier send could still arrive. The journal
belongs to one account and one run at a time. ``bulk(playback, op, source)`` does both, with the
journal beside the input.

The parts: ``_ops`` (the operations table: columns, send, verify), ``_rows`` (input),
``_journal`` (the SQLite journal) and ``_run`` (the runner).
"""

from __future__ import annotations

from ._journal import BulkJournalError, default_journal, lock_path
from ._ops import OPS, Operation, PlayBackLike, Target
from ._rows import BulkInputError, BulkRow, Format, RowProblem, load_rows
from ._run import (
    MAX_NOT_SENT,
    MAX_REFUSALS,
    NOT_SENT_WAIT,
    BulkFailure,
    BulkProgress,
    BulkSummary,
    bulk,
    run_bulk,
)

__all__ = [
    "MAX_NOT_SENT",
    "MAX_REFUSALS",
    "NOT_SENT_WAIT",
    "OPS",
    "BulkFailure",
    "BulkInputError",
    "BulkJournalError",
    "BulkProgress",
    "BulkRow",
    "BulkSummary",
    "Format",
    "Operation",
    "PlayBackLike",
    "RowProblem",
    "Target",
    "bulk",
    "default_journal",
    "load_rows",
    "lock_path",
    "run_bulk",
]
