"""Emulator state on a real database: the playback semantics of protocol §11, no HTTP here."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.pool import StaticPool

from . import schema as t

__all__ = ["BEIJING", "EmulatorError", "State", "make_engine"]

BEIJING = dt.timezone(dt.timedelta(hours=8))
READY, FAILED, TRANSCODING, RECORDING, NOT_RECORDED = 100, 30, 20, 10, 0
LIFECYCLE = {NOT_RECORDED: (RECORDING,), RECORDING: (TRANSCODING,), TRANSCODING: (READY, FAILED)}
CALLBACK_STATUSES = (TRANSCODING, FAILED, READY)

Record = dict[str, Any]


class EmulatorError(Exception):
    """A business error the emulator answers with: BaijiaYun ``code`` and ``msg``."""

    def __init__(self, code: int, msg: str) -> None:
        self.code = code
        self.msg = msg
        super().__init__(f"{code}: {msg}")


def make_engine(url: str) -> Engine:
    """Create the engine for a SQLite file/memory URL or a PostgreSQL URL (psycopg 3)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        memory = url in ("sqlite://", "sqlite:///:memory:")
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False},
            poolclass=StaticPool if memory else None,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    # No pre-ping: it would add a round trip to every request; recycling covers idle drops.
    return create_engine(url, pool_size=5, pool_recycle=1800)


