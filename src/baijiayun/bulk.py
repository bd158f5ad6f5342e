"""Bulk writes from a file: every row validated first, then each sent once under a SQLite journal.

``load_rows(op, source)`` reads CSV (with a header) or JSON lines for one of :data:`OPS`
(``publish``, ``block``, ``rename``, ``set-main``, ``delete``) and raises :class:`BulkInputError`
listing every bad row with its line number. ``run_bulk(playback, rows, journal)`` then sends the
rows through a ``PlayBack`` (only its seed methods), recording each row's outcome in the journal,
keyed by the row's content (op and arguments) within a generation. A run killed anywhere (or ended
with failures) and started again — even on an edited file — sends only what is not done; a run that
ended with every row done closes the generation, so the next run sends its rows afresh. A row whose
outcome is unknown (sent, then a timeout or a lost connection) is checked with a read before
anything is re-sent, and a ``delete`` is never sent twice. The journal belongs to one account and
one run at a time. ``bulk(playback, op, source)`` does both, with the journal beside the input.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO

from ._endpoints import DELETE, SET_MAIN_VERSION, SET_PUBLISH_STATUS, UPDATE, Endpoint
from .errors import (
    APIConnectionError,
    APIError,
    BaiJiaYunError,
    InvalidArgumentError,
    RateLimitError,
    RoomDeletedError,
    RoomNotFoundError,
    SharedStateError,
)

__all__ = [
    "OPS",
    "BulkFailure",
    "BulkInputError",
    "BulkJournalError",
    "BulkProgress",
    "BulkRow",
    "BulkSummary",
    "RowProblem",
    "bulk",
    "load_rows",
    "run_bulk",
]

Format = Literal["csv", "jsonl"]


@dataclass(frozen=True)
class _Op:
    endpoint: Endpoint
    columns: tuple[str, ...]
    fixed: Mapping[str, int] = field(default_factory=dict)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if self.endpoint.by_name[c].required)


OPS: Mapping[str, _Op] = {
    "publish": _Op(SET_PUBLISH_STATUS, ("room_id", "session_id"), {"status": 1}),
    "block": _Op(SET_PUBLISH_STATUS, ("room_id", "session_id"), {"status": 2}),
    "rename": _Op(UPDATE, ("room_id", "session_id", "name")),
    "set-main": _Op(SET_MAIN_VERSION, ("room_id", "session_id", "version")),
    "delete": _Op(DELETE, ("room_id", "session_id", "version")),
}
"""The bulk operations, each one endpoint; columns beyond those listed are ignored."""


class PlayBackLike(Protocol):
    """The seed methods of ``PlayBack`` the runner uses."""

    def set_publish_status(self, room_id: int, status: int, session_id: int | None = None) -> Any:
        """Publish (1) or block (2)."""

    def update(self, room_id: int, name: str, session_id: int | None = None) -> Any:
        """Rename."""

    def set_main_version(self, room_id: int, version: int, session_id: int | None = None) -> Any:
        """Set the main version."""

    def delete(
        self, room_id: int, session_id: int | None = None, version: int | None = None
    ) -> Any:
        """Delete a playback or one version."""

    def get_basic_info(self, room_id: int, session_id: int | None = None) -> Any:
        """A playback's state."""

    def get_crop_list(
        self,
        room_id: int,
        product_type: int | None = None,
        session_id: int | None = None,
        page: int = 1,
        page_size: int = 100,
    ) -> Any:
        """The versions of a playback."""


# --- rows -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowProblem:
    """Why one input row cannot be sent."""

    line: int
    message: str

    def __str__(self) -> str:
        return self.message if self.line == 0 else f"line {self.line}: {self.message}"


class BulkInputError(BaiJiaYunError, ValueError):
    """The input has bad rows (all listed in ``problems``); nothing was sent."""

    def __init__(self, problems: Sequence[RowProblem]) -> None:
        self.problems = list(problems)
        shown = "\n".join(str(p) for p in self.problems[:20])
        more = len(self.problems) - 20
        super().__init__(
            f"{len(self.problems)} bad row(s), nothing sent:\n{shown}"
            + (f"\n… and {more} more" if more > 0 else "")
        )


