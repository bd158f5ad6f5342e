"""The mirror's SQL: runs, batched playback writes (upsert, deletions, callbacks), change log, lookups."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, select, update
from sqlalchemy.exc import IntegrityError

from ..models import BEIJING, PlaybackItem, PlaybackStatus, PlayRecord
from . import schema as s

__all__ = [
    "FINAL_STATUSES",
    "FULL",
    "INCREMENTAL",
    "REFRESH",
    "Counts",
    "Key",
    "MirrorStore",
    "apply_callback",
    "item_row",
    "mark_deleted",
    "record_row",
    "set_main_versions",
    "upsert",
    "upsert_records",
]

FULL = "full"
"""A run that walks every getList page, then confirms what it did not see."""
INCREMENTAL = "incremental"
"""A run that walks newest first until it overlaps what the mirror holds, then re-reads pending rows."""
REFRESH = "refresh"
"""A run of the write hook: one playback re-read after a write made through the SDK."""

Key = tuple[int, int, int]
Row = dict[str, Any]

FINAL_STATUSES = (PlaybackStatus.FAILED, PlaybackStatus.READY)
"""getList statuses after which a playback's generation state no longer changes."""

_RANK: dict[int, int] = {
    PlaybackStatus.NOT_RECORDED: 0,
    PlaybackStatus.RECORDING: 1,
    PlaybackStatus.TRANSCODING: 2,
    PlaybackStatus.FAILED: 3,
    PlaybackStatus.READY: 3,
}
"""Lifecycle order of (getList) statuses: a callback never moves a row to a lower rank."""

QUIET_FIELDS = frozenset({"play_times", "play_url"})
"""Fields that change all the time; kept current but not logged as changes."""

_KEY_FIELDS = ("room_id", "session_id", "version")
_ROW_FIELDS = (*s.LIST_FIELDS, "room_id", "session_id", "version")
_NOT_EXTRA = frozenset({"room_id", "session_id", "version", "is_main", *s.LIST_FIELDS})


def china_time(value: dt.datetime | None) -> str | None:
    """A datetime as ``YYYY-MM-DD HH:MM:SS`` China time, the service's own spelling (sortable)."""
    if value is None:
        return None
    if value.tzinfo is not BEIJING:  # the client already parses the service's times as China time
        value = value.astimezone(BEIJING)
    return value.isoformat(" ", "seconds")[:19]


def parse_china_time(value: str) -> dt.datetime:
    """A stored ``YYYY-MM-DD HH:MM:SS`` (China time) as an aware datetime."""
    return dt.datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)


def item_row(item: PlaybackItem) -> Row:
    """A getList / getCropList item as a row of ``playbacks`` (unknown fields in ``extra``)."""
    # Called for every row of a sweep: read the model's fields directly, skip empty extras.
    fields = item.__dict__
    row: Row = {f: fields[f] for f in _ROW_FIELDS}
    row["create_time"] = china_time(row["create_time"])
    extra = item.model_extra
    if extra:
        extra = {k: v for k, v in extra.items() if k not in _NOT_EXTRA}
    row["extra"] = extra or None
    return row


@dataclass
class Counts:
    """What a batch did to the table."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0

    def add(self, other: Counts) -> None:
        """Add another batch's counts to these."""
        self.inserted += other.inserted
        self.updated += other.updated
        self.deleted += other.deleted


def _key(row: Mapping[str, Any]) -> Key:
    return (int(row["room_id"]), int(row["session_id"]), int(row["version"]))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


_HELD = (*_KEY_FIELDS, *s.LIST_FIELDS, "extra", "deleted_at")
"""Columns of a held row that a batch compares against."""
_INSERTED = (
    *_KEY_FIELDS,
    "partner_id",
    *s.LIST_FIELDS,
    "extra",
    "first_seen",
    "last_seen",
    "seen_run",
)
_LOGGED = (
    *_KEY_FIELDS,
    "kind",
    "at",
    "run_id",
    "source",
    "field",
    "old",
    "new",
)
_LOOKUP_CHUNK = 300
"""Keys per SQLite lookup: 900 bound values, under every SQLite build's limit."""

# Batches go to the driver as plain tuples: building SQLAlchemy statements and processing their
# parameters row by row cost more than the database work itself. SQLite takes them through
# executemany (a loop in C); PostgreSQL as one array per column, unnest()ed in one statement
# (psycopg's executemany still pays Python work per row and per round trip).


