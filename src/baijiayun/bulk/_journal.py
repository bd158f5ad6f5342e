"""The bulk journal: each row's outcome in SQLite, by generation and content key, one run at a time."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import BaiJiaYunError
from ._rows import BulkRow

__all__ = ["BulkJournalError", "Entry", "Journal", "State", "default_journal", "lock_path"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS entries (
    generation INTEGER NOT NULL,
    key TEXT NOT NULL,
    op TEXT NOT NULL,
    arguments TEXT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT,
    updated_at REAL NOT NULL,
    hold_until REAL,
    PRIMARY KEY (generation, key)
)""",
)

State = Literal["sending", "done", "failed"]


@dataclass(frozen=True)
class Entry:
    """A row's record: ``sending`` means sent with the outcome unknown.

    ``hold_until`` (epoch seconds) is the latest moment that send could still reach the service;
    None while the send is in flight (or its process died in it).
    """

    state: str
    detail: str | None = None
    hold_until: float | None = None


class BulkJournalError(BaiJiaYunError):
    """The journal cannot be used for this run (another account, or another run holds it)."""

    def __init__(self, journal: Path, message: str) -> None:
        self.journal = journal
        super().__init__(message)


def lock_path(journal: Path) -> Path:
    """The file whose exclusive SQLite lock a real run holds: ``<journal>.lock``."""
    return journal.with_name(journal.name + ".lock")


def default_journal(source: str | os.PathLike[str]) -> Path:
    """The journal beside an input file: ``renames.csv`` → ``renames.csv.journal.sqlite3``."""
    path = Path(source)
    return path.with_name(path.name + ".journal.sqlite3")


class Journal:
    """Each row's :class:`Entry` by generation and content key.

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
                for statement in _SCHEMA:
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
        assert self._conn is not None
        # Journals of the first layout: one table ``rows`` keyed by content; it is generation 1.
        old = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rows'"
        ).fetchone()
        if old is not None:
            self._conn.execute(
                "INSERT OR IGNORE INTO entries (generation, key, op, arguments, state, detail, "
                "updated_at) SELECT 1, key, op, arguments, state, detail, updated_at FROM rows"
            )
            self._conn.execute("DROP TABLE rows")
        # Journals from before holds were kept: their unknown sends get one when next seen.
        if "hold_until" not in self._columns():
            self._conn.execute("ALTER TABLE entries ADD COLUMN hold_until REAL")

    def _columns(self) -> set[str]:
        assert self._conn is not None
        return {str(row[1]) for row in self._conn.execute("PRAGMA table_info(entries)")}

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

    def entries(self) -> dict[str, Entry]:
        """Each row's entry in this generation; a delete done by any generation stays done."""
        if self._conn is None:
            return {}
        with self._lock:
            try:
                hold = "hold_until" if "hold_until" in self._columns() else "NULL"
                found = self._conn.execute(
                    f"SELECT key, state, detail, {hold} FROM entries WHERE generation = ? "
                    "OR (op = 'delete' AND state = 'done') ORDER BY generation",
                    (self.generation,),
                ).fetchall()
            except sqlite3.OperationalError:
                return {}
        entries: dict[str, Entry] = {}
        for key, state, detail, hold_until in found:
            if key not in entries or entries[key].state != "done":  # a done delete stays done
                entries[key] = Entry(state, detail, hold_until)
        return entries

    def mark(
        self,
        row: BulkRow,
        state: State,
        detail: str | None = None,
        *,
        now: float,
        hold_until: float | None = None,
    ) -> None:
        """Record ``row``'s state (and, for an unknown outcome, until when it could arrive)."""
        assert self._conn is not None
        with self._lock:
            self._conn.execute(
                "INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(generation, key) DO UPDATE SET state = excluded.state, "
                "detail = excluded.detail, updated_at = excluded.updated_at, "
                "hold_until = excluded.hold_until",
                (
                    self.generation,
                    row.key,
                    row.op,
                    json.dumps(dict(row.arguments), ensure_ascii=False),
                    state,
                    detail,
                    now,
                    hold_until,
                ),
            )

    def close(self) -> None:
        """Give the journal up (and its lock, for a real run)."""
        if self._conn is not None:
            if self._holder is not None:
                with contextlib.suppress(sqlite3.Error):  # a broken file is reported, not this
                    self._conn.execute("DELETE FROM meta WHERE name = 'pid'")
            self._conn.close()
            self._conn = None
        if self._holder is not None:
            self._holder.close()  # ends the exclusive transaction: the lock is free
            self._holder = None