@dataclass(frozen=True)
class BulkRow:
    """One validated row: its line in the input, the op, and the arguments to send."""

    line: int
    op: str
    arguments: Mapping[str, int | str]

    @property
    def key(self) -> str:
        """The row's identity in the journal: a digest of the op and its arguments."""
        content = json.dumps([self.op, sorted(self.arguments.items())], ensure_ascii=False)
        return hashlib.sha256(content.encode()).hexdigest()

    def describe(self) -> str:
        """``rename room_id=1 name=…`` for messages."""
        args = " ".join(f"{k}={v}" for k, v in self.arguments.items())
        return f"{self.op} {args}"


def _op(op: str) -> _Op:
    try:
        return OPS[op]
    except KeyError:
        raise InvalidArgumentError("op", f"one of {', '.join(OPS)}, got {op!r}") from None


def _check_row(op: str, line: int, raw: Mapping[str, object]) -> BulkRow | list[RowProblem]:
    spec = _op(op)
    problems: list[RowProblem] = []
    arguments: dict[str, int | str] = {}
    for column in spec.columns:
        value = raw.get(column)
        if value is None or (isinstance(value, str) and value.strip() == ""):
            if column in spec.required:
                problems.append(RowProblem(line, f"{column} is required for {op}"))
            continue
        param = spec.endpoint.by_name[column]
        if isinstance(value, bool) or not isinstance(value, int | str):
            problems.append(RowProblem(line, f"{column} must be {param.describe_rule()}"))
            continue
        text = value if isinstance(value, str) else str(value)
        if param.kind == "int":
            text = text.strip()
        try:
            arguments[column] = param.check_wire(text)
        except ValueError as exc:
            problems.append(RowProblem(line, f"{column} must be {exc}, got {text!r}"))
    return problems or BulkRow(line, op, arguments)


def _sniff(text: str) -> Format:
    first = text.lstrip()[:1]
    return "jsonl" if first == "{" else "csv"


def _records(
    text: str, fmt: Format, op: str = ""
) -> Iterator[tuple[int, Mapping[str, object] | str]]:
    if fmt == "jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, f"not valid JSON: {exc.msg}"
                continue
            yield number, value if isinstance(value, dict) else "not a JSON object"
        return
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        return
    reader.fieldnames = [name.strip().lower() for name in reader.fieldnames]
    missing = [c for c in (_op(op).required if op else ()) if c not in reader.fieldnames]
    if missing:  # one message about the header, not "required" on every row
        columns = ", ".join(missing)
        found = ", ".join(name for name in reader.fieldnames if name) or "nothing"
        yield (
            reader.line_num,
            f"the header has no {columns} column, which {op} needs (it has {found})",
        )
        return
    for record in reader:
        if not any((v or "").strip() for v in record.values() if isinstance(v, str)):
            continue
        yield reader.line_num, record


def load_rows(
    op: str, source: str | os.PathLike[str] | TextIO, *, format: Format | None = None
) -> list[BulkRow]:
    """Read and validate every row of ``source`` (a path, ``"-"`` for stdin, or an open file).

    ``format`` is ``"csv"`` (a header row: room_id, session_id, version, name as the op needs) or
    ``"jsonl"`` (one JSON object a line); by default the file suffix decides, else the content.
    Raises :class:`BulkInputError` with every bad row if any row is bad.
    """
    _op(op)
    if isinstance(source, str | os.PathLike):
        if str(source) == "-":
            text = sys.stdin.read().removeprefix("\ufeff")
        else:
            path = Path(source)
            try:
                text = path.read_text(encoding="utf-8-sig")
            except UnicodeDecodeError as exc:
                raise BulkInputError(
                    [
                        RowProblem(
                            0, f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
                        )
                    ]
                ) from None
            if format is None and path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
                format = "jsonl"
            elif format is None and path.suffix.lower() == ".csv":
                format = "csv"
    else:
        text = source.read().removeprefix("\ufeff")  # a BOM, as Excel writes UTF-8 CSV
    rows: list[BulkRow] = []
    problems: list[RowProblem] = []
    for line, record in _records(text, format or _sniff(text), op):
        checked = (
            [RowProblem(line, record)] if isinstance(record, str) else _check_row(op, line, record)
        )
        if isinstance(checked, BulkRow):
            rows.append(checked)
        else:
            problems.extend(checked)
    if problems:
        raise BulkInputError(problems)
    return rows


# --- the journal ------------------------------------------------------------------------------

