"""The console's reads: accounts, one page of the playback catalog, one playback in full, deliveries."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select, tuple_

from .. import schema as t
from ..db import Database
from ..rows import Account, Playback, PlayRecord, PptFile, Room
from .playback import BEIJING

__all__ = [
    "CHART_DAYS",
    "INT64_MAX",
    "PAGE_SIZE",
    "Catalog",
    "CatalogPage",
    "ConsoleBackend",
    "Cursor",
    "Detail",
]

PAGE_SIZE = 50
"""Playbacks on one page of the catalog."""
CHART_DAYS = 30
"""Days (Beijing time, up to today) in a playback's views-per-day chart."""
RECORDS_SHOWN = 50
"""Newest play records listed on a playback's page."""
DELIVERIES_SHOWN = 100
"""Deliveries on one page of the Callbacks page."""
INT64_MAX = 2**63 - 1
ROOM_ID_DIGITS = 6
"""A search of this many digits or more is a room id; a shorter one is part of a name."""
SEARCH_KEYS = 200_000
"""A name search reads the keys of at most this many matches in one pass (see ``catalog``)."""
_DAY = 86400
_BEIJING_OFFSET = 8 * 3600

Cursor = tuple[int, int]
"""A position in the catalog: (create_time, id) of a row; pages run newest first."""


@dataclass(frozen=True)
class Catalog:
    """The filters of the Playbacks page (None: any)."""

    query: str = ""
    """Part of the name (any case), or a room id."""
    status: int | None = None
    publish_status: int | None = None
    product_type: int | None = None


@dataclass
class CatalogPage:
    """One page of playbacks (original recordings, newest first) and where the others are."""

    rows: list[tuple[Playback, Room]]
    total: int
    newer: bool
    """Newer rows exist (a "newer" link)."""
    older: bool
    """Older rows exist (an "older" link)."""

    @property
    def first(self) -> Cursor | None:
        """The cursor of the page's newest row."""
        return (self.rows[0][0].create_time, self.rows[0][0].id) if self.rows else None

    @property
    def last(self) -> Cursor | None:
        """The cursor of the page's oldest row."""
        return (self.rows[-1][0].create_time, self.rows[-1][0].id) if self.rows else None


@dataclass
class Detail:
    """One playback (room and session) with everything the console shows about it."""

    room: Room
    session_id: int
    versions: list[Playback]
    """Every version, deleted ones too, in version order."""
    sessions: list[Playback]
    """The original recording of each live session of the room (long-term rooms)."""
    ppts: list[PptFile]
    deliveries: list[dict[str, Any]]
    records: list[PlayRecord]
    """The newest play records of this session."""
    record_count: int
    days: list[tuple[str, int, int]] = field(default_factory=list)
    """Views per Beijing day, oldest first: (``YYYY-MM-DD``, plays, seconds watched)."""

    @property
    def original(self) -> Playback | None:
        """Version 0 (the recording), if it is there."""
        return next((v for v in self.versions if v.version == 0), None)

    @property
    def live(self) -> list[Playback]:
        """The versions not deleted."""
        return [v for v in self.versions if not v.deleted]


_ROWS = select(t.playbacks, *(c.label(f"r_{c.key}") for c in t.rooms.c)).select_from(
    t.playbacks.join(t.rooms, t.rooms.c.room_id == t.playbacks.c.room_id)
)
"""Playbacks with their room's columns (``r_`` before each name)."""


def _playback(row: Any) -> Playback:
    return Playback(**{k: row._mapping[k] for k in Playback.__dataclass_fields__})


def _room(row: Any) -> Room:
    return Room(**{k: row._mapping[f"r_{k}"] for k in Room.__dataclass_fields__})


def _attempts(conn: Connection, deliveries: list[dict[str, Any]]) -> None:
    """Put each delivery's attempts (oldest first) and its payload, parsed, into it."""
    ids = [d["id"] for d in deliveries]
    by_delivery: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        a = t.delivery_attempts
        for row in conn.execute(select(a).where(a.c.delivery_id.in_(ids)).order_by(a.c.id)):
            by_delivery[row.delivery_id].append(dict(row._mapping))
    for d in deliveries:
        d["payload"] = json.loads(d["payload"])
        d["attempts"] = by_delivery[d["id"]]


