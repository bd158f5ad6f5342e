"""Batched writes to the mirror: upsert a page of playbacks, mark deletions, apply callbacks, log changes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, select, tuple_, update

from ..models import BEIJING, PlaybackItem
from . import schema as s

__all__ = [
    "FINAL_STATUSES",
    "Counts",
    "Key",
    "apply_callback",
    "item_row",
    "mark_deleted",
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
_NOT_EXTRA = frozenset({"room_id", "session_id", "version", "is_main", *s.LIST_FIELDS})


def china_time(value: dt.datetime | None) -> str | None:
    """A datetime as ``YYYY-MM-DD HH:MM:SS`` China time, the service's own spelling (sortable)."""
    if value is None:
        return None
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def item_row(item: PlaybackItem) -> Row:
    """A getList / getCropList item as a row of ``playbacks`` (unknown fields in ``extra``)."""
    row: Row = {f: getattr(item, f) for f in s.LIST_FIELDS}
    row["create_time"] = china_time(item.create_time)
    row.update(room_id=item.room_id, session_id=item.session_id, version=item.version)
    extra = {k: v for k, v in (item.model_extra or {}).items() if k not in _NOT_EXTRA}
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


def _existing(conn: Connection, keys: Sequence[Key]) -> dict[Key, Row]:
    p = s.playbacks
    found: dict[Key, Row] = {}
    # Chunks keep the bound parameters well under every driver's limit.
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        rows = conn.execute(
            select(p).where(tuple_(p.c.room_id, p.c.session_id, p.c.version).in_(chunk))
        ).all()
        for r in rows:
            found[_key(dict(r._mapping))] = dict(r._mapping)
    return found


def _change(key: Key, kind: str, at: float, run_id: int | None, source: str, **fields: Any) -> Row:
    return {
        "room_id": key[0],
        "session_id": key[1],
        "version": key[2],
        "kind": kind,
        "at": at,
        "run_id": run_id,
        "source": source,
        "field": fields.get("field"),
        "old": _text(fields.get("old")),
        "new": _text(fields.get("new")),
    }


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
    history: list[Row] = []
    for key, row in batch.items():
        old = held.get(key)
        if old is None:
            inserts.append(
                {
                    **row,
                    "partner_id": partner_id,
                    "first_seen": now,
                    "last_seen": now,
                    "seen_run": run_id,
                    "deleted_at": None,
                }
            )
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
            updates.append({**row, "k_room": key[0], "k_session": key[1], "k_version": key[2]})
        else:
            touched.append(key)
    counts.inserted = len(inserts)
    if inserts:
        conn.execute(p.insert(), inserts)
    if updates:
        values: dict[str, Any] = {f: bindparam(f) for f in (*s.LIST_FIELDS, "extra")}
        statement = (
            update(p)
            .where(
                and_(
                    p.c.room_id == bindparam("k_room"),
                    p.c.session_id == bindparam("k_session"),
                    p.c.version == bindparam("k_version"),
                )
            )
            .values(
                **values, partner_id=partner_id, last_seen=now, seen_run=run_id, deleted_at=None
            )
        )
        conn.execute(
            statement,
            [
                {k: v for k, v in u.items() if k not in ("room_id", "session_id", "version")}
                for u in updates
            ],
        )
    for start in range(0, len(touched), 500):
        chunk = touched[start : start + 500]
        conn.execute(
            update(p)
            .where(tuple_(p.c.room_id, p.c.session_id, p.c.version).in_(chunk))
            .values(last_seen=now, seen_run=run_id)
        )
    if history:
        conn.execute(s.changes.insert(), history)
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
            conn.execute(s.changes.insert(), [_change(key, "delete", now, run_id, source)])
    return done


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
    conn.execute(
        s.changes.insert(),
        [
            _change(key, "update", now, None, "callback", field=f, old=old[f], new=v)
            for f, v in new.items()
        ],
    )
    return True