_JOURNAL_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS entries (
    generation INTEGER NOT NULL,
    key TEXT NOT NULL,
    op TEXT NOT NULL,
    arguments TEXT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (generation, key)
)""",
)

State = Literal["sending", "done", "failed"]


class BulkJournalError(BaiJiaYunError):
    """The journal cannot be used for this run (another account, or another run holds it)."""

    def __init__(self, journal: Path, message: str) -> None:
        self.journal = journal
        super().__init__(message)


def _account_of(playback: object) -> tuple[str, str] | None:
    """(partner_id, base_url) of the client behind ``playback``, when it has one."""
    client = getattr(playback, "client", None)
    partner_id = getattr(client, "partner_id", None)
    base_url = getattr(client, "base_url", None)
    if partner_id is None or not isinstance(base_url, str):
        return None
    return str(partner_id), base_url


def lock_path(journal: Path) -> Path:
    """The file whose exclusive SQLite lock a real run holds: ``<journal>.lock``."""
    return journal.with_name(journal.name + ".lock")


class _Journal:
    """Each row's outcome by generation and content key; ``sending`` means sent, outcome unknown.

    A generation is the rows of runs that belong together: a run that ends with every row done
    closes it, and the next run starts a new one (so a finished job is never confused with a new
    intention); a run killed or ended with failures leaves it open, and the next run resumes it.
    The journal belongs to one account (partner id and host), and one real run at a time holds
    it, through an exclusive lock on a file beside it (released by the OS if the process dies).
    """

    def __init__(self, path: Path, *, read_only: bool, account: tuple[str, str] | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._holder: sqlite3.Connection | None = None
        self.generation = 1
        try:
            if read_only:
                if path.exists():
                    uri = path.resolve().as_uri() + "?mode=ro"
                    self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
                    self._check_account(account, write=False)
                    self.generation = self._generation(advance=False)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._hold()
                self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
                self._conn.execute("PRAGMA journal_mode=WAL")
                for statement in _JOURNAL_SCHEMA:
                    self._conn.execute(statement)
                self._migrate()
                self._check_account(account, write=True)
                self.generation = self._generation(advance=True)
                self._set("pid", str(os.getpid()))
        except sqlite3.DatabaseError as exc:
            self.close()
            raise BulkJournalError(path, f"{path} is not a usable journal: {exc}") from None
        except BaseException:
            self.close()
            raise

    def _hold(self) -> None:
        holder = sqlite3.connect(lock_path(self.path), isolation_level=None, timeout=0)
        try:
            holder.execute("BEGIN EXCLUSIVE")
        except sqlite3.OperationalError:
            holder.close()
            pid = self._peek("pid")
            who = f"pid {pid}" if pid else "another run"
            raise BulkJournalError(
                self.path, f"journal in use by {who}: {self.path} (one run at a time)"
            ) from None
        self._holder = holder

    def _peek(self, name: str) -> str | None:
        """A meta value read without waiting (the holder of the journal may be writing)."""
        try:
            uri = self.path.resolve().as_uri() + "?mode=ro"
            conn = sqlite3.connect(uri, uri=True, timeout=1)
            try:
                found = conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
            finally:
                conn.close()
        except sqlite3.Error:
            return None
        return None if found is None else str(found[0])

    def _get(self, name: str) -> str | None:
        assert self._conn is not None
        try:
            found = self._conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        except sqlite3.OperationalError:  # a journal written before the meta table existed
            return None
        return None if found is None else str(found[0])

    def _set(self, name: str, value: str) -> None:
        assert self._conn is not None
        self._conn.execute(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def _migrate(self) -> None:
        # Journals of the first layout: one table ``rows`` keyed by content; it is generation 1.
        assert self._conn is not None
        old = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rows'"
        ).fetchone()
        if old is not None:
            self._conn.execute(
                "INSERT OR IGNORE INTO entries SELECT 1, key, op, arguments, state, detail, "
                "updated_at FROM rows"
            )
            self._conn.execute("DROP TABLE rows")

    def _check_account(self, account: tuple[str, str] | None, *, write: bool) -> None:
        if account is None:
            return
        stored = (self._get("partner_id"), self._get("base_url"))
        if stored == (None, None):
            if write:
                self._set("partner_id", account[0])
                self._set("base_url", account[1])
            return
        if stored != account:
            raise BulkJournalError(
                self.path,
                f"journal {self.path} belongs to partner {stored[0]} at {stored[1]}, not to "
                f"partner {account[0]} at {account[1]}; give each account a journal of its own",
            )

    def _generation(self, *, advance: bool) -> int:
        generation = int(self._get("generation") or 1)
        if self._get("closed") == "1":
            generation += 1
            if advance:
                self._set("generation", str(generation))
                self._set("closed", "0")
        return generation

    def close_generation(self) -> None:
        """Every row of this generation is done: the next run starts a new one."""
        with self._lock:
            self._set("closed", "1")

    def states(self) -> dict[str, tuple[str, str | None]]:
        """Each row's state in this generation; a delete done by any generation stays done."""
        if self._conn is None:
            return {}
        with self._lock:
            try:
                found = self._conn.execute(
                    "SELECT key, state, detail FROM entries WHERE generation = ? "
                    "OR (op = 'delete' AND state = 'done') ORDER BY generation",
                    (self.generation,),
                ).fetchall()
            except sqlite3.OperationalError:
                return {}
        states: dict[str, tuple[str, str | None]] = {}
        for key, state, detail in found:
            if states.get(key, ("",))[0] != "done":  # an earlier done delete is never undone
                states[key] = (state, detail)
        return states

    def mark(self, row: BulkRow, state: State, detail: str | None = None) -> None:
        assert self._conn is not None
        with self._lock:
            self._conn.execute(
                "INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(generation, key) "
                "DO UPDATE SET state = excluded.state, detail = excluded.detail, "
                "updated_at = excluded.updated_at",
                (
                    self.generation,
                    row.key,
                    row.op,
                    json.dumps(dict(row.arguments), ensure_ascii=False),
                    state,
                    detail,
                    time.time(),
                ),
            )

    def close(self) -> None:
        if self._conn is not None:
            if self._holder is not None:
                with contextlib.suppress(sqlite3.Error):  # a broken file is reported, not this
                    self._conn.execute("DELETE FROM meta WHERE name = 'pid'")
            self._conn.close()
            self._conn = None
        if self._holder is not None:
            self._holder.close()  # ends the exclusive transaction: the lock is free
            self._holder = None


