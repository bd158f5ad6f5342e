"""The mirror's tables, their schema version, and the engine factory (SQLite or PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    create_engine,
    event,
    select,
)

from ..errors import BaiJiaYunError

__all__ = [
    "DEFAULT_DATABASE",
    "LIST_FIELDS",
    "RECORD_FIELDS",
    "SCHEMA_VERSION",
    "SchemaVersionError",
    "changes",
    "create_schema",
    "make_engine",
    "metadata",
    "open_engine",
    "play_records",
    "playbacks",
    "sync_runs",
    "view_days",
]

DEFAULT_DATABASE = "sqlite:///baijiayun-mirror.db"
SCHEMA_VERSION = 2
"""Bump with every table change; ``create_schema`` then runs the steps in ``MIGRATIONS``."""

metadata = MetaData()

LIST_FIELDS = (
    "playback_id",
    "video_id",
    "name",
    "status",
    "create_time",
    "length",
    "total_size",
    "total_transcode_size",
    "play_times",
    "play_url",
    "preface_url",
    "publish_status",
)
"""The getList item fields kept as columns besides the key (docs/protocol.md#decisions); others go to ``extra``."""

meta = Table(
    "bjy_mirror_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
)

playbacks = Table(
    "bjy_mirror_playbacks",
    metadata,
    Column("room_id", BigInteger, nullable=False),
    Column("session_id", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
    Column("partner_id", BigInteger, nullable=False),
    Column("playback_id", BigInteger, nullable=True),
    Column("video_id", BigInteger, nullable=True),
    Column("name", Text, nullable=True),
    Column("status", Integer, nullable=True),
    Column("create_time", String(19), nullable=True),
    Column("length", BigInteger, nullable=True),
    Column("total_size", BigInteger, nullable=True),
    Column("total_transcode_size", BigInteger, nullable=True),
    Column("play_times", BigInteger, nullable=True),
    Column("play_url", Text, nullable=True),
    Column("preface_url", Text, nullable=True),
    Column("publish_status", Integer, nullable=True),
    Column("is_main", Integer, nullable=True),  # 1/0 from getCropList; NULL until one was read
    Column("extra", JSON, nullable=True),
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("seen_run", Integer, nullable=True),
    Column("deleted_at", Float, nullable=True),
    PrimaryKeyConstraint("room_id", "session_id", "version"),
    Index("ix_bjy_mirror_playbacks_time", "create_time"),
    Index("ix_bjy_mirror_playbacks_status", "status"),
)
"""One row per playback version, keyed like the service: (room_id, session_id, version)."""

changes = Table(
    "bjy_mirror_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("run_id", Integer, nullable=True),
    Column("source", String(16), nullable=False),
    Column("room_id", BigInteger, nullable=False),
    Column("session_id", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("field", String(64), nullable=True),
    Column("old", Text, nullable=True),
    Column("new", Text, nullable=True),
    Index("ix_bjy_mirror_changes_key", "room_id", "session_id", "version"),
)
"""History: ``kind`` is insert, update (one row per field), delete or restore."""

sync_runs = Table(
    "bjy_mirror_sync_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("partner_id", BigInteger, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("ended_at", Float, nullable=True),
    Column("calls", Integer, nullable=False, default=0),
    Column("seen", Integer, nullable=False, default=0),
    Column("inserted", Integer, nullable=False, default=0),
    Column("updated", Integer, nullable=False, default=0),
    Column("deleted", Integer, nullable=False, default=0),
    Column("error", Text, nullable=True),
    # version 2: the play records read by the run (docs/protocol.md#viewing-records), apart from the catalog's
    Column("views_calls", Integer, nullable=False, default=0, server_default="0"),
    Column("views_seen", Integer, nullable=False, default=0, server_default="0"),
    Column("views_inserted", Integer, nullable=False, default=0, server_default="0"),
    Column("views_updated", Integer, nullable=False, default=0, server_default="0"),
    Column("views_error", Text, nullable=True),
)

RECORD_FIELDS = (
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
)
"""A play record's fields kept as columns besides ``guid`` (docs/protocol.md#viewing-records); others go to ``extra``."""

play_records = Table(
    "bjy_mirror_play_records",
    metadata,
    Column("guid", String(64), primary_key=True),
    Column("partner_id", BigInteger, nullable=False),
    Column("uuid", String(64), nullable=True),
    Column("video_id", BigInteger, nullable=True),
    Column("user_name", Text, nullable=True),
    Column("user_number", String(64), nullable=True),  # NULL: an anonymous play
    Column("play_begin_time", String(19), nullable=True),  # China time, as the service writes it
    Column("play_end_time", String(19), nullable=True),
    Column("client_type", Integer, nullable=True),
    Column("play_length", BigInteger, nullable=True),
    Column("user_ip", String(64), nullable=True),
    Column("area", Text, nullable=True),
    Column("room_id", BigInteger, nullable=True),  # NULL: a VOD play (no playback)
    Column("session_id", BigInteger, nullable=True),
    Column("version", Integer, nullable=True),
    Column("extra", JSON, nullable=True),
    Column("first_seen", Float, nullable=False),
    Column("changed_at", Float, nullable=False),  # last time a read changed it
    Column("run_id", Integer, nullable=True),  # the run that wrote it last
    Index("ix_bjy_mirror_play_records_playback", "room_id", "session_id"),
    Index("ix_bjy_mirror_play_records_begin", "play_begin_time"),
)
"""One row per play (``guid``), upserted: a record grows while its play goes on."""

view_days = Table(
    "bjy_mirror_view_days",
    metadata,
    Column("partner_id", BigInteger, nullable=False),
    Column("day", String(10), nullable=False),  # YYYY-MM-DD, a Beijing day
    Column("records", Integer, nullable=False),
    Column("final", Integer, nullable=False),  # 1: no play of that day can still grow
    Column("read_at", Float, nullable=False),
    Column("run_id", Integer, nullable=True),
    PrimaryKeyConstraint("partner_id", "day"),
)
"""The Beijing days whose play records were read, and which of them are final (never re-read)."""

callbacks_seen = Table(
    "bjy_mirror_callbacks",
    metadata,
    Column("qid", String(64), primary_key=True),
    Column("received_at", Float, nullable=False),
    Column("payload", JSON, nullable=False),
)
"""Applied callbacks by ``qid``, so a repeated delivery changes nothing."""

locks = Table(
    "bjy_mirror_locks",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("pid", Integer, nullable=False),
    Column("host", String(255), nullable=False),
    Column("acquired_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)
"""SQLite's single-writer lock: one row per held lock, with a lease and the holder's pid."""

MIGRATIONS: dict[int, list[str]] = {
    2: [
        "ALTER TABLE bjy_mirror_sync_runs ADD COLUMN views_calls INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE bjy_mirror_sync_runs ADD COLUMN views_seen INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE bjy_mirror_sync_runs ADD COLUMN views_inserted INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE bjy_mirror_sync_runs ADD COLUMN views_updated INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE bjy_mirror_sync_runs ADD COLUMN views_error TEXT",
    ],
}
"""SQL to run to go from version N-1 to N (new tables are made by ``create_all`` before it).

2: play records (``bjy_mirror_play_records``, ``bjy_mirror_view_days``) and the views columns
of ``bjy_mirror_sync_runs``."""


class SchemaVersionError(BaiJiaYunError):
    """The database was written by a newer release of the mirror."""


def make_engine(url: str) -> Engine:
    """An engine for a SQLite or a ``postgresql://`` URL (psycopg 3)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.startswith("sqlite"):
        return create_engine(url, pool_size=3, pool_recycle=1800)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def create_schema(engine: Engine) -> int:
    """Create missing tables, migrate older ones, refuse newer ones; return the version."""
    metadata.create_all(engine)
    with engine.begin() as conn:
        # FOR UPDATE (PostgreSQL): two processes opening an old mirror migrate it once.
        found = conn.execute(
            select(meta.c.value).where(meta.c.key == "schema_version").with_for_update()
        ).scalar_one_or_none()
        if found is None:
            conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
            return SCHEMA_VERSION
        version = int(found)
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"the mirror database has schema version {version}; this release knows "
                f"{SCHEMA_VERSION}: upgrade baijiayun"
            )
        for step in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS.get(step, []):
                conn.exec_driver_sql(statement)
        if version < SCHEMA_VERSION:
            conn.execute(
                meta.update()
                .where(meta.c.key == "schema_version")
                .values(value=str(SCHEMA_VERSION))
            )
    return SCHEMA_VERSION


def open_engine(database_url: str) -> Engine:
    """An engine on the mirror's database with its tables created (or their version checked)."""
    engine = make_engine(database_url)
    try:
        create_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine
