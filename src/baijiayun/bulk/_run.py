"""Running bulk rows: each sent once under the journal, lost answers read back, deletes held."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ..client._base import DEFAULT_TIMEOUT, slot_hold
from ..errors import (
    APIConnectionError,
    APIError,
    BaiJiaYunError,
    InvalidArgumentError,
    RateLimitError,
    SharedStateError,
)
from ._journal import Entry, Journal, State, default_journal
from ._ops import OPS, Operation, PlayBackLike
from ._rows import BulkRow, Format, load_rows

__all__ = [
    "MAX_NOT_SENT",
    "MAX_REFUSALS",
    "NOT_SENT_WAIT",
    "BulkFailure",
    "BulkProgress",
    "BulkSummary",
    "bulk",
    "run_bulk",
]


@dataclass(frozen=True)
class BulkFailure:
    """A row that is not done, and why."""

    line: int
    row: str
    reason: str


@dataclass(frozen=True)
class BulkProgress:
    """Where a run is: rows finished out of ``total``, and an estimate of the time left."""

    total: int
    finished: int
    done: int
    skipped: int
    failed: int
    elapsed: float
    eta: float | None


@dataclass
class BulkSummary:
    """The outcome of a run: rows done now, skipped (done before, or duplicates), failed."""

    total: int = 0
    done: int = 0
    skipped: int = 0
    failed: list[BulkFailure] = field(default_factory=list)
    sent: int = 0
    """Write calls made by this run."""
    checked: int = 0
    """Reads made to settle unknown outcomes."""
    dry_run: bool = False
    would_send: int = 0
    """With ``dry_run``: rows a real run would send (or check first)."""

    def __str__(self) -> str:
        if self.dry_run:
            return (
                f"dry run: {self.would_send} to send, {self.skipped} already done or duplicate, "
                f"of {self.total} rows"
            )
        text = f"{self.done} done, {self.skipped} skipped, {len(self.failed)} failed"
        lines = [f"  line {f.line}: {f.row}: {f.reason}" for f in self.failed[:50]]
        return "\n".join([text, *lines])


_UNKNOWN = "outcome unknown"
MAX_REFUSALS = 2
"""Waits of one period a row may get when the account limit refuses it, before it fails."""
MAX_NOT_SENT = 2
"""Retries of a row whose request never left this machine (connection refused, pool timeout)."""
NOT_SENT_WAIT = 1.0
"""Seconds before such a retry."""


def _not_sent(error: BaiJiaYunError) -> bool:
    """True if the request surely never reached the service (so it may simply go again)."""
    if isinstance(error, SharedStateError):
        return True  # the shared rate governor could not be asked: nothing was sent
    return isinstance(error, APIConnectionError) and not error.request_sent


def _account_of(playback: object) -> tuple[str, str] | None:
    """(partner_id, base_url) of the client behind ``playback``, when it has one."""
    client = getattr(playback, "client", None)
    partner_id = getattr(client, "partner_id", None)
    base_url = getattr(client, "base_url", None)
    if partner_id is None or not isinstance(base_url, str):
        return None
    return str(partner_id), base_url


def _hold_of(playback: object) -> float:
    """Seconds after a call ends within which its request can still reach the service.

    Every attempt of a call starts before the call ends, with at most the call's ``timeout``
    left, so it arrives within its slot's hold (3 x timeout + 1 s) of the call's end.
    """
    timeout = getattr(getattr(playback, "client", None), "timeout", None)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        timeout = DEFAULT_TIMEOUT
    return slot_hold(float(timeout))


@dataclass(frozen=True)
class _Pause:
    """How to wait out a "too many requests" refusal: one period of the account limit."""

    seconds: float
    sleep: Callable[[float], None]
    on_wait: Callable[[str, float], None] | None

    def wait(self) -> None:
        if self.on_wait is not None:
            self.on_wait("rate_limit", self.seconds)
        self.sleep(self.seconds)


class _Run:
    """One run's state: its journal, summary, clock and hold, and the stop flag of an interrupt."""

    def __init__(
        self,
        playback: PlayBackLike,
        journal: Journal,
        summary: BulkSummary,
        on_progress: Callable[[BulkProgress], None] | None,
        clock: Callable[[], float],
        pause: _Pause,
    ) -> None:
        self.pause = pause
        self.playback = playback
        self.journal = journal
        self.summary = summary
        self.on_progress = on_progress
        self.clock = clock
        self.hold = _hold_of(playback)
        self.started = clock()
        self.finished = 0
        self.worked = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def report(self, *, worked: bool) -> None:
        with self.lock:
            self.finished += 1
            self.worked += worked
            if self.on_progress is None:
                return
            s = self.summary
            elapsed = self.clock() - self.started
            left = s.total - self.finished
            eta = elapsed / self.worked * left if self.worked else None
            progress = BulkProgress(
                s.total, self.finished, s.done, s.skipped, len(s.failed), elapsed, eta
            )
        self.on_progress(progress)

    def _count(self, *, sent: int = 0, checked: int = 0) -> None:
        with self.lock:
            self.summary.sent += sent
            self.summary.checked += checked

    def _mark(
        self, row: BulkRow, state: State, detail: str | None = None, hold: float | None = None
    ) -> None:
        self.journal.mark(row, state, detail, now=self.clock(), hold_until=hold)

    def _finish(
        self, row: BulkRow, state: State, detail: str | None = None, hold: float | None = None
    ) -> None:
        self._mark(row, state, detail, hold)
        with self.lock:
            if state == "done":
                self.summary.done += 1
            else:
                self.summary.failed.append(BulkFailure(row.line, row.describe(), detail or ""))

    def _check(self, row: BulkRow, op: Operation) -> bool | str:
        """True if done, False if not, or the reason the check failed."""
        self._count(checked=1)
        try:
            return op.verify(self.playback, row.target)
        except BaiJiaYunError as error:
            return f"{_UNKNOWN}; the check failed: {error}"

    def process(self, row: BulkRow, entry: Entry | None) -> None:
        """Send ``row`` until it is done, failed, or unknown (its entry says which)."""
        op = OPS[row.op]
        unknown = entry is not None and entry.state == "sending"
        # An unknown send without a hold was cut off with its process: it ended by now.
        hold = (entry.hold_until or self.clock() + self.hold) if unknown and entry else None
        attempts = refusals = not_sent = 0
        while True:
            if unknown:
                done = self._check(row, op)
                if isinstance(done, str):
                    self._finish(row, "sending", done, hold)
                    return
                if done:
                    self._finish(row, "done")
                    return
                left = (hold or 0.0) - self.clock()
                if op.once and left > 0:
                    self._finish(
                        row,
                        "sending",
                        f"{_UNKNOWN}: a {row.op} was sent and the playback is still there, but "
                        f"that send could still reach the service for {math.ceil(left)} s; it "
                        "is not sent again before then: run again after that",
                        hold,
                    )
                    return
                # ``once``: the earlier send can no longer arrive, and it did not: send it.
                if not op.once and attempts >= 2:
                    self._finish(row, "sending", f"{_UNKNOWN} after {attempts} attempts", hold)
                    return
            if self.stop.is_set():  # interrupted: what is recorded stands
                return
            self._mark(row, "sending")  # in flight: no hold until the call has ended
            attempts += 1
            self._count(sent=1)
            try:
                op.send(self.playback, row.target)
            except RateLimitError as error:
                # Refused by the account limit (another app ate the budget): not applied, so it
                # may go again once a period has passed.
                refusals += 1
                if refusals > MAX_REFUSALS:
                    self._finish(row, "failed", f"{error}; still refused after {refusals} tries")
                    return
                self._mark(row, "failed", f"refused by the account limit, not applied: {error}")
                self.pause.wait()
                continue
            except (APIError, InvalidArgumentError) as error:
                self._finish(row, "failed", str(error))  # refused, by the service or the SDK
                return
            except BaiJiaYunError as error:
                if not _not_sent(error):
                    # timeout, lost connection, 5xx, garbled answer: it may arrive until the hold
                    hold = self.clock() + self.hold
                    self._mark(row, "sending", f"{_UNKNOWN}: {error}", hold)
                    unknown = True
                    continue
                # Never left this machine: not applied, so it may go again (a delete too).
                attempts -= 1
                self._count(sent=-1)
                not_sent += 1
                reason = f"not sent: {error}; it goes again next run"
                self._mark(row, "failed", reason)
                if not_sent > MAX_NOT_SENT:
                    self._finish(row, "failed", reason)
                    return
                self.pause.sleep(NOT_SENT_WAIT)
                continue
            except BaseException:  # interrupted mid-call: it may arrive within a hold from now
                self._mark(row, "sending", f"{_UNKNOWN}: interrupted", self.clock() + self.hold)
                raise
            self._finish(row, "done")
            return


