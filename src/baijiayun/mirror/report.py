"""Who watched, from the mirror's play records alone (no API call): per playback, per viewer, a roster.

Completion is a viewer's total ``play_length`` over the length of the playback's main version,
capped at 100%. A viewer is a ``user_number``; plays without one count once per ``uuid``, as
anonymous viewers. Times come back as aware datetimes in Beijing time (UTC+8).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Engine, case, func, select

from . import schema as s
from .store import parse_china_time

__all__ = [
    "PlaybackViews",
    "ViewerViews",
    "main_version",
    "not_started",
    "playback_views",
    "read_roster",
    "viewer_views",
]

COMPLETION_DIGITS = 4
"""Completion is a fraction of 1 rounded to this many digits (0.4167 = 41.67%)."""


@dataclass(frozen=True)
class PlaybackViews:
    """One playback's audience: viewers, plays, seconds watched, average completion."""

    room_id: int
    session_id: int
    name: str | None
    """The playback's name (its main version's), when the mirror holds the playback."""
    length: int | None
    """Seconds of the playback's main version (None: not mirrored, or unknown)."""
    viewers: int
    """Distinct ``user_number`` values, each anonymous ``uuid`` counted once."""
    plays: int
    watched: int
    """Total ``play_length`` of its plays, seconds."""
    completion: float | None
    """Average over its viewers of each one's completion (None when the length is unknown)."""

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON-ready data."""
        return asdict(self)


@dataclass(frozen=True)
class ViewerViews:
    """One viewer of one playback: plays, seconds watched, completion, first and last watch."""

    room_id: int
    session_id: int
    user_number: str | None
    """None for an anonymous viewer (plays without a user_number), told apart by ``uuid``."""
    user_name: str | None
    """The name of the viewer's latest play."""
    uuid: str | None
    """The client id of an anonymous viewer (None for a numbered one)."""
    plays: int
    watched: int
    """Total ``play_length``, seconds."""
    completion: float | None
    """``watched`` over the main version's length, at most 1 (None when the length is unknown)."""
    first_watch: dt.datetime | None
    """When the viewer's first play began (Beijing time)."""
    last_watch: dt.datetime | None
    """When the viewer's last play was last reported (Beijing time)."""

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON-ready data."""
        return asdict(self)


def completion(watched: int, length: int | None) -> float | None:
    """``watched`` over ``length`` seconds, capped at 1 (None when the length is unknown)."""
    if not length:
        return None
    return min(1.0, watched / length)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, COMPLETION_DIGITS)


def _time(value: str | None) -> dt.datetime | None:
    return None if value is None else parse_china_time(value)


_Key = tuple[int, int]


_Version = tuple[bool, int | None, str | None]
"""A held version: (marked main, length, name)."""


def _versions(
    engine: Engine, partner_id: int | None, rooms: Iterable[int]
) -> dict[_Key, dict[int, _Version]]:
    """The live versions the mirror holds of these rooms, by (room, session), then version."""
    p = s.playbacks
    wanted = sorted(set(rooms))
    found: dict[_Key, dict[int, _Version]] = {}
    with engine.connect() as conn:
        for start in range(0, len(wanted), 500):
            where: list[ColumnElement[bool]] = [
                p.c.room_id.in_(wanted[start : start + 500]),
                p.c.deleted_at.is_(None),
            ]
            if partner_id is not None:
                where.append(p.c.partner_id == partner_id)
            query = select(
                p.c.room_id, p.c.session_id, p.c.version, p.c.is_main, p.c.length, p.c.name
            ).where(*where)
            for room, session, version, is_main, length, name in conn.execute(query):
                versions = found.setdefault((int(room), int(session)), {})
                versions[int(version)] = (bool(is_main), length, name)
    return found


def main_version(versions: dict[int, _Version], played: int | None) -> int | None:
    """Which held version is the main one: the one marked main (getCropList); else the one the
    latest play showed (the player shows the main version); else the original (0); else the
    lowest. None when the mirror holds no version."""
    marked = [v for v, (is_main, _, _) in versions.items() if is_main]
    if marked:
        return marked[0]
    if played is not None and played in versions:
        return played
    if 0 in versions:
        return 0
    return min(versions) if versions else None


def _records_of(
    partner_id: int | None, room_id: int | None, session_id: int | None
) -> list[ColumnElement[bool]]:
    """The conditions selecting the play records of an account, room and session (when given)."""
    r = s.play_records.c
    where: list[ColumnElement[bool]] = []
    if partner_id is not None:
        where.append(r.partner_id == partner_id)
    if room_id is not None:
        where.append(r.room_id == room_id)
    if session_id is not None:
        where.append(r.session_id == session_id)
    return where


def _grouped(
    engine: Engine, partner_id: int | None, room_id: int | None, session_id: int | None
) -> list[Any]:
    """One row per (room, session, viewer): plays, seconds, first begin, last end."""
    r = s.play_records.c
    number = func.nullif(r.user_number, "")
    anonymous = case((number.is_(None), func.coalesce(r.uuid, r.guid)), else_=None)
    where = [r.room_id.is_not(None), *_records_of(partner_id, room_id, session_id)]
    query = (
        select(
            r.room_id,
            func.coalesce(r.session_id, 0),
            number,
            anonymous,
            func.count(),
            func.coalesce(func.sum(r.play_length), 0),
            func.min(r.play_begin_time),
            func.max(func.coalesce(r.play_end_time, r.play_begin_time)),
        )
        .where(*where)
        .group_by(r.room_id, func.coalesce(r.session_id, 0), number, anonymous)
    )
    with engine.connect() as conn:
        return list(conn.execute(query).all())


def _latest_versions(
    engine: Engine, partner_id: int | None, room_id: int | None, session_id: int | None
) -> dict[_Key, int | None]:
    """The version the latest play of each (room, session) showed."""
    r = s.play_records.c
    where = [r.room_id.is_not(None), *_records_of(partner_id, room_id, session_id)]
    latest: dict[_Key, tuple[str, int | None]] = {}
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                r.room_id,
                func.coalesce(r.session_id, 0),
                r.version,
                func.max(r.play_begin_time),
            )
            .where(*where)
            .group_by(r.room_id, func.coalesce(r.session_id, 0), r.version)
        ).all()
    for room, session, version, began in rows:
        key = (int(room), int(session))
        if key not in latest or (began or "") > latest[key][0]:
            latest[key] = (began or "", None if version is None else int(version))
    return {key: version for key, (_, version) in latest.items()}


def _lengths(
    engine: Engine,
    partner_id: int | None,
    room_id: int | None,
    session_id: int | None,
    keys: Iterable[_Key],
) -> dict[_Key, tuple[str | None, int | None]]:
    """(name, length) of the main version of each playback in ``keys`` (None when not held)."""
    keys = set(keys)
    held = _versions(engine, partner_id, {k[0] for k in keys})
    played = _latest_versions(engine, partner_id, room_id, session_id)
    out: dict[_Key, tuple[str | None, int | None]] = {}
    for key in keys:
        versions = held.get(key, {})
        main = main_version(versions, played.get(key))
        _, length, name = versions[main] if main is not None else (False, None, None)
        out[key] = (name, length)
    return out


def playback_views(
    engine: Engine,
    partner_id: int | None = None,
    room_id: int | None = None,
    session_id: int | None = None,
) -> list[PlaybackViews]:
    """One row per playback with plays (room, session order): viewers, plays, seconds watched,
    average completion over its viewers.

    :param partner_id: 账号 (None: every account in the database)
    :param room_id: 教室号 (None: every room)
    :param session_id: 序列号 (None: every session)
    """
    grouped = _grouped(engine, partner_id, room_id, session_id)
    by_playback: dict[_Key, list[Any]] = {}
    for row in grouped:
        by_playback.setdefault((int(row[0]), int(row[1])), []).append(row)
    lengths = _lengths(engine, partner_id, room_id, session_id, by_playback)
    rows = []
    for key in sorted(by_playback):
        viewers = by_playback[key]
        name, length = lengths[key]
        done = [completion(int(v[5]), length) for v in viewers]
        average = None if not length else sum(d or 0.0 for d in done) / len(done)
        rows.append(
            PlaybackViews(
                room_id=key[0],
                session_id=key[1],
                name=name,
                length=length,
                viewers=len(viewers),
                plays=sum(int(v[4]) for v in viewers),
                watched=sum(int(v[5]) for v in viewers),
                completion=_rounded(average),
            )
        )
    return rows


def _latest_names(
    engine: Engine, partner_id: int | None, room_id: int, session_id: int | None
) -> dict[tuple[int, str | None, str | None], str | None]:
    """The user_name of each viewer's latest play of the room, by (session, number, uuid)."""
    r = s.play_records.c
    where = _records_of(partner_id, room_id, session_id)
    names: dict[tuple[int, str | None, str | None], str | None] = {}
    with engine.connect() as conn:
        rows = conn.execute(
            select(r.session_id, r.user_number, r.uuid, r.guid, r.user_name)
            .where(*where)
            .order_by(r.play_begin_time, r.guid)
        ).all()
    for session, number, uuid, guid, name in rows:
        anonymous = not number
        key = (
            int(session or 0),
            None if anonymous else number,
            (uuid or guid) if anonymous else None,
        )
        names[key] = name or names.get(key)
    return names


