"""Playback state and rules (docs/protocol.md#decisions) on typed rows: no HTTP, no wire formatting."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import fields
from dataclasses import replace as copy
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from .. import schema as t
from ..db import Database, Prepared
from ..exceptions import (
    AccountNotFound,
    AlreadyExists,
    BadTransition,
    InvalidParameter,
    NotGenerated,
    PlaybackNotFound,
    PlayerRefused,
    RoomDeleted,
    RoomNotFound,
)
from ..faults import FAULTS_EXIST
from ..rows import Account, Caller, Playback, PptFile, Room, Token

__all__ = [
    "BEIJING",
    "CALLBACK_STATUSES",
    "FAILED",
    "NOT_RECORDED",
    "READY",
    "RECORDING",
    "TRANSCODING",
    "PlaybackBackend",
    "media",
    "session_id_for",
]

BEIJING = dt.timezone(dt.timedelta(hours=8))
READY, FAILED, TRANSCODING, RECORDING, NOT_RECORDED = 100, 30, 20, 10, 0
LIFECYCLE = {NOT_RECORDED: (RECORDING,), RECORDING: (TRANSCODING,), TRANSCODING: (READY, FAILED)}
CALLBACK_STATUSES = (TRANSCODING, FAILED, READY)
FIRST_ROOM_ID = 21000000000001
FIRST_VIDEO_ID = 150001
BLOCKED = 2
INT64_MAX = 2**63 - 1

# Statements of the hot read paths, built once (building a select costs more than running it).
_ROOM = Prepared(select(t.rooms).where(t.rooms.c.room_id == bindparam("room_id")))
_LIVE = (
    select(t.playbacks)
    .where(t.playbacks.c.room_id == bindparam("room_id"), t.playbacks.c.deleted.is_(False))
    .order_by(t.playbacks.c.session_id, t.playbacks.c.version)
)
_LIVE_ROOM = Prepared(_LIVE)
_LIVE_SESSION = Prepared(_LIVE.where(t.playbacks.c.session_id == bindparam("session_id")))
# getBasicInfo's one round trip: the account, its room and every live version of the room.
_LIVE_JOIN = (t.playbacks.c.room_id == t.rooms.c.room_id) & t.playbacks.c.deleted.is_(False)
_ACCOUNT_ROOM_AND_LIVE = Prepared(
    select(
        FAULTS_EXIST,
        *(c.label(f"a_{c.key}") for c in t.accounts.c),
        *(c.label(f"r_{c.key}") for c in t.rooms.c),
        *(c.label(f"p_{c.key}") for c in t.playbacks.c),
    )
    .select_from(
        t.accounts.outerjoin(t.rooms, t.rooms.c.room_id == bindparam("room_id")).outerjoin(
            t.playbacks, _LIVE_JOIN
        )
    )
    .where(t.accounts.c.partner_id == bindparam("partner_id"))
    .order_by(t.playbacks.c.session_id, t.playbacks.c.version)
)


_A_KEYS = tuple(c.key for c in t.accounts.c)
_R_KEYS = tuple(c.key for c in t.rooms.c)
_P_KEYS = tuple(c.key for c in t.playbacks.c)
# rows are built positionally from the hot read's columns: the fields must be the columns
assert tuple(f.name for f in fields(Account)) == _A_KEYS
assert tuple(f.name for f in fields(Room)) == _R_KEYS
assert tuple(f.name for f in fields(Playback)) == _P_KEYS
_A_AT = 1  # after the faults flag
_R_AT, _P_AT = _A_AT + len(_A_KEYS), _A_AT + len(_A_KEYS) + len(_R_KEYS)


_LOCK_ROOM = (
    select(t.rooms.c.room_id).where(t.rooms.c.room_id == bindparam("room_id")).with_for_update()
)


def _lock_rooms(conn: Connection, *room_ids: int) -> None:
    """Take the row locks of rooms before changing their playbacks (PostgreSQL; SQLite's
    BEGIN IMMEDIATE already serialises writers): writers of one room queue, so version numbers
    and the main flag stay consistent across processes. Sorted, so two writers never deadlock."""
    for room_id in sorted(set(room_ids)):
        conn.execute(_LOCK_ROOM, {"room_id": room_id})


def media(video_id: int, length: int) -> dict[str, Any]:
    """The media fields of a generated (status 100) video: sizes, cover and md5."""
    size = length * 80_000
    return {
        "total_size": size,
        "total_transcode_size": size * 3,
        "preface_url": f"https://img.emulator.baijiayun.local/cover/{video_id}.jpg",
        "file_md5": hashlib.md5(str(video_id).encode()).hexdigest(),
    }


def session_id_for(created: int, ordinal: int) -> int:
    """A long-term room's session id: the China-time day of the recording and its ordinal."""
    day = dt.datetime.fromtimestamp(created, BEIJING).strftime("%Y%m%d")
    return int(f"{day}{ordinal}")


