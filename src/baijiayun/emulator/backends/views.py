"""Viewing records (docs/protocol.md#viewing-records): plays built from player beacons, read by day windows; no HTTP."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from ... import _endpoints as ep
from .. import schema as t
from ..db import Database
from ..exceptions import AlreadyExists, InvalidParameter, PlaybackNotFound
from ..rows import PlayRecord, Room
from .playback import PlaybackBackend, _room_row

__all__ = [
    "CLIENT_PC_WEB",
    "END_EVENTS",
    "EVENTS",
    "SILENT_INTERVALS",
    "Beacon",
    "ViewsBackend",
    "new_guid",
]

CLIENT_PC_WEB = 5
"""client_type of the emulator's web player (1 iPhone, 2 iPad, 3 Android, 4 mobile web, 5 PC)."""
EVENTS = frozenset({"play", "heartbeat", "pause", "seek", "ended", "leave"})
END_EVENTS = frozenset({"ended", "leave"})
"""Beacon events that end a play."""
SILENT_INTERVALS = 3
"""A play without a beacon for this many report intervals has ended (docs/protocol.md#viewing-records)."""
MAX_USER_NAME = 100
MAX_TEXT = 64
_GUID = re.compile(r"[0-9A-Za-z]{32}")
_UUID = re.compile(r"[0-9A-Za-z_-]{1,64}")
_CHUNK = 500
"""Rows per INSERT statement (and guids per duplicate check) when records come in bulk."""


def _seconds(duration_ms: int) -> int:
    """play_length from the highest beacon ``duration``: whole seconds, to the nearest."""
    return (duration_ms + 500) // 1000


def new_guid() -> str:
    """A fresh play id: 32 hexadecimal characters."""
    return secrets.token_hex(16)


@dataclass(frozen=True)
class Beacon:
    """One report of the web player: which play, whose token, what happened and how far."""

    guid: str
    uuid: str
    room_id: int
    session_id: int | None
    token: str
    event: str
    duration_ms: int
    position_ms: int
    user_number: str = ""
    user_name: str = ""

    def problem(self) -> str | None:
        """Why this beacon cannot be taken (naming the field), or None."""
        if not _GUID.fullmatch(self.guid):
            return "guid must be 32 letters or digits"
        if not _UUID.fullmatch(self.uuid):
            return "uuid must be 1 to 64 letters, digits, '-' or '_'"
        if self.event not in EVENTS:
            return "event must be one of " + ", ".join(sorted(EVENTS))
        for name, text, limit in (
            ("user_number", self.user_number, MAX_TEXT),
            ("user_name", self.user_name, MAX_USER_NAME),
        ):
            if len(text) > limit or "\x00" in text:
                return f"{name} must be at most {limit} characters, without NUL"
        return None


# The fields a synthetic record may carry (the docs/protocol.md#viewing-records record); room_id and play_begin_time are needed.
_RECORD_FIELDS = frozenset(
    {
        "guid",
        "uuid",
        "video_id",
        "user_name",
        "user_number",
        "play_begin_time",
        "play_end_time",
        "client_type",
        "play_length",
        "user_ip",
        "area",
        "room_id",
        "session_id",
        "version",
    }
)


def _bad(field: str, rule: str) -> InvalidParameter:
    return InvalidParameter(f"参数错误: {field} must be {rule}", field)


