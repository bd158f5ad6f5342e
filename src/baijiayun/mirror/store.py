"""Batched writes to the mirror: upsert a page of playbacks, mark deletions, apply callbacks, log changes."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, select, update
from sqlalchemy.exc import IntegrityError

from ..models import BEIJING, PlaybackItem
from . import schema as s

__all__ = [
    "FINAL_STATUSES",
    "Counts",
    "Key",
    "apply_callback",
    "item_row",
    "mark_deleted",
    "set_main_versions",
    "upsert",
]

Key = tuple[int, int, int]
Row = dict[str, Any]

FINAL_STATUSES = (30, 100)
"""getList statuses after which a playback's generation state no longer changes."""

_RANK = {0: 0, 10: 1, 20: 2, 30: 3, 100: 3}
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
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Set ``columns`` of the rows keyed by the last three values of each tuple."""
    if not rows:
        return
    if _postgres(conn):
        assigned = ", ".join(f"{c} = k.{c}" for c in columns)
        on = " AND ".join(f"{table.name}.{c} = k.{c}" for c in _KEY_FIELDS)
        conn.exec_driver_sql(
            f"UPDATE {table.name} SET {assigned} FROM {_unnest(table, (*columns, *_KEY_FIELDS))} "
            f"WHERE {on}",
            _columns(rows, len(columns) + 3),
        )
    else:
        assigned = ", ".join(f"{c} = ?" for c in columns)
        on = " AND ".join(f"{c} = ?" for c in _KEY_FIELDS)
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
    return {20: 20, 30: 30, 100: 100}.get(status, status)


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