def beijing_date(seconds: int) -> str:
    """Unix seconds as ``YYYY-MM-DD`` in China time."""
    return dt.datetime.fromtimestamp(seconds, BEIJING).strftime("%Y-%m-%d")


def _room_row(conn: Connection, room_id: int) -> Room | None:
    row = _ROOM.first(conn, {"room_id": room_id})
    return None if row is None else Room(**row)


def _live(conn: Connection, room_id: int, session_id: int | None = None) -> list[Playback]:
    if session_id is None:
        rows = _LIVE_ROOM.all(conn, {"room_id": room_id})
    else:
        rows = _LIVE_SESSION.all(conn, {"room_id": room_id, "session_id": session_id})
    return [Playback(**r) for r in rows]


def _insert(conn: Connection, playback: Playback) -> Playback:
    key = conn.execute(insert(t.playbacks).values(**playback.values())).inserted_primary_key
    assert key is not None
    return copy(playback, id=int(key[0]))


def _main(rows: Sequence[Playback]) -> Playback:
    return next((r for r in rows if r.is_main), rows[0])


def _version(rows: Sequence[Playback], version: int) -> Playback:
    found = next((r for r in rows if r.version == version), None)
    if found is None:
        raise PlaybackNotFound(f"回放版本不存在: version {version} not found")
    return found


def _versions_missing(room_id: int, session_id: int) -> None:
    where = f"room {room_id}" + (f" session {session_id}" if session_id else "")
    raise PlaybackNotFound(f"回放不存在: no playback for {where}")


def _versions(conn: Connection, room_id: int, session_id: int) -> list[Playback]:
    rows = _live(conn, room_id, session_id)
    if not rows:
        _versions_missing(room_id, session_id)
    return rows


def _next_version(conn: Connection, room_id: int, session_id: int) -> int:
    """One more than any version this playback ever had: deleted versions are never reused."""
    p = t.playbacks.c
    top = conn.execute(
        select(func.max(p.version)).where(p.room_id == room_id, p.session_id == session_id)
    ).scalar()
    return int(top or 0) + 1


def _mark_main(conn: Connection, row: Playback) -> None:
    p = t.playbacks.c
    conn.execute(
        update(t.playbacks)
        .where(p.room_id == row.room_id, p.session_id == row.session_id)
        .values(is_main=p.id == row.id)
    )