def beijing_time(seconds: int) -> str:
    """Unix seconds as ``YYYY-MM-DD HH:MM:SS`` in China time, as BaijiaYun lists write it."""
    return dt.datetime.fromtimestamp(seconds, BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _row(row: Row[Any] | None) -> Record | None:
    return None if row is None else dict(row._mapping)


# Statements of the hot read paths, built once (building a select costs more than running it).
_ACCOUNT = select(t.accounts).where(t.accounts.c.partner_id == bindparam("partner_id"))
_ROOM = select(t.rooms).where(t.rooms.c.room_id == bindparam("room_id"))
_LIVE_ROOM = (
    select(t.playbacks)
    .where(t.playbacks.c.room_id == bindparam("room_id"), t.playbacks.c.deleted.is_(False))
    .order_by(t.playbacks.c.session_id, t.playbacks.c.version)
)
_LIVE_SESSION = _LIVE_ROOM.where(t.playbacks.c.session_id == bindparam("session_id"))


def _exists(conn: Connection, column: Any, value: int) -> bool:
    return conn.execute(select(column).where(column == value)).first() is not None


def _insert(conn: Connection, table: Any, values: Record) -> int:
    key = conn.execute(insert(table).values(**values)).inserted_primary_key
    assert key is not None
    return int(key[0])


class State:
    """All emulator state behind one lock: every operation is one short transaction."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock
        self._lock = threading.RLock()
        self._accounts: dict[int, Record] = {}
        # PostgreSQL reads skip BEGIN/COMMIT round trips; pysqlite never begins for a SELECT.
        postgres = engine.dialect.name == "postgresql"
        self._reader = (
            engine.execution_options(isolation_level="AUTOCOMMIT") if postgres else engine
        )
        t.metadata.create_all(engine)

    def now(self) -> int:
        """The emulator's current unix time in seconds."""
        return int(self.clock())

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        """One serialised transaction."""
        with self._lock, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A serialised read without BEGIN/COMMIT round trips (the lock already orders it)."""
        with self._lock, self._reader.connect() as conn:
            yield conn

    def reset(self) -> None:
        """Forget everything: drop and recreate all tables."""
        with self._lock:
            self._accounts.clear()
            t.metadata.drop_all(self.engine)
            t.metadata.create_all(self.engine)

    # -- counters and lookups -------------------------------------------------------------

    def _next(self, conn: Connection, name: str, start: int) -> int:
        current = conn.execute(select(t.counters.c.value).where(t.counters.c.name == name)).scalar()
        if current is None:
            conn.execute(insert(t.counters).values(name=name, value=start))
            return start
        conn.execute(update(t.counters).where(t.counters.c.name == name).values(value=current + 1))
        return int(current) + 1

    def account(self, partner_id: int) -> Record | None:
        """The account row, or None (cached: every request reads it; writes here drop the cache)."""
        cached = self._accounts.get(partner_id)
        if cached is not None:
            return dict(cached)
        with self.read() as conn:
            found = _row(conn.execute(_ACCOUNT, {"partner_id": partner_id}).first())
            if found is not None:
                self._accounts[partner_id] = found
        return None if found is None else dict(found)

    def _room(self, conn: Connection, partner_id: int, room_id: int) -> Record:
        room = _row(conn.execute(_ROOM, {"room_id": room_id}).first())
        if room is None or room["partner_id"] != partner_id:
            raise EmulatorError(3001, f"房间不存在 room_id={room_id}")
        if room["deleted"]:
            raise EmulatorError(3002, f"房间已删除 room_id={room_id}")
        return room

    def _live(self, conn: Connection, room_id: int, session_id: int | None = None) -> list[Record]:
        if session_id is None:
            rows = conn.execute(_LIVE_ROOM, {"room_id": room_id}).all()
        else:
            rows = conn.execute(_LIVE_SESSION, {"room_id": room_id, "session_id": session_id}).all()
        return [dict(r._mapping) for r in rows]

    def _session(
        self, conn: Connection, room: Record, session_id: int | None, *, required: bool
    ) -> int:
        """Resolve the session a call means; long-term rooms default to their first session."""
        room_id = room["room_id"]
        if not room["is_long_term"]:
            if session_id:
                raise EmulatorError(
                    1,
                    f"回放不存在: room {room_id} is not long-term and has no session {session_id}",
                )
            return 0
        if session_id:
            return session_id
        if required:
            raise EmulatorError(
                1001, f"参数错误: session_id is required for long-term room {room_id}"
            )
        first = conn.execute(
            select(func.min(t.playbacks.c.session_id)).where(
                t.playbacks.c.room_id == room_id, t.playbacks.c.deleted.is_(False)
            )
        ).scalar()
        if first is None:
            raise EmulatorError(1, f"回放不存在: room {room_id} has no playback")
        return int(first)

    def _versions(self, conn: Connection, room_id: int, session_id: int) -> list[Record]:
        rows = self._live(conn, room_id, session_id)
        if not rows:
            where = f"room {room_id}" + (f" session {session_id}" if session_id else "")
            raise EmulatorError(1, f"回放不存在: no playback for {where}")
        return rows

    @staticmethod
    def _main(rows: Sequence[Record]) -> Record:
        return next((r for r in rows if r["is_main"]), rows[0])

    @staticmethod
    def _version(rows: Sequence[Record], version: int) -> Record:
        found = next((r for r in rows if r["version"] == version), None)
        if found is None:
            raise EmulatorError(1, f"回放版本不存在: version {version} not found")
        return found

    # -- admin: accounts, rooms, recordings -----------------------------------------------

    def create_account(
        self,
        partner_id: int | None = None,
        partner_key: str | None = None,
        secret_key: str | None = None,
        private_domain: str | None = None,
    ) -> Record:
        """Create an account; missing credentials are generated."""
        with self.tx() as conn:
            if partner_id is None:
                partner_id = self._next(conn, "partner", 30000001)
            elif _exists(conn, t.accounts.c.partner_id, partner_id):
                raise EmulatorError(1001, f"account {partner_id} already exists")
            record = {
                "partner_id": partner_id,
                "partner_key": partner_key or secrets.token_urlsafe(48),
                "secret_key": secret_key or secrets.token_hex(16),
                "private_domain": private_domain or f"e{partner_id}",
                "transcode_callback_url": "",
                "created_at": self.now(),
            }
            conn.execute(insert(t.accounts).values(**record))
            return record

    def rotate_key(self, partner_id: int, secret_key: str, regenerate: bool) -> str:
        """createkey: return (or with ``regenerate`` replace) the partner_key."""
        with self.tx() as conn:
            account = _row(conn.execute(_ACCOUNT, {"partner_id": partner_id}).first())
            if account is None:
                raise EmulatorError(2001, f"账号不存在 partner_id={partner_id}")
            if not secrets.compare_digest(account["secret_key"].encode(), secret_key.encode()):
                raise EmulatorError(1002, "secret_key 错误")
            if not regenerate:
                return str(account["partner_key"])
            key = secrets.token_urlsafe(48)
            self._accounts.pop(partner_id, None)
            conn.execute(
                update(t.accounts)
                .where(t.accounts.c.partner_id == partner_id)
                .values(partner_key=key)
            )
            return key

    def create_room(
        self,
        partner_id: int,
        *,
        room_id: int | None = None,
        title: str = "",
        product_type: int = 1,
        long_term: bool = False,
    ) -> Record:
        """Create a room of an account (short-term unless ``long_term``)."""
        if product_type not in (1, 2, 3, 4):
            raise EmulatorError(1001, f"product_type must be 1-4, got {product_type}")
        with self.tx() as conn:
            if not _exists(conn, t.accounts.c.partner_id, partner_id):
                raise EmulatorError(2001, f"账号不存在 partner_id={partner_id}")
            if room_id is None:
                room_id = self._next(conn, "room", 21000000000001)
            elif _exists(conn, t.rooms.c.room_id, room_id):
                raise EmulatorError(1001, f"room {room_id} already exists")
            record = {
                "room_id": room_id,
                "partner_id": partner_id,
                "title": title or f"Room {room_id}",
                "product_type": product_type,
                "is_long_term": long_term,
                "deleted": False,
                "created_at": self.now(),
            }
            conn.execute(insert(t.rooms).values(**record))
            return record

    def delete_room(self, room_id: int) -> None:
        """Mark a room deleted: its calls then answer 3002."""
        with self.tx() as conn:
            done = conn.execute(
                update(t.rooms).where(t.rooms.c.room_id == room_id).values(deleted=True)
            )
            if not done.rowcount:
                raise EmulatorError(3001, f"房间不存在 room_id={room_id}")

    def create_recording(
        self,
        room_id: int,
        *,
        name: str | None = None,
        status: int = NOT_RECORDED,
        session_id: int | None = None,
        length: int = 3600,
        create_time: int | None = None,
    ) -> Record:
        """Start a new recording (version 0, main) of a room; long-term rooms get a new session."""
        with self.tx() as conn:
            room = _row(conn.execute(select(t.rooms).where(t.rooms.c.room_id == room_id)).first())
            if room is None:
                raise EmulatorError(3001, f"房间不存在 room_id={room_id}")
            created = self.now() if create_time is None else create_time
            if room["is_long_term"]:
                if session_id is None:
                    day = dt.datetime.fromtimestamp(created, BEIJING).strftime("%Y%m%d")
                    taken = {r["session_id"] for r in self._live(conn, room_id)}
                    ordinal = 1
                    while int(f"{day}{ordinal}") in taken:
                        ordinal += 1
                    session_id = int(f"{day}{ordinal}")
            elif session_id:
                raise EmulatorError(1001, f"room {room_id} is short-term; it has no sessions")
            session_id = session_id or 0
            if self._live(conn, room_id, session_id):
                raise EmulatorError(
                    1001, f"room {room_id} session {session_id} already has a playback"
                )
            video_id = self._next(conn, "video", 150001)
            record: Record = {
                "partner_id": room["partner_id"],
                "room_id": room_id,
                "session_id": session_id,
                "version": 0,
                "video_id": video_id,
                "name": name or room["title"],
                "status": status,
                "length": length,
                "total_size": 0,
                "total_transcode_size": 0,
                "total_ext_media_size": 0,
                "preface_url": "",
                "file_md5": "",
                "publish_status": 1,
                "is_main": True,
                "play_times": 0,
                "create_time": created,
                "deleted": False,
            }
            if status == READY:
                record.update(self._media(video_id, length))
            record["id"] = _insert(conn, t.playbacks, record)
            return record

    @staticmethod
    def _media(video_id: int, length: int) -> Record:
        size = length * 80_000
        return {
            "total_size": size,
            "total_transcode_size": size * 3,
            "preface_url": f"https://img.emulator.baijiayun.local/cover/{video_id}.jpg",
            "file_md5": hashlib.md5(str(video_id).encode()).hexdigest(),
        }

    def advance(self, room_id: int, session_id: int = 0, status: int | None = None) -> Record:
        """Move a recording along 0 -> 10 -> 20 -> 100 (or 30); returns the updated original."""
        with self.tx() as conn:
            rows = self._versions(conn, room_id, session_id)
            original = self._version(rows, 0)
            allowed = LIFECYCLE.get(original["status"], ())
            target = allowed[0] if status is None and allowed else status
            if target not in allowed:
                raise EmulatorError(
                    1001,
                    f"cannot go from status {original['status']} to {target}; allowed: {list(allowed)}",
                )
            values: Record = {"status": target}
            if target == READY:
                values.update(self._media(original["video_id"], original["length"]))
            if target == FAILED:
                values["length"] = 0
            conn.execute(
                update(t.playbacks).where(t.playbacks.c.id == original["id"]).values(**values)
            )
            original.update(values)
            return original

    def create_crop(
        self,
        room_id: int,
        session_id: int = 0,
        *,
        length: int | None = None,
        name: str | None = None,
    ) -> Record:
        """Add a crop version (1, 2, …) cut from the original recording."""
        with self.tx() as conn:
            rows = self._versions(conn, room_id, session_id)
            original = self._version(rows, 0)
            if original["status"] != READY:
                raise EmulatorError(1, "回放未生成: only a generated playback can be cropped")
            version = max(r["version"] for r in rows) + 1
            video_id = self._next(conn, "video", 150001)
            crop_length = length or max(1, original["length"] // 2)
            record = {
                **{k: v for k, v in original.items() if k != "id"},
                "version": version,
                "video_id": video_id,
                "name": name or f"{original['name']} (裁剪{version})",
                "length": crop_length,
                "is_main": False,
                "play_times": 0,
                "create_time": self.now(),
                **self._media(video_id, crop_length),
            }
            record["id"] = _insert(conn, t.playbacks, record)
            return record

    def add_ppt(
        self, room_id: int, session_id: int = 0, *, name: str, date: str | None = None
    ) -> Record:
        """Attach a PDF made from the slides of a room/session."""
        with self.tx() as conn:
            if date is None:
                date = dt.datetime.fromtimestamp(self.now(), BEIJING).strftime("%Y-%m-%d")
            ident = self._next(conn, "ppt", 1)
            record = {
                "room_id": room_id,
                "session_id": session_id,
                "date": date,
                "name": name,
                "url": f"https://doc.emulator.baijiayun.local/ppt/{room_id}/{ident}.pdf",
            }
            conn.execute(insert(t.ppt_files).values(**record))
            return record

    def original(self, room_id: int, session_id: int = 0) -> Record:
        """The original recording (version 0) of a room/session."""
        with self.read() as conn:
            return self._version(self._versions(conn, room_id, session_id), 0)

    def playback_rows(self, room_id: int, *, include_deleted: bool = False) -> list[Record]:
        """Every version row of a room (for tests and the admin API)."""
        with self.read() as conn:
            query = select(t.playbacks).where(t.playbacks.c.room_id == room_id)
            if not include_deleted:
                query = query.where(t.playbacks.c.deleted.is_(False))
            return [dict(r._mapping) for r in conn.execute(query.order_by(t.playbacks.c.id)).all()]

    # -- the OpenAPI operations -----------------------------------------------------------

    def get_basic_info(
        self, partner_id: int, room_id: int, session_id: int | None = None
    ) -> Record:
        with self.read() as conn:
            room = self._room(conn, partner_id, room_id)
            session = self._session(conn, room, session_id, required=False)
            main = self._main(self._versions(conn, room_id, session))
        if main["status"] != READY:
            return {"status": main["status"]}
        return {
            "status": main["status"],
            "video_id": main["video_id"],
            "name": main["name"],
            "length": main["length"],
            "total_size": main["total_size"],
            "total_transcode_size": main["total_transcode_size"],
            "total_ext_media_size": main["total_ext_media_size"],
            "preface_url": main["preface_url"],
            "publish_status": main["publish_status"],
            "create_time": main["create_time"],
        }

    def _item(self, row: Record, base_url: str) -> Record:
        play_url = f"{base_url}/web/playback/index?classid={row['room_id']}"
        if row["session_id"]:
            play_url += f"&session_id={row['session_id']}"
        return {
            "playback_id": row["id"],
            "room_id": row["room_id"],
            "session_id": row["session_id"],
            "version": row["version"],
            "video_id": row["video_id"],
            "name": row["name"],
            "status": row["status"],
            "create_time": beijing_time(row["create_time"]),
            "length": row["length"],
            "total_size": row["total_size"],
            "total_transcode_size": row["total_transcode_size"],
            "play_times": row["play_times"],
            "play_url": play_url,
            "preface_url": row["preface_url"],
            "publish_status": row["publish_status"],
        }

    def get_list(
        self,
        partner_id: int,
        base_url: str,
        page: int,
        page_size: int,
        product_type: int | None = None,
        crop_video: int = 0,
        room_id: int | None = None,
    ) -> Record:
        p, r = t.playbacks, t.rooms
        where = [p.c.partner_id == partner_id, p.c.deleted.is_(False), r.c.deleted.is_(False)]
        if not crop_video:
            where.append(p.c.version == 0)
        if product_type is not None:
            where.append(r.c.product_type == product_type)
        if room_id is not None:
            where.append(p.c.room_id == room_id)
        joined = p.join(r, r.c.room_id == p.c.room_id)
        with self.read() as conn:
            total = conn.execute(
                select(func.count()).select_from(joined).where(*where)
            ).scalar_one()
            rows = conn.execute(
                select(p)
                .select_from(joined)
                .where(*where)
                .order_by(p.c.create_time.desc(), p.c.id.desc())
                .limit(page_size)
                .offset((page - 1) * page_size)
            ).all()
        return {"total": total, "list": [self._item(dict(x._mapping), base_url) for x in rows]}

    def issue_tokens(
        self, partner_id: int, wanted: Sequence[tuple[int, int | None]], expires_in: int
    ) -> list[str]:
        """Tokens for (room_id, session_id) pairs, all or none."""
        now = self.now()
        with self.tx() as conn:
            made = []
            for room_id, session_id in wanted:
                room = self._room(conn, partner_id, room_id)
                session = self._session(conn, room, session_id, required=False)
                self._versions(conn, room_id, session)
                token = secrets.token_urlsafe(48)
                conn.execute(
                    insert(t.tokens).values(
                        token=token,
                        partner_id=partner_id,
                        room_id=room_id,
                        session_id=session,
                        expires_at=now + expires_in if expires_in else None,
                        created_at=now,
                    )
                )
                made.append(token)
            return made

    def get_session_list(self, partner_id: int, room_id: int) -> Record:
        with self.read() as conn:
            room = self._room(conn, partner_id, room_id)
            if not room["is_long_term"]:
                return {"list": []}
            originals = [r for r in self._live(conn, room_id) if r["version"] == 0]
        return {
            "list": [
                {
                    "session_id": r["session_id"],
                    "name": r["name"],
                    "status": r["status"],
                    "create_time": beijing_time(r["create_time"]),
                }
                for r in originals
            ]
        }

    def set_publish_status(
        self, partner_id: int, room_id: int, status: int, session_id: int | None
    ) -> Record:
        with self.tx() as conn:
            room = self._room(conn, partner_id, room_id)
            session = self._session(conn, room, session_id, required=True)
            self._versions(conn, room_id, session)
            conn.execute(
                update(t.playbacks)
                .where(t.playbacks.c.room_id == room_id, t.playbacks.c.session_id == session)
                .values(publish_status=status)
            )
        return {"status": status}

    def delete(
        self, partner_id: int, room_id: int, session_id: int | None, version: int | None
    ) -> None:
        with self.tx() as conn:
            room = self._room(conn, partner_id, room_id)
            session = self._session(conn, room, session_id, required=True)
            rows = self._versions(conn, room_id, session)
            doomed = rows if version is None else [self._version(rows, version)]
            ids = [r["id"] for r in doomed]
            conn.execute(
                update(t.playbacks)
                .where(t.playbacks.c.id.in_(ids))
                .values(deleted=True, is_main=False)
            )
            remaining = [r for r in rows if r["id"] not in ids]
            if remaining and not any(r["is_main"] for r in remaining):
                conn.execute(
                    update(t.playbacks)
                    .where(t.playbacks.c.id == remaining[0]["id"])
                    .values(is_main=True)
                )

    def rename(self, partner_id: int, room_id: int, name: str, session_id: int | None) -> None:
        with self.tx() as conn:
            room = self._room(conn, partner_id, room_id)
            session = self._session(conn, room, session_id, required=True)
            self._versions(conn, room_id, session)
            conn.execute(
                update(t.playbacks)
                .where(
                    t.playbacks.c.room_id == room_id,
                    t.playbacks.c.session_id == session,
                    t.playbacks.c.deleted.is_(False),
                )
                .values(name=name)
            )

    def get_crop_list(
        self,
        partner_id: int,
        base_url: str,
        room_id: int,
        page: int,
        page_size: int,
        product_type: int | None = None,
        session_id: int | None = None,
    ) -> Record:
        with self.read() as conn:
            room = self._room(conn, partner_id, room_id)
            session = self._session(conn, room, session_id, required=True)
            rows = self._versions(conn, room_id, session)
        if product_type is not None and product_type != room["product_type"]:
            rows = []
        chunk = rows[(page - 1) * page_size : page * page_size]
        return {
            "total": len(rows),
            "list": [{**self._item(r, base_url), "is_main": int(r["is_main"])} for r in chunk],
        }

    def set_main_version(
        self, partner_id: int, room_id: int, version: int, session_id: int | None
    ) -> None:
        with self.tx() as conn:
            room = self._room(conn, partner_id, room_id)
            session = self._session(conn, room, session_id, required=True)
            self._mark_main(conn, self._version(self._versions(conn, room_id, session), version))

    @staticmethod
    def _mark_main(conn: Connection, row: Record) -> None:
        p = t.playbacks.c
        conn.execute(
            update(t.playbacks)
            .where(p.room_id == row["room_id"], p.session_id == row["session_id"])
            .values(is_main=p.id == row["id"])
        )

    def ppt_files(self, partner_id: int, room_id: int, session_id: int | None) -> Record:
        with self.read() as conn:
            room = self._room(conn, partner_id, room_id)
            session = self._session(conn, room, session_id, required=False)
            rows = conn.execute(
                select(t.ppt_files)
                .where(t.ppt_files.c.room_id == room_id, t.ppt_files.c.session_id == session)
                .order_by(t.ppt_files.c.id)
            ).all()
        return {"list": [{"name": r.name, "url": r.url} for r in rows]}

    def ppt_file_list(self, partner_id: int, room_id: int, date: str | None) -> Record:
        with self.read() as conn:
            self._room(conn, partner_id, room_id)
            query = select(t.ppt_files).where(t.ppt_files.c.room_id == room_id)
            if date is not None:
                query = query.where(t.ppt_files.c.date == date)
            rows = conn.execute(query.order_by(t.ppt_files.c.session_id, t.ppt_files.c.id)).all()
        return {
            "list": [
                {"session_id": r.session_id, "date": r.date, "name": r.name, "url": r.url}
                for r in rows
            ]
        }

    def replace(
        self,
        partner_id: int,
        kind: int,
        source: tuple[int, int | None, int | None],
        target: tuple[int, int | None, int | None],
        make_main: bool,
    ) -> None:
        """replacePlayback: type 1 copies the source media over the target version, type 2 adds it."""
        with self.tx() as conn:
            picked = []
            for room_id, session_id, version in (source, target):
                room = self._room(conn, partner_id, room_id)
                session = self._session(conn, room, session_id, required=True)
                rows = self._versions(conn, room_id, session)
                picked.append(
                    (rows, self._main(rows) if version is None else self._version(rows, version))
                )
            (_, src), (target_rows, dst) = picked
            if src["status"] != READY:
                raise EmulatorError(1, "源回放未生成: the source playback is not generated")
            media = {
                k: src[k]
                for k in (
                    "video_id",
                    "length",
                    "total_size",
                    "total_transcode_size",
                    "total_ext_media_size",
                    "preface_url",
                    "file_md5",
                )
            }
            media["status"] = READY
            if kind == 1:
                conn.execute(
                    update(t.playbacks).where(t.playbacks.c.id == dst["id"]).values(**media)
                )
                result = dst
            else:
                result = {
                    **{k: v for k, v in dst.items() if k != "id"},
                    **media,
                    "version": max(r["version"] for r in target_rows) + 1,
                    "is_main": False,
                    "play_times": 0,
                    "create_time": self.now(),
                }
                result["id"] = _insert(conn, t.playbacks, result)
            if make_main:
                self._mark_main(conn, result)

    def set_callback_url(self, partner_id: int, url: str) -> None:
        with self.tx() as conn:
            self._accounts.pop(partner_id, None)
            conn.execute(
                update(t.accounts)
                .where(t.accounts.c.partner_id == partner_id)
                .values(transcode_callback_url=url)
            )

    # -- the player page ------------------------------------------------------------------

    def open_player(self, room_id: int, session_id: int | None, token: str) -> Record:
        """Check a token for the web player; count the play. Raises EmulatorError(403, why)."""
        with self.tx() as conn:
            found = _row(conn.execute(select(t.tokens).where(t.tokens.c.token == token)).first())
            if found is None or found["room_id"] != room_id:
                raise EmulatorError(403, "token is not valid for this room")
            room = _row(conn.execute(select(t.rooms).where(t.rooms.c.room_id == room_id)).first())
            if room is None or room["deleted"]:
                raise EmulatorError(403, "room does not exist")
            wanted = session_id or 0
            if room["is_long_term"] and not session_id:
                wanted = found["session_id"]
            if found["session_id"] != wanted:
                raise EmulatorError(403, "token is for another session")
            if found["expires_at"] is not None and found["expires_at"] < self.now():
                raise EmulatorError(403, "token has expired")
            rows = self._live(conn, room_id, wanted)
            if not rows:
                raise EmulatorError(403, "playback no longer exists")
            main = self._main(rows)
            if main["publish_status"] == 2:
                raise EmulatorError(403, "playback is blocked")
            conn.execute(
                update(t.playbacks)
                .where(t.playbacks.c.id == main["id"])
                .values(play_times=main["play_times"] + 1)
            )
            return main

    # -- callback deliveries --------------------------------------------------------------

    def record_delivery(self, partner_id: int, url: str, qid: str, payload: dict[str, str]) -> int:
        with self.tx() as conn:
            return _insert(
                conn,
                t.deliveries,
                dict(
                    partner_id=partner_id,
                    url=url,
                    qid=qid,
                    payload=json.dumps(payload, ensure_ascii=False),
                    state="pending",
                    created_at=self.clock(),
                ),
            )

    def record_attempt(
        self,
        delivery_id: int,
        attempt: int,
        http_status: int | None,
        reply: str,
        error: str,
        ok: bool,
        final: bool,
    ) -> None:
        with self.tx() as conn:
            conn.execute(
                insert(t.delivery_attempts).values(
                    delivery_id=delivery_id,
                    attempt=attempt,
                    at=self.clock(),
                    http_status=http_status,
                    reply=reply[:1000],
                    error=error[:1000],
                    ok=ok,
                )
            )
            state = "delivered" if ok else ("failed" if final else "retrying")
            conn.execute(
                update(t.deliveries).where(t.deliveries.c.id == delivery_id).values(state=state)
            )

    def delivery(self, delivery_id: int) -> Record | None:
        with self.read() as conn:
            return _row(
                conn.execute(select(t.deliveries).where(t.deliveries.c.id == delivery_id)).first()
            )

    def deliveries(self) -> list[Record]:
        """Every callback delivery with its attempts, oldest first."""
        with self.read() as conn:
            found = [
                dict(r._mapping)
                for r in conn.execute(select(t.deliveries).order_by(t.deliveries.c.id)).all()
            ]
            attempts = conn.execute(
                select(t.delivery_attempts).order_by(t.delivery_attempts.c.id)
            ).all()
        by_delivery: dict[int, list[Record]] = {}
        for a in attempts:
            by_delivery.setdefault(a.delivery_id, []).append(
                {k: v for k, v in a._mapping.items() if k not in ("id", "delivery_id")}
            )
        for d in found:
            d["payload"] = json.loads(d["payload"])
            d["attempts"] = by_delivery.get(d["id"], [])
        return found