# --- running ----------------------------------------------------------------------------------


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


def _send(playback: PlayBackLike, row: BulkRow) -> None:
    a = row.arguments
    session = a.get("session_id")
    session_id = int(session) if session is not None else None
    if row.op in ("publish", "block"):
        playback.set_publish_status(int(a["room_id"]), OPS[row.op].fixed["status"], session_id)
    elif row.op == "rename":
        playback.update(int(a["room_id"]), str(a["name"]), session_id)
    elif row.op == "set-main":
        playback.set_main_version(int(a["room_id"]), int(a["version"]), session_id)
    else:
        version = a.get("version")
        playback.delete(
            int(a["room_id"]), session_id, int(version) if version is not None else None
        )


def _gone(error: BaiJiaYunError) -> bool:
    # "no such playback / version" (code 1, not the rate-limit message), or the room is gone
    if isinstance(error, RoomNotFoundError | RoomDeletedError):
        return True
    return isinstance(error, APIError) and not isinstance(error, RateLimitError) and error.code == 1


def _versions(playback: PlayBackLike, row: BulkRow) -> list[Any]:
    a = row.arguments
    session = a.get("session_id")
    page = playback.get_crop_list(
        int(a["room_id"]), session_id=int(session) if session is not None else None, page_size=1000
    )
    return list(page.items)