class PlaybackBackend:
    """Rooms, recordings and their versions, player tokens and slide PDFs of every account."""

    def __init__(self, db: Database, clock: Callable[[], float]) -> None:
        self.db = db
        self.clock = clock

    def now(self) -> int:
        """The service's current unix time in seconds."""
        return int(self.clock())

    # -- lookups every call shares ----------------------------------------------------------

    @staticmethod
    def _room(conn: Connection, partner_id: int, room_id: int) -> Room:
        return PlaybackBackend._owned(_room_row(conn, room_id), partner_id, room_id)

    @staticmethod
    def _owned(room: Room | None, partner_id: int, room_id: int) -> Room:
        """The room if it exists, is the partner's and is not deleted; else the named error."""
        if room is None or room.partner_id != partner_id:
            raise RoomNotFound(f"房间不存在 room_id={room_id}")
        if room.deleted:
            raise RoomDeleted(f"房间已删除 room_id={room_id}")
        return room

    @staticmethod
    def _session(
        conn: Connection | None,
        room: Room,
        session_id: int | None,
        *,
        required: bool,
        live: Sequence[Playback] = (),
    ) -> int:
        """Resolve the session a call means; long-term rooms default to their first session
        (taken from ``live``, the room's live rows, when the caller read them already)."""
        if not room.is_long_term:
            if session_id:
                raise PlaybackNotFound(
                    f"回放不存在: room {room.room_id} is not long-term and has no session {session_id}"
                )
            return 0
        if session_id:
            return session_id
        if required:
            raise InvalidParameter(
                f"参数错误: session_id is required for long-term room {room.room_id}", "session_id"
            )
        if conn is None:
            first = min((r.session_id for r in live), default=None)
        else:
            first = conn.execute(
                select(func.min(t.playbacks.c.session_id)).where(
                    t.playbacks.c.room_id == room.room_id, t.playbacks.c.deleted.is_(False)
                )
            ).scalar()
        if first is None:
            raise PlaybackNotFound(f"回放不存在: room {room.room_id} has no playback")
        return int(first)

    def _playback(
        self,
        conn: Connection,
        partner_id: int,
        room_id: int,
        session_id: int | None,
        required: bool,
    ) -> list[Playback]:
        room = self._room(conn, partner_id, room_id)
        return _versions(conn, room_id, self._session(conn, room, session_id, required=required))

    # -- admin: rooms, recordings, crops, slides --------------------------------------------

    def create_room(
        self,
        partner_id: int,
        *,
        room_id: int | None = None,
        title: str = "",
        product_type: int = 1,
        long_term: bool = False,
    ) -> Room:
        """Create a room of an account (short-term unless ``long_term``)."""
        if product_type not in (1, 2, 3, 4):
            raise InvalidParameter(f"product_type must be 1-4, got {product_type}", "product_type")
        with self.db.tx() as conn:
            found = conn.execute(
                select(t.accounts.c.partner_id).where(t.accounts.c.partner_id == partner_id)
            ).first()
            if found is None:
                raise AccountNotFound(f"账号不存在 partner_id={partner_id}")
            if room_id is None:
                room_id = self.db.next_value(conn, "room", FIRST_ROOM_ID)
            elif _room_row(conn, room_id) is not None:
                raise AlreadyExists(f"room {room_id} already exists", "room_id")
            room = Room(
                room_id=room_id,
                partner_id=partner_id,
                title=title or f"Room {room_id}",
                product_type=product_type,
                is_long_term=long_term,
                deleted=False,
                created_at=self.now(),
            )
            conn.execute(insert(t.rooms).values(**room.__dict__))
        return room

    def delete_room(self, room_id: int) -> None:
        """Mark a room deleted: its calls then answer 3002."""
        with self.db.tx() as conn:
            done = conn.execute(
                update(t.rooms).where(t.rooms.c.room_id == room_id).values(deleted=True)
            )
            if not done.rowcount:
                raise RoomNotFound(f"房间不存在 room_id={room_id}")

    def create_recording(
        self,
        room_id: int,
        *,
        name: str | None = None,
        status: int = NOT_RECORDED,
        session_id: int | None = None,
        length: int = 3600,
        create_time: int | None = None,
    ) -> Playback:
        """Start a new recording (version 0, main) of a room; long-term rooms get a new session."""
        with self.db.tx() as conn:
            _lock_rooms(conn, room_id)
            room = _room_row(conn, room_id)
            if room is None:
                raise RoomNotFound(f"房间不存在 room_id={room_id}")
            created = self.now() if create_time is None else create_time
            if room.is_long_term:
                if session_id is None:
                    taken = {r.session_id for r in _live(conn, room_id)}
                    ordinal = 1
                    while session_id_for(created, ordinal) in taken:
                        ordinal += 1
                    session_id = session_id_for(created, ordinal)
            elif session_id:
                raise InvalidParameter(
                    f"room {room_id} is short-term; it has no sessions", "session_id"
                )
            session_id = session_id or 0
            if _live(conn, room_id, session_id):
                raise AlreadyExists(
                    f"room {room_id} session {session_id} already has a playback", "session_id"
                )
            video_id = self.db.next_value(conn, "video", FIRST_VIDEO_ID)
            fields: dict[str, Any] = {
                "total_size": 0,
                "total_transcode_size": 0,
                "preface_url": "",
                "file_md5": "",
            }
            if status == READY:
                fields = media(video_id, length)
            playback = Playback(
                id=0,
                partner_id=room.partner_id,
                room_id=room_id,
                session_id=session_id,
                version=0,
                video_id=video_id,
                name=name or room.title,
                status=status,
                length=length,
                total_ext_media_size=0,
                publish_status=1,
                is_main=True,
                play_times=0,
                create_time=created,
                deleted=False,
                **fields,
            )
            return _insert(conn, playback)

    def advance(self, room_id: int, session_id: int = 0, status: int | None = None) -> Playback:
        """Move a recording along 0 -> 10 -> 20 -> 100 (or 30); returns the updated original."""
        with self.db.tx() as conn:
            _lock_rooms(conn, room_id)
            original = _version(_versions(conn, room_id, session_id), 0)
            allowed = LIFECYCLE.get(original.status, ())
            target = allowed[0] if status is None and allowed else status
            if target not in allowed:
                raise BadTransition(
                    f"cannot go from status {original.status} to {target}; allowed: {list(allowed)}",
                    "status",
                )
            values: dict[str, Any] = {"status": target}
            if target == READY:
                values.update(media(original.video_id, original.length))
            if target == FAILED:
                values["length"] = 0
            conn.execute(
                update(t.playbacks).where(t.playbacks.c.id == original.id).values(**values)
            )
            return copy(original, **values)

    def create_crop(
        self,
        room_id: int,
        session_id: int = 0,
        *,
        length: int | None = None,
        name: str | None = None,
    ) -> Playback:
        """Add a crop version cut from the original recording (numbers are never reused)."""
        with self.db.tx() as conn:
            _lock_rooms(conn, room_id)
            original = _version(_versions(conn, room_id, session_id), 0)
            if original.status != READY:
                raise NotGenerated("回放未生成: only a generated playback can be cropped")
            version = _next_version(conn, room_id, session_id)
            video_id = self.db.next_value(conn, "video", FIRST_VIDEO_ID)
            crop_length = length or max(1, original.length // 2)
            crop = copy(
                original,
                version=version,
                video_id=video_id,
                name=name or f"{original.name} (裁剪{version})",
                length=crop_length,
                is_main=False,
                play_times=0,
                create_time=self.now(),
                **media(video_id, crop_length),
            )
            return _insert(conn, crop)

    def add_ppt(
        self, room_id: int, session_id: int = 0, *, name: str, date: str | None = None
    ) -> PptFile:
        """Attach a PDF made from the slides of a room/session."""
        with self.db.tx() as conn:
            ident = self.db.next_value(conn, "ppt", 1)
            ppt = PptFile(
                room_id=room_id,
                session_id=session_id,
                date=date or beijing_date(self.now()),
                name=name,
                url=f"https://doc.emulator.baijiayun.local/ppt/{room_id}/{ident}.pdf",
            )
            conn.execute(insert(t.ppt_files).values(**ppt.__dict__))
        return ppt

    def original(self, room_id: int, session_id: int = 0) -> Playback:
        """The original recording (version 0) of a room/session."""
        with self.db.read() as conn:
            return _version(_versions(conn, room_id, session_id), 0)

    def playback_rows(self, room_id: int, *, include_deleted: bool = False) -> list[Playback]:
        """Every version row of a room, oldest first."""
        with self.db.read() as conn:
            query = select(t.playbacks).where(t.playbacks.c.room_id == room_id)
            if not include_deleted:
                query = query.where(t.playbacks.c.deleted.is_(False))
            rows = conn.execute(query.order_by(t.playbacks.c.id)).all()
        return [Playback(**r._mapping) for r in rows]

    # -- the OpenAPI operations -------------------------------------------------------------

    def main_version(self, partner_id: int, room_id: int, session_id: int | None) -> Playback:
        """getBasicInfo: the main version of a playback."""
        caller, main = self.main_version_and_caller(partner_id, room_id, session_id)
        if caller.account is None:
            raise AccountNotFound(f"账号不存在 partner_id={partner_id}")
        return main()

    def main_version_and_caller(
        self, partner_id: int, room_id: int, session_id: int | None
    ) -> tuple[Caller, Callable[[], Playback]]:
        """The caller (account, faults flag) and getBasicInfo's answer, read in one round trip.

        The answer is a function that returns the main version or raises why there is none,
        so the caller can authenticate with the account first.
        """
        joined = self.db.fetch(
            _ACCOUNT_ROOM_AND_LIVE, {"partner_id": partner_id, "room_id": room_id}
        )
        return self._caller_and_main(joined, partner_id, room_id, session_id)

    async def main_version_and_caller_async(
        self, partner_id: int, room_id: int, session_id: int | None
    ) -> tuple[Caller, Callable[[], Playback]]:
        """:meth:`main_version_and_caller` from the event loop (the server's hot path)."""
        joined = await self.db.fetch_async(
            _ACCOUNT_ROOM_AND_LIVE, {"partner_id": partner_id, "room_id": room_id}
        )
        return self._caller_and_main(joined, partner_id, room_id, session_id)

    def _caller_and_main(
        self,
        joined: Sequence[Sequence[Any]],
        partner_id: int,
        room_id: int,
        session_id: int | None,
    ) -> tuple[Caller, Callable[[], Playback]]:
        if not joined:

            def nothing() -> Playback:
                raise AccountNotFound(f"账号不存在 partner_id={partner_id}")

            return Caller(None, True), nothing
        first = joined[0]
        account = Account(*first[_A_AT:_R_AT])

        def answer() -> Playback:
            found = Room(*first[_R_AT:_P_AT]) if first[_R_AT] is not None else None
            room = self._owned(found, partner_id, room_id)
            live = [Playback(*row[_P_AT:]) for row in joined if row[_P_AT] is not None]
            session = self._session(None, room, session_id, required=False, live=live)
            rows = [r for r in live if r.session_id == session]
            if not rows:
                _versions_missing(room_id, session)
            return _main(rows)

        return Caller(account, bool(first[0])), answer

    def list_playbacks(
        self,
        partner_id: int,
        page: int,
        page_size: int,
        product_type: int | None = None,
        crop_video: int = 0,
        room_id: int | None = None,
    ) -> tuple[int, list[Playback]]:
        """getList: (total, one page of playbacks, newest first)."""
        p, r = t.playbacks, t.rooms
        where = [p.c.partner_id == partner_id, p.c.deleted.is_(False), r.c.deleted.is_(False)]
        if not crop_video:
            where.append(p.c.version == 0)
        if product_type is not None:
            where.append(r.c.product_type == product_type)
        if room_id is not None:
            where.append(p.c.room_id == room_id)
        joined = p.join(r, r.c.room_id == p.c.room_id)
        offset = (page - 1) * page_size
        with self.db.read() as conn:
            total = conn.execute(
                select(func.count()).select_from(joined).where(*where)
            ).scalar_one()
            if offset >= total:  # also keeps a huge page number from overflowing the database
                return int(total), []
            rows = conn.execute(
                select(p)
                .select_from(joined)
                .where(*where)
                .order_by(p.c.create_time.desc(), p.c.id.desc())
                .limit(page_size)
                .offset(offset)
            ).all()
        return int(total), [Playback(**x._mapping) for x in rows]

    def issue_tokens(
        self, partner_id: int, wanted: Sequence[tuple[int, int | None]], expires_in: int
    ) -> list[str]:
        """Player tokens for (room_id, session_id) pairs, all or none."""
        now = self.now()
        with self.db.tx() as conn:
            made = []
            for room_id, session_id in wanted:
                room = self._room(conn, partner_id, room_id)
                session = self._session(conn, room, session_id, required=False)
                _versions(conn, room_id, session)
                token = secrets.token_urlsafe(48)
                conn.execute(
                    insert(t.tokens).values(
                        token=token,
                        partner_id=partner_id,
                        room_id=room_id,
                        session_id=session,
                        expires_at=min(now + expires_in, INT64_MAX) if expires_in else None,
                        created_at=now,
                    )
                )
                made.append(token)
            return made

    def sessions(self, partner_id: int, room_id: int) -> list[Playback]:
        """getSessionList: the original recording of each session (none for short-term rooms)."""
        with self.db.read() as conn:
            room = self._room(conn, partner_id, room_id)
            if not room.is_long_term:
                return []
            return [r for r in _live(conn, room_id) if r.version == 0]

    def set_publish_status(
        self, partner_id: int, room_id: int, status: int, session_id: int | None
    ) -> None:
        """setPublishStatus: publish (1) or block (2) every version of a playback."""
        with self.db.tx() as conn:
            _lock_rooms(conn, room_id)
            rows = self._playback(conn, partner_id, room_id, session_id, True)
            conn.execute(
                update(t.playbacks)
                .where(
                    t.playbacks.c.room_id == room_id,
                    t.playbacks.c.session_id == rows[0].session_id,
                )
                .values(publish_status=status)
            )

    def delete(
        self, partner_id: int, room_id: int, session_id: int | None, version: int | None
    ) -> None:
        """delete: a whole playback, or one version (the main moves to the first left)."""
        with self.db.tx() as conn:
            _lock_rooms(conn, room_id)
            rows = self._playback(conn, partner_id, room_id, session_id, True)
            doomed = rows if version is None else [_version(rows, version)]
            ids = [r.id for r in doomed]
            conn.execute(
                update(t.playbacks)
                .where(t.playbacks.c.id.in_(ids))
                .values(deleted=True, is_main=False)
            )
            remaining = [r for r in rows if r.id not in ids]
            if remaining and not any(r.is_main for r in remaining):
                conn.execute(
                    update(t.playbacks)
                    .where(t.playbacks.c.id == remaining[0].id)
                    .values(is_main=True)
                )

    def rename(self, partner_id: int, room_id: int, name: str, session_id: int | None) -> None:
        """update: rename every live version of a playback."""
        with self.db.tx() as conn:
            _lock_rooms(conn, room_id)
            rows = self._playback(conn, partner_id, room_id, session_id, True)
            conn.execute(
                update(t.playbacks)
                .where(
                    t.playbacks.c.room_id == room_id,
                    t.playbacks.c.session_id == rows[0].session_id,
                    t.playbacks.c.deleted.is_(False),
                )
                .values(name=name)
            )

    def versions(
        self,
        partner_id: int,
        room_id: int,
        session_id: int | None,
        product_type: int | None = None,
    ) -> list[Playback]:
        """getCropList: every live version of a playback (none if the product type differs)."""
        with self.db.read() as conn:
            room = self._room(conn, partner_id, room_id)
            session = self._session(conn, room, session_id, required=True)
            rows = _versions(conn, room_id, session)
        if product_type is not None and product_type != room.product_type:
            return []
        return rows

    def set_main_version(
        self, partner_id: int, room_id: int, version: int, session_id: int | None
    ) -> None:
        """setMainVersion."""
        with self.db.tx() as conn:
            _lock_rooms(conn, room_id)
            rows = self._playback(conn, partner_id, room_id, session_id, True)
            _mark_main(conn, _version(rows, version))

    def ppt_files(self, partner_id: int, room_id: int, session_id: int | None) -> list[PptFile]:
        """getPlaybackPptUrl: the PDFs of one session."""
        with self.db.read() as conn:
            room = self._room(conn, partner_id, room_id)
            session = self._session(conn, room, session_id, required=False)
            rows = conn.execute(
                select(t.ppt_files)
                .where(t.ppt_files.c.room_id == room_id, t.ppt_files.c.session_id == session)
                .order_by(t.ppt_files.c.id)
            ).all()
        return [PptFile(r.room_id, r.session_id, r.date, r.name, r.url) for r in rows]

    def ppt_file_list(self, partner_id: int, room_id: int, date: str | None) -> list[PptFile]:
        """getPlaybackPptUrlList: the PDFs of a room, optionally of one day."""
        with self.db.read() as conn:
            self._room(conn, partner_id, room_id)
            query = select(t.ppt_files).where(t.ppt_files.c.room_id == room_id)
            if date is not None:
                query = query.where(t.ppt_files.c.date == date)
            rows = conn.execute(query.order_by(t.ppt_files.c.session_id, t.ppt_files.c.id)).all()
        return [PptFile(r.room_id, r.session_id, r.date, r.name, r.url) for r in rows]

    def replace(
        self,
        partner_id: int,
        kind: int,
        source: tuple[int, int | None, int | None],
        target: tuple[int, int | None, int | None],
        make_main: bool,
    ) -> None:
        """replacePlayback: type 1 copies the source media over the target version, type 2 adds it."""
        with self.db.tx() as conn:
            _lock_rooms(conn, source[0], target[0])
            picked = []
            for room_id, session_id, version in (source, target):
                rows = self._playback(conn, partner_id, room_id, session_id, True)
                picked.append(_main(rows) if version is None else _version(rows, version))
            src, dst = picked
            if src.status != READY:
                raise NotGenerated("源回放未生成: the source playback is not generated")
            fields: dict[str, Any] = {
                "video_id": src.video_id,
                "length": src.length,
                "total_size": src.total_size,
                "total_transcode_size": src.total_transcode_size,
                "total_ext_media_size": src.total_ext_media_size,
                "preface_url": src.preface_url,
                "file_md5": src.file_md5,
                "status": READY,
            }
            if kind == 1:
                conn.execute(update(t.playbacks).where(t.playbacks.c.id == dst.id).values(**fields))
                result = dst
            else:
                result = _insert(
                    conn,
                    copy(
                        dst,
                        **fields,
                        version=_next_version(conn, dst.room_id, dst.session_id),
                        is_main=False,
                        play_times=0,
                        create_time=self.now(),
                    ),
                )
            if make_main:
                _mark_main(conn, result)

    # -- the player page --------------------------------------------------------------------

    def open_player(self, room_id: int, session_id: int | None, token: str) -> Playback:
        """Check a token for the web player and count the play; PlayerRefused says why not."""
        with self.db.tx() as conn:
            _lock_rooms(conn, room_id)
            main = self.player_playback(conn, room_id, session_id, token)
            conn.execute(
                update(t.playbacks)
                .where(t.playbacks.c.id == main.id)
                .values(play_times=main.play_times + 1)
            )
            return main

    def player_playback(
        self, conn: Connection, room_id: int, session_id: int | None, token: str
    ) -> Playback:
        """The main version a player token opens (the page and its beacons alike), inside
        ``conn``'s transaction; PlayerRefused says why the token opens nothing."""
        row = conn.execute(select(t.tokens).where(t.tokens.c.token == token)).first()
        found = None if row is None else Token(**row._mapping)
        if found is None or found.room_id != room_id:
            raise PlayerRefused("token is not valid for this room")
        room = _room_row(conn, room_id)
        if room is None or room.deleted:
            raise PlayerRefused("room does not exist")
        wanted = session_id or 0
        if room.is_long_term and not session_id:
            wanted = found.session_id
        if found.session_id != wanted:
            raise PlayerRefused("token is for another session")
        if found.expires_at is not None and found.expires_at < self.now():
            raise PlayerRefused("token has expired")
        rows = _live(conn, room_id, wanted)
        if not rows:
            raise PlayerRefused("playback no longer exists")
        main = _main(rows)
        if main.publish_status == BLOCKED:
            raise PlayerRefused("playback is blocked")
        return main