def _int_field(raw: Mapping[str, Any], name: str, default: int | None, low: int = 0) -> int:
    value = raw.get(name, default)
    if value is None:
        raise InvalidParameter(f"参数错误: {name} is required", name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= ep.INT64_MAX:
        raise _bad(name, f"an integer from {low} to {ep.INT64_MAX}")
    return value


def _text_field(raw: Mapping[str, Any], name: str, limit: int) -> str:
    value = raw.get(name, "")
    if isinstance(value, int) and not isinstance(value, bool) and name == "user_number":
        value = str(value)
    if not isinstance(value, str) or len(value) > limit or "\x00" in value:
        raise _bad(name, f"a string of at most {limit} characters, without NUL")
    return value


def _time_field(raw: Mapping[str, Any], name: str, default: int | None) -> int:
    value = raw.get(name)
    if value is None:
        if default is None:
            raise InvalidParameter(f"参数错误: {name} is required", name)
        return default
    if isinstance(value, str):
        try:
            return int(ep.parse_wire_time(value).timestamp())
        except ValueError:
            raise _bad(name, "a time YYYY-MM-DD HH:MM:SS (Beijing) or unix seconds") from None
    return _int_field(raw, name, None)


class ViewsBackend:
    """Play records of every account: grown from beacons, added in bulk, read by windows."""

    def __init__(
        self, db: Database, clock: Callable[[], float], playbacks: PlaybackBackend
    ) -> None:
        self.db = db
        self.clock = clock
        self.playbacks = playbacks

    # -- the player's beacons -----------------------------------------------------------------

    def beacon(self, beacon: Beacon, peer: str, report_interval: float) -> PlayRecord:
        """Take one beacon: the play's record is made by its first and grown by the next ones,
        until an ``ended``/``leave`` beacon or ``SILENT_INTERVALS`` report intervals of silence
        end it (later beacons of an ended play change nothing). PlayerRefused when the token
        does not open this room and session."""
        now = self.clock()
        with self.db.tx() as conn:
            main = self.playbacks.player_playback(
                conn, beacon.room_id, beacon.session_id, beacon.token
            )
            row = conn.execute(
                select(t.play_records).where(t.play_records.c.guid == beacon.guid)
            ).first()
            ends = beacon.event in END_EVENTS
            if row is None:
                room = _room_row(conn, main.room_id)
                record = PlayRecord(
                    guid=beacon.guid,
                    partner_id=main.partner_id,
                    room_id=main.room_id,
                    session_id=main.session_id,
                    version=main.version,
                    video_id=main.video_id,
                    product_type=room.product_type if room is not None else 0,
                    uuid=beacon.uuid,
                    user_number=beacon.user_number,
                    user_name=beacon.user_name,
                    play_begin_time=int(now),
                    play_end_time=int(now),
                    play_length=_seconds(beacon.duration_ms),
                    duration_ms=beacon.duration_ms,
                    position_ms=beacon.position_ms,
                    client_type=CLIENT_PC_WEB,
                    user_ip=peer[:MAX_TEXT],
                    area="",
                    last_beacon=now,
                    ended=ends,
                )
                conn.execute(insert(t.play_records).values(**vars(record)))
                return record
            record = PlayRecord(**row._mapping)
            if (record.room_id, record.session_id) != (main.room_id, main.session_id):
                raise InvalidParameter("guid belongs to a play of another playback", "guid")
            silent = now - record.last_beacon > SILENT_INTERVALS * report_interval
            if record.ended or silent:
                return record
            duration = max(record.duration_ms, beacon.duration_ms)
            changes = {
                "play_end_time": max(record.play_end_time, int(now)),
                "duration_ms": duration,
                "play_length": _seconds(duration),
                "position_ms": beacon.position_ms,
                "last_beacon": now,
                "ended": ends,
            }
            conn.execute(
                update(t.play_records).where(t.play_records.c.guid == beacon.guid).values(**changes)
            )
            return PlayRecord(**{**vars(record), **changes})

    # -- reads by window ----------------------------------------------------------------------

    def playback_records(
        self,
        partner_id: int,
        room_id: int,
        session_id: int | None,
        window: tuple[int, int],
        page: int,
        page_size: int,
    ) -> tuple[int, list[PlayRecord]]:
        """getPlaybackPlayRecord: one page of a room's plays that began in ``window`` (unix
        seconds, both ends inclusive), and their total. ``session_id`` None on a long-term room
        means every session; a session without any playback is PlaybackNotFound (code 1)."""
        r = t.play_records.c
        with self.db.read() as conn:
            room = PlaybackBackend._owned(_room_row(conn, room_id), partner_id, room_id)
            conditions = [r.room_id == room_id]
            if session_id is not None or not room.is_long_term:
                wanted = self._session(conn, room, session_id or 0)
                conditions.append(r.session_id == wanted)
            return self._page(conn, conditions, window, page, page_size)

    def account_records(
        self,
        partner_id: int,
        product_type: int | None,
        window: tuple[int, int],
        page: int,
        page_size: int,
    ) -> tuple[int, list[PlayRecord]]:
        """exportVideoReportBatch: one page of the account's plays that began in ``window``,
        of rooms of ``product_type`` when given, and their total."""
        r = t.play_records.c
        conditions = [r.partner_id == partner_id]
        if product_type is not None:
            conditions.append(r.product_type == product_type)
        with self.db.read() as conn:
            return self._page(conn, conditions, window, page, page_size)

    @staticmethod
    def _session(conn: Connection, room: Room, session_id: int) -> int:
        """``session_id`` if the room ever had a playback there; else PlaybackNotFound."""
        if not room.is_long_term and session_id:
            raise PlaybackNotFound(
                f"回放不存在: room {room.room_id} is not long-term and has no session {session_id}"
            )
        p = t.playbacks.c
        found = conn.execute(
            select(p.id).where(p.room_id == room.room_id, p.session_id == session_id).limit(1)
        ).first()
        if found is None and room.is_long_term:
            raise PlaybackNotFound(
                f"回放不存在: room {room.room_id} has no playback for session {session_id}"
            )
        return session_id

    @staticmethod
    def _page(
        conn: Connection,
        conditions: list[Any],
        window: tuple[int, int],
        page: int,
        page_size: int,
    ) -> tuple[int, list[PlayRecord]]:
        r = t.play_records.c
        where = [*conditions, r.play_begin_time >= window[0], r.play_begin_time <= window[1]]
        total = conn.execute(select(func.count()).select_from(t.play_records).where(*where))
        count = int(total.scalar_one())
        if count <= (page - 1) * page_size:
            return count, []
        rows = conn.execute(
            select(t.play_records)
            .where(*where)
            .order_by(r.play_begin_time, r.guid)
            .limit(page_size)
            .offset((page - 1) * page_size)
        ).all()
        return count, [PlayRecord(**row._mapping) for row in rows]

    def records(self, room_id: int | None = None) -> list[PlayRecord]:
        """Every record (of one room), in window order: for tests and the admin API."""
        r = t.play_records.c
        query = select(t.play_records).order_by(r.play_begin_time, r.guid)
        if room_id is not None:
            query = query.where(r.room_id == room_id)
        with self.db.read() as conn:
            return [PlayRecord(**row._mapping) for row in conn.execute(query).all()]

    # -- synthetic records --------------------------------------------------------------------

    def add_records(self, raw_records: Sequence[Mapping[str, Any]]) -> list[PlayRecord]:
        """Add finished plays in bulk (a list of docs/protocol.md#viewing-records records; ``room_id`` and ``play_begin_time``
        required, a missing ``guid`` made). The room gives the account and product line; the
        main version of the room/session gives ``version`` and ``video_id`` unless they are
        given. All or nothing: InvalidParameter names the first bad field (``[i].field``)."""
        with self.db.tx() as conn:
            rooms: dict[int, Room] = {}
            mains: dict[tuple[int, int], tuple[int, int]] = {}
            records = [
                self._record(conn, index, raw, rooms, mains)
                for index, raw in enumerate(raw_records)
            ]
            self._refuse_taken(conn, [r.guid for r in records])
            for start in range(0, len(records), _CHUNK):
                chunk = records[start : start + _CHUNK]
                conn.execute(insert(t.play_records), [vars(r) for r in chunk])
        return records

    def _record(
        self,
        conn: Connection,
        index: int,
        raw: Mapping[str, Any],
        rooms: dict[int, Room],
        mains: dict[tuple[int, int], tuple[int, int]],
    ) -> PlayRecord:
        if not isinstance(raw, Mapping):
            raise InvalidParameter(f"参数错误: record [{index}] must be a JSON object")
        try:
            return self._checked(conn, raw, rooms, mains)
        except InvalidParameter as error:
            field = f"[{index}].{error.param}" if error.param else f"[{index}]"
            raise InvalidParameter(f"{error.msg} (record [{index}])", field) from None

    def _checked(
        self,
        conn: Connection,
        raw: Mapping[str, Any],
        rooms: dict[int, Room],
        mains: dict[tuple[int, int], tuple[int, int]],
    ) -> PlayRecord:
        unknown = sorted(set(raw) - _RECORD_FIELDS)
        if unknown:
            raise InvalidParameter(f"参数错误: unknown field {unknown[0]!r}", unknown[0])
        room_id = _int_field(raw, "room_id", None, low=1)
        room = rooms.get(room_id)
        if room is None:
            found = _room_row(conn, room_id)
            if found is None:
                raise InvalidParameter(f"参数错误: room {room_id} does not exist", "room_id")
            room = rooms[room_id] = found
        session_id = _int_field(raw, "session_id", 0)
        key = (room_id, session_id)
        if key not in mains:
            p = t.playbacks.c
            main = conn.execute(
                select(p.version, p.video_id)
                .where(p.room_id == room_id, p.session_id == session_id)
                .order_by(p.is_main.desc(), p.deleted, p.version)
                .limit(1)
            ).first()
            if main is None:
                where = f"session {session_id}" if session_id else "any playback"
                raise InvalidParameter(
                    f"参数错误: room {room_id} has no playback for {where}", "session_id"
                )
            mains[key] = (int(main[0]), int(main[1]))
        version, video_id = mains[key]
        guid = raw.get("guid")
        if guid is None:
            guid = new_guid()
        elif not isinstance(guid, str) or not _GUID.fullmatch(guid):
            raise _bad("guid", "32 letters or digits")
        begin = _time_field(raw, "play_begin_time", None)
        length = _int_field(raw, "play_length", 0)
        end = _time_field(raw, "play_end_time", begin + length)
        if end < begin:
            raise _bad("play_end_time", "at or after play_begin_time")
        uuid = _text_field(raw, "uuid", MAX_TEXT) or guid
        return PlayRecord(
            guid=guid,
            partner_id=room.partner_id,
            room_id=room_id,
            session_id=session_id,
            version=_int_field(raw, "version", version),
            video_id=_int_field(raw, "video_id", video_id),
            product_type=room.product_type,
            uuid=uuid,
            user_number=_text_field(raw, "user_number", MAX_TEXT),
            user_name=_text_field(raw, "user_name", MAX_USER_NAME),
            play_begin_time=begin,
            play_end_time=end,
            play_length=length,
            duration_ms=length * 1000,
            position_ms=0,
            client_type=_int_field(raw, "client_type", CLIENT_PC_WEB),
            user_ip=_text_field(raw, "user_ip", MAX_TEXT),
            area=_text_field(raw, "area", MAX_TEXT),
            last_beacon=float(end),
            ended=True,
        )

    @staticmethod
    def _refuse_taken(conn: Connection, guids: Iterable[str]) -> None:
        """AlreadyExists when a guid repeats in the batch or is taken already."""
        seen: set[str] = set()
        ordered = list(guids)
        for guid in ordered:
            if guid in seen:
                raise AlreadyExists(f"参数错误: guid {guid} appears twice", "guid")
            seen.add(guid)
        r = t.play_records.c
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start : start + _CHUNK]
            taken = conn.execute(select(r.guid).where(r.guid.in_(chunk)).limit(1)).first()
            if taken is not None:
                raise AlreadyExists(f"参数错误: a play with guid {taken[0]} exists", "guid")