def run_bulk(
    playback: PlayBackLike,
    rows: Sequence[BulkRow],
    journal: str | os.PathLike[str],
    *,
    dry_run: bool = False,
    workers: int = 4,
    on_progress: Callable[[BulkProgress], None] | None = None,
    clock: Callable[[], float] = time.time,
    rate_limit_wait: float = 10.0,
    on_wait: Callable[[str, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BulkSummary:
    """Send each row not yet done (per the journal) through ``playback``; return a summary.

    The journal records the account (partner id and host of ``playback.client``) and refuses
    another one; a run that ends with every row done closes the journal's generation, so the
    next run starts afresh, while a run killed or ended with failures is resumed by the next.
    One real run at a time holds the journal; another raises :class:`BulkJournalError`
    ("journal in use by pid N"). A request that never left this machine (connection refused,
    pool timeout) was not applied: it is retried up to :data:`MAX_NOT_SENT` times, then left
    for the next run.

    A row whose answer was lost is read back. A ``delete`` still there is not sent again while
    the lost send could still arrive (its hold: 3 x the client's timeout + 1 s after the call
    ended, kept in the journal); a run after that reads it back again and sends it if it is
    still there. ``clock`` (epoch seconds, as the journal keeps them) times progress and holds.

    ``workers`` rows are in flight at once (the client's rate governor paces them).
    ``on_progress`` is called after each row. With ``dry_run`` nothing is sent and the journal is
    only read (not created): the summary says how many rows a real run would send. A row the
    service refuses with "too many requests" was not applied: it waits ``rate_limit_wait``
    seconds (one period of the account limit; ``on_wait("rate_limit", seconds)`` is told) and is
    sent again, up to :data:`MAX_REFUSALS` times. Interrupted (Ctrl-C), a run sends no new row,
    lets the rows in flight end, records them and re-raises.
    """
    if workers < 1:
        raise InvalidArgumentError("workers", f"must be >= 1, got {workers}")
    book = Journal(Path(journal), read_only=dry_run, account=_account_of(playback))
    try:
        entries = book.entries()
        summary = BulkSummary(total=len(rows), dry_run=dry_run)
        pause = _Pause(rate_limit_wait, sleep, on_wait)
        run = _Run(playback, book, summary, on_progress, clock, pause)
        seen: set[str] = set()
        todo: list[tuple[BulkRow, Entry | None]] = []
        for row in rows:
            key = row.key
            entry = entries.get(key)
            if key in seen or (entry is not None and entry.state == "done"):
                summary.skipped += 1
                run.report(worked=False)
                continue
            seen.add(key)
            todo.append((row, entry))
        if dry_run:
            summary.would_send = len(todo)
            return summary
        _run_all(run, todo, workers)
        summary.failed.sort(key=lambda f: f.line)
        if not summary.failed:
            book.close_generation()
        return summary
    finally:
        book.close()


def _run_all(run: _Run, todo: list[tuple[BulkRow, Entry | None]], workers: int) -> None:
    def one(item: tuple[BulkRow, Entry | None]) -> None:
        if run.stop.is_set():
            return
        run.process(*item)
        run.report(worked=True)

    if workers == 1 or len(todo) <= 1:
        for item in todo:
            one(item)
        return
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        for _ in pool.map(one, todo):
            pass
    except BaseException:
        run.stop.set()  # no new row; the rows in flight end within their deadline
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def bulk(
    playback: PlayBackLike,
    op: str,
    source: str | os.PathLike[str] | TextIO,
    *,
    journal: str | os.PathLike[str] | None = None,
    format: Format | None = None,
    dry_run: bool = False,
    workers: int = 4,
    on_progress: Callable[[BulkProgress], None] | None = None,
    clock: Callable[[], float] = time.time,
    rate_limit_wait: float = 10.0,
    on_wait: Callable[[str, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BulkSummary:
    """Validate every row of ``source`` for ``op``, then run them (see :func:`run_bulk`).

    The journal defaults to a file beside the input; it is required with stdin or an open file.
    """
    if journal is None:
        if not isinstance(source, str | os.PathLike) or str(source) == "-":
            raise InvalidArgumentError("journal", "required when the rows come from stdin")
        journal = default_journal(source)
    rows = load_rows(op, source, format=format)
    return run_bulk(
        playback,
        rows,
        journal,
        dry_run=dry_run,
        workers=workers,
        on_progress=on_progress,
        clock=clock,
        rate_limit_wait=rate_limit_wait,
        on_wait=on_wait,
        sleep=sleep,
    )