def viewer_views(
    engine: Engine, partner_id: int | None, room_id: int, session_id: int | None = None
) -> list[ViewerViews]:
    """One row per viewer of a room's playbacks (per session of a long-term room without
    ``session_id``): plays, seconds, completion, first and last watch; ordered by session,
    then numbered viewers by number, then anonymous ones by uuid."""
    grouped = _grouped(engine, partner_id, room_id, session_id)
    keys = {(int(row[0]), int(row[1])) for row in grouped}
    lengths = _lengths(engine, partner_id, room_id, session_id, keys)
    names = _latest_names(engine, partner_id, room_id, session_id)
    rows = []
    for room, session, number, uuid, plays, watched, first, last in grouped:
        length = lengths[(int(room), int(session))][1]
        rows.append(
            ViewerViews(
                room_id=int(room),
                session_id=int(session),
                user_number=number,
                user_name=names.get((int(session), number, uuid)),
                uuid=uuid,
                plays=int(plays),
                watched=int(watched),
                completion=_rounded(completion(int(watched), length)),
                first_watch=_time(first),
                last_watch=_time(last),
            )
        )
    rows.sort(
        key=lambda v: (v.session_id, v.user_number is None, v.user_number or "", v.uuid or "")
    )
    return rows


def not_started(
    engine: Engine,
    partner_id: int | None,
    roster: Iterable[str],
    room_id: int | None = None,
    session_id: int | None = None,
) -> list[str]:
    """The user numbers of ``roster`` (in its order, each once) with no play record (of the
    room, and session, when given)."""
    r = s.play_records.c
    where = [r.user_number.is_not(None), *_records_of(partner_id, room_id, session_id)]
    with engine.connect() as conn:
        started = set(conn.scalars(select(r.user_number).where(*where).distinct()))
    return [n for n in dict.fromkeys(roster) if n not in started]


ROSTER_COLUMN = "user_number"


def read_roster(path: Path) -> list[str]:
    """The user numbers of a roster file: one per line, or a CSV with a ``user_number`` column.

    Blank lines are skipped; a file whose first line names columns but no ``user_number``
    raises ValueError saying so.
    """
    text = path.read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    first = lines[0] if lines else ""
    if "," in first or "\t" in first or first.strip() == ROSTER_COLUMN:
        dialect = "excel-tab" if "\t" in first else "excel"
        reader = csv.DictReader(io.StringIO(text), dialect=dialect)
        columns = [c.strip() for c in reader.fieldnames or []]
        if ROSTER_COLUMN not in columns:
            raise ValueError(
                f"{path}: the header ({', '.join(columns)}) has no {ROSTER_COLUMN!r} column"
            )
        raw = reader.fieldnames[columns.index(ROSTER_COLUMN)] if reader.fieldnames else ""
        numbers = [(row.get(raw) or "").strip() for row in reader]
    else:
        numbers = [line.strip() for line in lines]
    return [n for n in numbers if n]