def _postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


_PG_ARRAYS = {
    "BigInteger": "bigint[]",
    "Integer": "integer[]",
    "Float": "float8[]",
    "JSON": "json[]",
}
"""PostgreSQL array type by column type (strings: text[]; JSON travels as text, cast on the way)."""


def _unnest(table: Table, columns: Sequence[str]) -> str:
    types = [_PG_ARRAYS.get(type(table.c[c].type).__name__, "text[]") for c in columns]
    arrays = ", ".join(f"%s::{t}" for t in types)
    return f"unnest({arrays}) AS k({', '.join(columns)})"


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> tuple[list[Any], ...]:
    return tuple(list(c) for c in zip(*rows, strict=True)) if rows else ([],) * width


def _insert(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order); a duplicate key raises IntegrityError."""
    if not rows:
        return
    names = ", ".join(columns)
    if not _postgres(conn):
        marks = ", ".join("?" * len(columns))
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", list(rows))
        return
    if conn.dialect.driver != "psycopg":  # another PostgreSQL driver: one unnest() statement
        conn.exec_driver_sql(
            f"INSERT INTO {table.name} ({names}) SELECT * FROM {_unnest(table, columns)}",
            _columns(rows, len(columns)),
        )
        return
    import psycopg

    # COPY in the connection's own transaction: psycopg formats the rows in C.
    driver = conn.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    statement = f"COPY {table.name} ({names}) FROM STDIN"
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.IntegrityError as exc:
        raise IntegrityError(statement, None, exc) from exc


def _update(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    keys: Sequence[str] = _KEY_FIELDS,
) -> None:
    """Set ``columns`` of the rows keyed by the last ``len(keys)`` values of each tuple."""
    if not rows:
        return
    if _postgres(conn):
        assigned = ", ".join(f"{c} = k.{c}" for c in columns)
        on = " AND ".join(f"{table.name}.{c} = k.{c}" for c in keys)
        conn.exec_driver_sql(
            f"UPDATE {table.name} SET {assigned} FROM {_unnest(table, (*columns, *keys))} "
            f"WHERE {on}",
            _columns(rows, len(columns) + len(keys)),
        )
    else:
        assigned = ", ".join(f"{c} = ?" for c in columns)
        on = " AND ".join(f"{c} = ?" for c in keys)
        conn.exec_driver_sql(f"UPDATE {table.name} SET {assigned} WHERE {on}", list(rows))


def _json_in(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _json_out(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _existing(conn: Connection, keys: Sequence[Key]) -> dict[Key, Row]:
    """The held rows (any state, deleted too) of ``keys``, by key."""
    p = s.playbacks
    selected = ", ".join(f"p.{c}" for c in _HELD)
    on = " AND ".join(f"p.{c} = k.{c}" for c in _KEY_FIELDS)
    statements: list[tuple[str, tuple[Any, ...]]]
    if _postgres(conn):
        statements = [
            (
                f"SELECT {selected} FROM {_unnest(p, _KEY_FIELDS)} JOIN {p.name} p ON {on}",
                _columns(keys, 3),
            )
        ]
    else:
        statements = []
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start : start + _LOOKUP_CHUNK]
            values = ", ".join(["(?, ?, ?)"] * len(chunk))
            # A join on the key: a row-value IN would scan the whole table on SQLite.
            statements.append(
                (
                    f"WITH k({', '.join(_KEY_FIELDS)}) AS (VALUES {values}) "
                    f"SELECT {selected} FROM k JOIN {p.name} p ON {on}",
                    tuple(v for key in chunk for v in key),
                )
            )
    found: dict[Key, Row] = {}
    for statement, parameters in statements:
        for r in conn.exec_driver_sql(statement, parameters).all():
            row = dict(zip(_HELD, r, strict=True))
            row["extra"] = _json_out(row["extra"])
            found[(int(r[0]), int(r[1]), int(r[2]))] = row
    return found


Change = tuple[Any, ...]
"""One history row, in ``_LOGGED`` order."""


def _log(conn: Connection, history: Sequence[Change]) -> None:
    _insert(conn, s.changes, _LOGGED, history)


def _change(
    key: Key,
    kind: str,
    at: float,
    run_id: int | None,
    source: str,
    field: str | None = None,
    old: Any = None,
    new: Any = None,
) -> Change:
    return (*key, kind, at, run_id, source, field, _text(old), _text(new))


def upsert(
    conn: Connection,
    rows: Iterable[Row],
    *,
    partner_id: int,
    now: float,
    run_id: int | None,
    source: str = "sync",
) -> Counts:
    """Insert new playbacks, update changed ones, touch the rest: a few statements per batch."""
    batch = {_key(r): r for r in rows}
    if not batch:
        return Counts()
    p = s.playbacks
    held = _existing(conn, list(batch))
    counts = Counts()
    inserts: list[Row] = []
    updates: list[Row] = []
    touched: list[Key] = []
    history: list[Change] = []
    for key, row in batch.items():
        old = held.get(key)
        if old is None:
            inserts.append(row)
            history.append(_change(key, "insert", now, run_id, source))
            continue
        diff = {f: row[f] for f in (*s.LIST_FIELDS, "extra") if old[f] != row[f]}
        logged = [f for f in diff if f not in QUIET_FIELDS]
        if old["deleted_at"] is not None:
            history.append(_change(key, "restore", now, run_id, source))
        for field in logged:
            history.append(
                _change(
                    key, "update", now, run_id, source, field=field, old=old[field], new=row[field]
                )
            )
        if diff or old["deleted_at"] is not None:
            if logged or old["deleted_at"] is not None:
                counts.updated += 1
            updates.append(row)
        else:
            touched.append(key)
    counts.inserted = len(inserts)
    _insert(
        conn,
        p,
        _INSERTED,
        [
            (
                *_key(r),
                partner_id,
                *[r[f] for f in s.LIST_FIELDS],
                _json_in(r["extra"]),
                now,
                now,
                run_id,
            )
            for r in inserts
        ],
    )
    _update(
        conn,
        p,
        (*s.LIST_FIELDS, "extra", "partner_id", "last_seen", "seen_run", "deleted_at"),
        [
            (
                *[u[f] for f in s.LIST_FIELDS],
                _json_in(u["extra"]),
                partner_id,
                now,
                run_id,
                None,
                *_key(u),
            )
            for u in updates
        ],
    )
    _update(conn, p, ("last_seen", "seen_run"), [(now, run_id, *key) for key in touched])
    _log(conn, history)
    return counts


def mark_deleted(
    conn: Connection, keys: Sequence[Key], *, now: float, run_id: int | None, source: str = "sync"
) -> int:
    """Set ``deleted_at`` on held playbacks that the service confirmed gone; log each one."""
    p = s.playbacks
    done = 0
    for key in keys:
        result = conn.execute(
            update(p)
            .where(
                p.c.room_id == key[0],
                p.c.session_id == key[1],
                p.c.version == key[2],
                p.c.deleted_at.is_(None),
            )
            .values(deleted_at=now)
        )
        if result.rowcount:
            done += 1
            _log(conn, [_change(key, "delete", now, run_id, source)])
    return done


def set_main_versions(
    conn: Connection,
    mains: Mapping[Key, bool],
    *,
    now: float,
    run_id: int | None,
    source: str = "sync",
) -> int:
    """Record which versions are main (getCropList's ``is_main``; getList does not carry it).

    Only rows whose flag changed are written, each change logged; returns how many changed.
    """
    if not mains:
        return 0
    p = s.playbacks
    held: dict[Key, int | None] = {}
    for room_id, session_id in {key[:2] for key in mains}:
        for r in conn.execute(
            select(p.c.room_id, p.c.session_id, p.c.version, p.c.is_main).where(
                p.c.room_id == room_id, p.c.session_id == session_id
            )
        ):
            held[(int(r[0]), int(r[1]), int(r[2]))] = r[3]
    changed = 0
    for key, is_main in mains.items():
        old, new = held.get(key), int(is_main)
        if key not in held or old == new:
            continue
        conn.execute(
            update(p)
            .where(p.c.room_id == key[0], p.c.session_id == key[1], p.c.version == key[2])
            .values(is_main=new)
        )
        if old is not None:  # the first reading is not a change
            _log(conn, [_change(key, "update", now, run_id, source, "is_main", old, new)])
            changed += 1
    return changed


CALLBACK_FIELDS = ("video_id", "length", "total_size", "total_transcode_size", "preface_url")


def callback_status(status: int) -> int:
    """The getList status a transcode callback status stands for (callback 20 = uploaded)."""
    # Uploaded means transcoding has begun: the same point in the lifecycle as getList's 20.
    return int(
        {
            20: PlaybackStatus.TRANSCODING,
            30: PlaybackStatus.FAILED,
            100: PlaybackStatus.READY,
        }.get(status, status)
    )


def apply_callback(
    conn: Connection, fields: Mapping[str, Any], *, partner_id: int, now: float
) -> bool:
    """Apply a verified transcode callback to its row; True if anything changed.

    The row never moves back in the lifecycle, and fields a callback does not carry (name,
    publish status, …) are left to sweeps.
    """
    key: Key = (
        int(fields["room_id"]),
        int(fields.get("session_id") or 0),
        int(fields.get("version") or 0),
    )
    status = callback_status(int(fields["status"]))
    carried = {
        f: fields[f] if f == "preface_url" else int(fields[f])
        for f in CALLBACK_FIELDS
        if fields.get(f) not in (None, "")
    }
    old = _existing(conn, [key]).get(key)
    if old is None:
        row = {f: None for f in s.LIST_FIELDS} | {"extra": None, "status": status, **carried}
        row.update(room_id=key[0], session_id=key[1], version=key[2])
        upsert(conn, [row], partner_id=partner_id, now=now, run_id=None, source="callback")
        return True
    if _RANK.get(status, -1) < _RANK.get(old["status"], -1):
        return False
    if _RANK.get(status, -1) == _RANK.get(old["status"], -1) and status != old["status"]:
        return False  # 30 and 100 are both final: only a sweep may change one into the other
    new = {f: v for f, v in {"status": status, **carried}.items() if old[f] != v}
    if not new:
        return False
    p = s.playbacks
    conn.execute(
        update(p)
        .where(p.c.room_id == key[0], p.c.session_id == key[1], p.c.version == key[2])
        .values(**new, last_seen=now)
    )
    _log(
        conn,
        [
            _change(key, "update", now, None, "callback", field=f, old=old[f], new=v)
            for f, v in new.items()
        ],
    )
    return True


_RECORD_HELD = ("guid", *s.RECORD_FIELDS, "extra")
"""Columns of a held play record that a batch compares against (in this order)."""
_RECORD_INSERTED = (*_RECORD_HELD, "partner_id", "first_seen", "changed_at", "run_id")
_RECORD_UPDATED = (*s.RECORD_FIELDS, "extra", "changed_at", "run_id")


RecordValues = tuple[Any, ...]
"""A play record's values in ``_RECORD_HELD`` order (guid first, extra last)."""
_TIMES = frozenset({"play_begin_time", "play_end_time"})
_CLIENT_TYPE = s.RECORD_FIELDS.index("client_type")


def record_row(record: PlayRecord) -> RecordValues:
    """A play record as the values of a ``play_records`` row, in ``_RECORD_HELD`` order (times
    as China-time text, unknown fields in ``extra``). Called for every record a run reads."""
    fields = record.__dict__
    values: list[Any] = [
        china_time(fields[f]) if f in _TIMES else fields[f] for f in s.RECORD_FIELDS
    ]
    values[_CLIENT_TYPE] = int(values[_CLIENT_TYPE])  # a plain int, never the enum default
    return (record.guid, *values, record.model_extra or None)


def _held_records(conn: Connection, guids: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    """The held play records of ``guids``, as tuples in ``_RECORD_HELD`` order, by guid."""
    table = s.play_records.name
    selected = ", ".join(_RECORD_HELD)
    statements: list[tuple[str, Any]]
    if _postgres(conn):
        statements = [(f"SELECT {selected} FROM {table} WHERE guid = ANY(%s)", (list(guids),))]
    else:
        statements = []
        for start in range(0, len(guids), 3 * _LOOKUP_CHUNK):
            chunk = tuple(guids[start : start + 3 * _LOOKUP_CHUNK])
            marks = ", ".join("?" * len(chunk))
            statements.append((f"SELECT {selected} FROM {table} WHERE guid IN ({marks})", chunk))
    found: dict[str, tuple[Any, ...]] = {}
    for statement, parameters in statements:
        for r in conn.exec_driver_sql(statement, parameters).all():
            found[r[0]] = (*r[:-1], _json_out(r[-1]))
    return found


def upsert_records(
    conn: Connection,
    rows: Sequence[RecordValues],
    *,
    partner_id: int,
    now: float,
    run_id: int | None,
) -> Counts:
    """Insert new play records, update those that grew (or changed) since read: keyed by guid.

    ``rows`` are :func:`record_row` values."""
    batch = {r[0]: r for r in rows}
    if not batch:
        return Counts()
    held = _held_records(conn, list(batch))
    inserts = [v for g, v in batch.items() if g not in held]
    updates = [v for g, v in batch.items() if g in held and held[g] != v]
    _insert(
        conn,
        s.play_records,
        _RECORD_INSERTED,
        [(*v[:-1], _json_in(v[-1]), partner_id, now, now, run_id) for v in inserts],
    )
    _update(
        conn,
        s.play_records,
        _RECORD_UPDATED,
        [(*v[1:-1], _json_in(v[-1]), now, run_id, v[0]) for v in updates],
        keys=("guid",),
    )
    return Counts(inserted=len(inserts), updated=len(updates))


class MirrorStore:
    """One account's mirror in its database: every read and write a run makes, in SQL.

    The sync engine (:mod:`.sync`) decides what to read from the service; this says what the
    database holds and records what was read. Each method is one transaction.

    :param engine: 镜像数据库 (the mirror's engine, tables created)
    :param partner_id: 账号 id (the account whose rows these are)
    """

    def __init__(self, engine: Engine, partner_id: int, clock: Callable[[], float]) -> None:
        self.engine = engine
        self.partner_id = partner_id
        self._clock = clock

    # -- runs -----------------------------------------------------------------------------

    def open_run(self, mode: str) -> tuple[int, float]:
        """Record a run starting now; its id and start time.

        A sweep or incremental run holds the account's lock, so one still open was killed: it
        is marked ``interrupted``.
        """
        now = self._clock()
        r = s.sync_runs
        with self.engine.begin() as conn:
            if mode != REFRESH:
                conn.execute(
                    update(r)
                    .where(
                        r.c.partner_id == self.partner_id,
                        r.c.ended_at.is_(None),
                        r.c.mode != REFRESH,
                    )
                    .values(error="interrupted")
                )
            run_id = conn.execute(
                r.insert().values(partner_id=self.partner_id, mode=mode, started_at=now)
            ).inserted_primary_key
        assert run_id is not None
        return int(run_id[0]), now

    def close_run(self, run_id: int, values: Mapping[str, Any]) -> None:
        """Write a run's end: ``ended_at``, its counts and its error."""
        with self.engine.begin() as conn:
            conn.execute(update(s.sync_runs).where(s.sync_runs.c.id == run_id).values(**values))

    def last_complete(self, mode: str) -> float | None:
        """When the last run of ``mode`` that ended without error started (None: never)."""
        r = s.sync_runs
        with self.engine.connect() as conn:
            found = conn.execute(
                select(func.max(r.c.started_at)).where(
                    r.c.partner_id == self.partner_id,
                    r.c.mode == mode,
                    r.c.ended_at.is_not(None),
                    r.c.error.is_(None),
                )
            ).scalar()
        return None if found is None else float(found)

    # -- playbacks: what is held ------------------------------------------------------------

    def _alive(self) -> Any:
        p = s.playbacks
        return (p.c.partner_id == self.partner_id) & p.c.deleted_at.is_(None)

    def _keys(self, *where: Any) -> list[Key]:
        p = s.playbacks
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(p.c.room_id, p.c.session_id, p.c.version).where(self._alive(), *where)
            ).all()
        return [(int(r[0]), int(r[1]), int(r[2])) for r in rows]

    def held(self, room_id: int, session_id: int | None = None) -> list[Key]:
        """The live versions held of a room (of one session, if given)."""
        p = s.playbacks
        where = [p.c.room_id == room_id]
        if session_id is not None:
            where.append(p.c.session_id == session_id)
        return self._keys(*where)

    def unseen(self, run_id: int) -> list[Key]:
        """Live versions the run ``run_id`` has not seen: its deletion candidates."""
        p = s.playbacks
        return self._keys(p.c.seen_run.is_(None) | (p.c.seen_run != run_id))

    def pending(self, since: dt.datetime) -> list[Key]:
        """Live versions generated since ``since`` whose status is not final yet."""
        p = s.playbacks
        return self._keys(
            p.c.status.not_in([int(x) for x in FINAL_STATUSES]),
            p.c.create_time >= china_time(since),
        )

    def newest_create_time(self) -> dt.datetime | None:
        """The generation time of the newest live version held (China time)."""
        p = s.playbacks
        with self.engine.connect() as conn:
            found = conn.execute(select(func.max(p.c.create_time)).where(self._alive())).scalar()
        return None if found is None else parse_china_time(found)

    # -- playbacks: what was read -----------------------------------------------------------

    def write_page(self, rows: Sequence[Row], run_id: int) -> Counts:
        """Upsert one page of getList rows in one transaction."""
        for attempt in (1, 2):
            try:
                with self.engine.begin() as conn:
                    return upsert(
                        conn, rows, partner_id=self.partner_id, now=self._clock(), run_id=run_id
                    )
            except IntegrityError:
                # A callback inserted one of these rows between our read and our insert: the
                # page is written again, seeing that row this time.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def apply_versions(
        self,
        present: Sequence[Row],
        mains: Mapping[Key, bool],
        gone: Sequence[Key],
        run_id: int,
    ) -> Counts:
        """Apply one getCropList reading in one transaction: upsert the versions it listed,
        record which is main, mark ``gone`` (held, proven absent) deleted."""
        now = self._clock()
        with self.engine.begin() as conn:
            counts = upsert(conn, present, partner_id=self.partner_id, now=now, run_id=run_id)
            counts.deleted += mark_deleted(conn, gone, now=now, run_id=run_id)
            if set_main_versions(conn, mains, now=now, run_id=run_id):
                counts.updated += 1
        return counts

    # -- play records ------------------------------------------------------------------------

    def view_days(self) -> dict[dt.date, tuple[bool, float]]:
        """The Beijing days whose play records were read in full: whether each is final, and
        when its last read began."""
        d = s.view_days
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(d.c.day, d.c.final, d.c.read_at).where(d.c.partner_id == self.partner_id)
            ).all()
        return {dt.date.fromisoformat(day): (bool(final), float(at)) for day, final, at in rows}

    def growing_since(self, day: dt.date, reported_after: str) -> str | None:
        """When the earliest held play of ``day`` that was reported after ``reported_after``
        (China time) began: the plays that may still grow."""
        r = s.play_records.c
        with self.engine.connect() as conn:
            found = conn.execute(
                select(func.min(r.play_begin_time)).where(
                    r.partner_id == self.partner_id,
                    r.play_begin_time >= f"{day} 00:00:00",
                    r.play_begin_time <= f"{day} 23:59:59",
                    r.play_end_time >= reported_after,
                )
            ).scalar()
        return None if found is None else str(found)

    def _record_day(
        self, conn: Connection, day: dt.date, final: bool, read_at: float, run_id: int | None
    ) -> None:
        """Record ``day`` read (and how many plays of it are held), final or not."""
        d, r = s.view_days, s.play_records.c
        held = conn.execute(
            select(func.count()).where(
                r.partner_id == self.partner_id,
                r.play_begin_time >= f"{day} 00:00:00",
                r.play_begin_time <= f"{day} 23:59:59",
            )
        ).scalar_one()
        conn.execute(d.delete().where(d.c.partner_id == self.partner_id, d.c.day == str(day)))
        conn.execute(
            d.insert().values(
                partner_id=self.partner_id,
                day=str(day),
                records=int(held),
                final=int(final),
                read_at=read_at,
                run_id=run_id,
            )
        )

    def finish_day(self, day: dt.date, run_id: int) -> None:
        """Record a day final without reading it: nothing of it was left to read."""
        d = s.view_days
        with self.engine.begin() as conn:
            conn.execute(
                update(d)
                .where(d.c.partner_id == self.partner_id, d.c.day == str(day))
                .values(final=1, run_id=run_id)
            )

    def write_records(
        self,
        rows: Sequence[RecordValues],
        run_id: int,
        day: tuple[dt.date, bool, float] | None = None,
    ) -> Counts:
        """Upsert one page of play records in one transaction; with ``day`` (the day, final or
        not, when its read began) the page was its day's last, and the day is recorded read in
        the same transaction (so a killed run never records a day it did not finish)."""
        now = self._clock()
        with self.engine.begin() as conn:
            counts = upsert_records(conn, rows, partner_id=self.partner_id, now=now, run_id=run_id)
            if day is not None:
                self._record_day(conn, day[0], day[1], day[2], run_id)
        return counts