class ConsoleBackend:
    """What the console reads, each in one short read (writes go through the Emulator)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def accounts(self) -> list[Account]:
        """Every account, by partner id."""
        a = t.accounts
        with self.db.read() as conn:
            rows = conn.execute(select(a).order_by(a.c.partner_id)).all()
        return [Account(**r._mapping) for r in rows]

    def catalog(
        self,
        wanted: Catalog,
        *,
        older_than: Cursor | None = None,
        newer_than: Cursor | None = None,
        oldest: bool = False,
        size: int = PAGE_SIZE,
    ) -> CatalogPage:
        """One page of the original recordings that match ``wanted``, newest first: the first
        page, the page after ``older_than``, the page before ``newer_than``, or the ``oldest``.

        Keyset pagination on (create_time, id) over an index: every page costs the same, the
        last of 100,000 as much as the first; the total is one count from the index. A name
        search reads the keys of its matches in one pass (count and page from them) unless it
        matches more than ``SEARCH_KEYS``, when the index walk finds a page at once.
        """
        p = t.playbacks
        where: list[Any] = [p.c.version == 0, p.c.deleted.is_(False)]
        text = wanted.query.strip()
        if text.isdigit() and ROOM_ID_DIGITS <= len(text) < 19:
            where.append(p.c.room_id == int(text))
        elif text:
            # Any case, at the least cost: SQLite's LIKE ignores ASCII case already; on
            # PostgreSQL a text without letters that have a case (Chinese, digits) needs no
            # folding, and lower() LIKE runs about twice as fast as ILIKE
            if self.db.postgres and text.lower() != text.upper():
                where.append(func.lower(p.c.name).contains(text.lower(), autoescape=True))
            else:
                where.append(p.c.name.contains(text, autoescape=True))
        if wanted.status is not None:
            where.append(p.c.status == wanted.status)
        if wanted.publish_status is not None:
            where.append(p.c.publish_status == wanted.publish_status)
        if wanted.product_type is not None:
            r = t.rooms.c
            where.append(
                p.c.room_id.in_(select(r.room_id).where(r.product_type == wanted.product_type))
            )
        with self.db.read() as conn:
            if text:
                keys = conn.execute(
                    select(p.c.create_time, p.c.id).where(*where).limit(SEARCH_KEYS + 1)
                ).all()
                if len(keys) <= SEARCH_KEYS:
                    ordered = sorted(((int(k[0]), int(k[1])) for k in keys), reverse=True)
                    return self._from_keys(conn, ordered, older_than, newer_than, oldest, size)
            total = conn.execute(select(func.count()).select_from(p).where(*where)).scalar()
            key = tuple_(p.c.create_time, p.c.id)
            page = _ROWS.where(*where)
            if older_than is not None:
                page = page.where(key < tuple_(*older_than))
            if newer_than is not None:
                page = page.where(key > tuple_(*newer_than))
            backwards = oldest or newer_than is not None
            if backwards:
                page = page.order_by(p.c.create_time, p.c.id)
            else:
                page = page.order_by(p.c.create_time.desc(), p.c.id.desc())
            rows = conn.execute(page.limit(size + 1)).all()
        more = len(rows) > size
        found = [(_playback(x), _room(x)) for x in rows[:size]]
        if backwards:
            found.reverse()
            return CatalogPage(found, int(total or 0), newer=more, older=not oldest)
        return CatalogPage(found, int(total or 0), newer=older_than is not None, older=more)

    @staticmethod
    def _from_keys(
        conn: Connection,
        keys: list[Cursor],
        older_than: Cursor | None,
        newer_than: Cursor | None,
        oldest: bool,
        size: int,
    ) -> CatalogPage:
        """The page among ``keys`` (every match, newest first) that the cursor names."""
        if oldest:
            start = max(0, len(keys) - size)
        elif newer_than is not None:
            start = max(0, sum(1 for k in keys if k > newer_than) - size)
        elif older_than is not None:
            start = sum(1 for k in keys if k >= older_than)
        else:
            start = 0
        chosen = keys[start : start + size]
        p = t.playbacks
        by_id = {}
        if chosen:
            wanted_ids = [k[1] for k in chosen]
            for x in conn.execute(_ROWS.where(p.c.id.in_(wanted_ids))):
                by_id[x.id] = (_playback(x), _room(x))
        found = [by_id[k[1]] for k in chosen if k[1] in by_id]
        return CatalogPage(found, len(keys), newer=start > 0, older=start + size < len(keys))

    def detail(self, room_id: int, session_id: int, today: int) -> Detail | None:
        """Everything about one playback, or None if the room has no such session.

        ``today`` is the current unix time (the chart ends on its Beijing day).
        """
        p, a = t.playbacks, t.play_records
        with self.db.read() as conn:
            room_row = conn.execute(select(t.rooms).where(t.rooms.c.room_id == room_id)).first()
            if room_row is None:
                return None
            room = Room(**room_row._mapping)
            versions = [
                Playback(**x._mapping)
                for x in conn.execute(
                    select(p)
                    .where(p.c.room_id == room_id, p.c.session_id == session_id)
                    .order_by(p.c.version)
                )
            ]
            if not versions:
                return None
            sessions: list[Playback] = []
            if room.is_long_term:
                sessions = [
                    Playback(**x._mapping)
                    for x in conn.execute(
                        select(p)
                        .where(p.c.room_id == room_id, p.c.version == 0, p.c.deleted.is_(False))
                        .order_by(p.c.session_id)
                    )
                ]
            f = t.ppt_files
            ppts = [
                PptFile(x.room_id, x.session_id, x.date, x.name, x.url)
                for x in conn.execute(
                    select(f)
                    .where(f.c.room_id == room_id, f.c.session_id == session_id)
                    .order_by(f.c.id)
                )
            ]
            deliveries = self._deliveries_of(conn, room, session_id)
            mine = (a.c.room_id == room_id, a.c.session_id == session_id)
            record_count = conn.execute(select(func.count()).select_from(a).where(*mine)).scalar()
            records = [
                PlayRecord(**x._mapping)
                for x in conn.execute(
                    select(a)
                    .where(*mine)
                    .order_by(a.c.play_begin_time.desc(), a.c.guid)
                    .limit(RECORDS_SHOWN)
                )
            ]
            days = self._days(conn, mine, today)
        return Detail(
            room,
            session_id,
            versions,
            sessions,
            ppts,
            deliveries,
            records,
            int(record_count or 0),
            days,
        )

    @staticmethod
    def _deliveries_of(conn: Connection, room: Room, session_id: int) -> list[dict[str, Any]]:
        """The callback deliveries about one playback, oldest first (their payload names it)."""
        d = t.deliveries
        named = f'%"room_id": "{room.room_id}"%'
        found = [
            dict(x._mapping)
            for x in conn.execute(
                select(d)
                .where(d.c.partner_id == room.partner_id, d.c.payload.like(named))
                .order_by(d.c.id)
            )
        ]
        _attempts(conn, found)
        return [
            x
            for x in found
            if x["payload"].get("room_id") == str(room.room_id)
            and int(x["payload"].get("session_id") or 0) == session_id
        ]

    @staticmethod
    def _days(conn: Connection, mine: Sequence[Any], now: int) -> list[tuple[str, int, int]]:
        """Plays and seconds watched per Beijing day over the ``CHART_DAYS`` up to ``now``'s."""
        a = t.play_records.c
        today = (now + _BEIJING_OFFSET) // _DAY
        first = today - CHART_DAYS + 1
        since = first * _DAY - _BEIJING_OFFSET
        day = (a.play_begin_time + _BEIJING_OFFSET) // _DAY
        rows = conn.execute(
            select(day, func.count(), func.sum(a.play_length))
            .where(*mine, a.play_begin_time >= since)
            .group_by(day)
        ).all()
        counts = {int(r[0]): (int(r[1]), int(r[2] or 0)) for r in rows}
        out = []
        for number in range(first, today + 1):
            label = dt.datetime.fromtimestamp(number * _DAY, dt.timezone.utc).strftime("%Y-%m-%d")
            plays, seconds = counts.get(number, (0, 0))
            out.append((label, plays, seconds))
        return out

    def deliveries(
        self, before: int | None = None, size: int = DELIVERIES_SHOWN
    ) -> tuple[list[dict[str, Any]], bool]:
        """The newest deliveries (older than id ``before``), newest first, with their attempts;
        and whether older ones exist."""
        d = t.deliveries
        query = select(d).order_by(d.c.id.desc()).limit(size + 1)
        if before is not None:
            query = query.where(d.c.id < before)
        with self.db.read() as conn:
            found = [dict(x._mapping) for x in conn.execute(query)]
            more = len(found) > size
            found = found[:size]
            _attempts(conn, found)
        return found, more


def beijing_time(seconds: float) -> str:
    """Unix seconds as ``YYYY-MM-DD HH:MM:SS`` in Beijing time."""
    return dt.datetime.fromtimestamp(int(seconds), BEIJING).strftime("%Y-%m-%d %H:%M:%S")