def _is_done(playback: PlayBackLike, row: BulkRow) -> bool:
    """Read the service to see whether ``row`` took effect (for an unknown outcome)."""
    a = row.arguments
    session = a.get("session_id")
    session_id = int(session) if session is not None else None
    if row.op in ("publish", "block"):
        info = playback.get_basic_info(int(a["room_id"]), session_id)
        return bool(info.publish_status == OPS[row.op].fixed["status"])
    if row.op == "rename":
        return bool(playback.get_basic_info(int(a["room_id"]), session_id).name == a["name"])
    if row.op == "set-main":
        return any(v.version == a["version"] and v.is_main for v in _versions(playback, row))
    try:
        if "version" in a:
            return all(v.version != a["version"] for v in _versions(playback, row))
        playback.get_basic_info(int(a["room_id"]), session_id)
    except BaiJiaYunError as error:
        if _gone(error):
            return True
        raise
    return False


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
    def __init__(
        self,
        playback: PlayBackLike,
        journal: _Journal,
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
        self.started = clock()
        self.finished = 0
        self.worked = 0
        self.lock = threading.Lock()

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

    def _finish(self, row: BulkRow, state: State, detail: str | None = None) -> None:
        self.journal.mark(row, state, detail)
        with self.lock:
            if state == "done":
                self.summary.done += 1
            else:
                self.summary.failed.append(BulkFailure(row.line, row.describe(), detail or ""))

    def _check(self, row: BulkRow) -> bool | str:
        """True if done, False if not, or the reason the check failed."""
        self._count(checked=1)
        try:
            return _is_done(self.playback, row)
        except BaiJiaYunError as error:
            return f"{_UNKNOWN}; the check failed: {error}"

    def process(self, row: BulkRow, unknown: bool) -> None:
        attempts = refusals = not_sent = 0
        while True:
            if unknown:
                done = self._check(row)
                if isinstance(done, str):
                    self._finish(row, "sending", done)
                    return
                if done:
                    self._finish(row, "done")
                    return
                if row.op == "delete":
                    self._finish(
                        row,
                        "sending",
                        f"{_UNKNOWN}: a delete was sent and the playback is still there; "
                        "a delete is never sent twice, so check it by hand",
                    )
                    return
                if attempts >= 2:
                    self._finish(row, "sending", f"{_UNKNOWN} after {attempts} attempts")
                    return
            self.journal.mark(row, "sending")
            attempts += 1
            self._count(sent=1)
            try:
                _send(self.playback, row)
            except RateLimitError as error:
                # Refused by the account limit (another app ate the budget): not applied, so it
                # may go again once a period has passed.
                refusals += 1
                if refusals > MAX_REFUSALS:
                    self._finish(row, "failed", f"{error}; still refused after {refusals} tries")
                    return
                self.pause.wait()
                continue
            except (APIError, InvalidArgumentError) as error:
                self._finish(row, "failed", str(error))  # refused, by the service or the SDK
                return
            except BaiJiaYunError as error:
                if not _not_sent(error):
                    unknown = True  # timeout, lost connection, 5xx, garbled answer
                    continue
                # Never left this machine: not applied, so it may go again (a delete too).
                attempts -= 1
                self._count(sent=-1)
                not_sent += 1
                if not_sent > MAX_NOT_SENT:
                    self._finish(row, "failed", f"not sent: {error}; it goes again next run")
                    return
                self.pause.sleep(NOT_SENT_WAIT)
                continue
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
    clock: Callable[[], float] = time.monotonic,
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

    ``workers`` rows are in flight at once (the client's rate governor paces them).
    ``on_progress`` is called after each row. With ``dry_run`` nothing is sent and the journal is
    only read (not created): the summary says how many rows a real run would send. A row the
    service refuses with "too many requests" was not applied: it waits ``rate_limit_wait``
    seconds (one period of the account limit; ``on_wait("rate_limit", seconds)`` is told) and is
    sent again, up to :data:`MAX_REFUSALS` times.
    """
    if workers < 1:
        raise InvalidArgumentError("workers", f"must be >= 1, got {workers}")
    book = _Journal(Path(journal), read_only=dry_run, account=_account_of(playback))
    try:
        states = book.states()
        summary = BulkSummary(total=len(rows), dry_run=dry_run)
        pause = _Pause(rate_limit_wait, sleep, on_wait)
        run = _Run(playback, book, summary, on_progress, clock, pause)
        seen: dict[str, int] = {}
        todo: list[tuple[BulkRow, bool]] = []
        for row in rows:
            key = row.key
            state = states.get(key, (None, None))[0]
            if key in seen or state == "done":
                summary.skipped += 1
                run.report(worked=False)
                continue
            seen[key] = row.line
            todo.append((row, state == "sending"))
        if dry_run:
            summary.would_send = len(todo)
            return summary
        if workers == 1 or len(todo) <= 1:
            for row, unknown in todo:
                run.process(row, unknown)
                run.report(worked=True)
        else:

            def one(item: tuple[BulkRow, bool]) -> None:
                run.process(*item)
                run.report(worked=True)

            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(one, todo))
        summary.failed.sort(key=lambda f: f.line)
        if not summary.failed:
            book.close_generation()
        return summary
    finally:
        book.close()


def default_journal(source: str | os.PathLike[str]) -> Path:
    """The journal beside an input file: ``renames.csv`` → ``renames.csv.journal.sqlite3``."""
    path = Path(source)
    return path.with_name(path.name + ".journal.sqlite3")


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
        rate_limit_wait=rate_limit_wait,
        on_wait=on_wait,
        sleep=sleep,
    )
