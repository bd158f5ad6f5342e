"""The emulator's tables (SQLAlchemy Core): accounts, rooms, playbacks, tokens, PDFs, callbacks, stats, calls, faults, plays."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

accounts = Table(
    "bjy_accounts",
    metadata,
    Column("partner_id", BigInteger, primary_key=True, autoincrement=False),
    Column("partner_key", String(128), nullable=False),
    Column("secret_key", String(128), nullable=False),
    Column("private_domain", String(64), nullable=False),
    Column("transcode_callback_url", String(512), nullable=False, default=""),
    Column("created_at", BigInteger, nullable=False),
)

rooms = Table(
    "bjy_rooms",
    metadata,
    Column("room_id", BigInteger, primary_key=True, autoincrement=False),
    Column("partner_id", BigInteger, nullable=False, index=True),
    Column("title", String(200), nullable=False),
    Column("product_type", Integer, nullable=False),
    Column("is_long_term", Boolean, nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("created_at", BigInteger, nullable=False),
)

# One row per (room, session, version); version 0 is the original recording.
playbacks = Table(
    "bjy_playbacks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("partner_id", BigInteger, nullable=False),
    Column("room_id", BigInteger, nullable=False),
    Column("session_id", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
    Column("video_id", BigInteger, nullable=False),
    Column("name", String(200), nullable=False),
    Column("status", Integer, nullable=False),
    Column("length", Integer, nullable=False, default=0),
    Column("total_size", BigInteger, nullable=False, default=0),
    Column("total_transcode_size", BigInteger, nullable=False, default=0),
    Column("total_ext_media_size", BigInteger, nullable=False, default=0),
    Column("preface_url", String(512), nullable=False, default=""),
    Column("file_md5", String(32), nullable=False, default=""),
    Column("publish_status", Integer, nullable=False, default=1),
    Column("is_main", Boolean, nullable=False, default=False),
    Column("play_times", Integer, nullable=False, default=0),
    Column("create_time", BigInteger, nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    # A version number names one row forever (deleted rows keep theirs): never two, never reused.
    Index("ix_bjy_playbacks_room", "room_id", "session_id", "version", unique=True),
    Index("ix_bjy_playbacks_partner_time", "partner_id", "create_time"),
)
# The console's catalog, newest first by (create_time, id), its pages read by keyset, its counts
# and status filters answered from the index alone.
playbacks_catalog = Index(
    "ix_bjy_playbacks_catalog",
    playbacks.c.version,
    playbacks.c.deleted,
    playbacks.c.create_time,
    playbacks.c.id,
    playbacks.c.status,
    playbacks.c.publish_status,
)

tokens = Table(
    "bjy_player_tokens",
    metadata,
    Column("token", String(128), primary_key=True),
    Column("partner_id", BigInteger, nullable=False),
    Column("room_id", BigInteger, nullable=False),
    Column("session_id", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
)

ppt_files = Table(
    "bjy_ppt_files",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("room_id", BigInteger, nullable=False, index=True),
    Column("session_id", BigInteger, nullable=False),
    Column("date", String(10), nullable=False),
    Column("name", String(200), nullable=False),
    Column("url", String(512), nullable=False),
)

deliveries = Table(
    "bjy_callback_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("partner_id", BigInteger, nullable=False),
    Column("url", String(512), nullable=False),
    Column("qid", String(32), nullable=False, unique=True),
    Column("payload", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
)

delivery_attempts = Table(
    "bjy_callback_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", Integer, nullable=False, index=True),
    Column("attempt", Integer, nullable=False),
    Column("at", Float, nullable=False),
    Column("http_status", Integer, nullable=True),
    Column("reply", Text, nullable=False, default=""),
    Column("error", Text, nullable=False, default=""),
    Column("ok", Boolean, nullable=False),
)

counters = Table(
    "bjy_counters",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# Calls per partner, endpoint and outcome (served, rate_limited, auth, fault): shared by workers.
call_stats = Table(
    "bjy_call_stats",
    metadata,
    Column("partner_id", BigInteger, primary_key=True, autoincrement=False),
    Column("endpoint", String(64), primary_key=True),
    Column("outcome", String(16), primary_key=True),
    Column("calls", BigInteger, nullable=False),
)

# The most recent OpenAPI calls (the console's Calls page): written with the statistics,
# trimmed to the newest CALLS_KEPT rows, so every worker and host shows the same list.
calls = Table(
    "bjy_calls",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("partner_id", BigInteger, nullable=False),
    Column("endpoint", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("code", Integer, nullable=False),
    Column("why", Text, nullable=False),
)

# The rate window shared by every worker and host: one lock row per partner, one row per call.
rate_partners = Table(
    "bjy_rate_partners",
    metadata,
    Column("partner_id", BigInteger, primary_key=True, autoincrement=False),
)

rate_calls = Table(
    "bjy_rate_calls",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("partner_id", BigInteger, nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_bjy_rate_calls_partner_at", "partner_id", "at"),
)

# Fault rules, shared by every worker and host: a counted rule's firings are claimed in SQL.
faults = Table(
    "bjy_faults",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("endpoint", String(100), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("value", Float, nullable=False),
    Column("times", Integer, nullable=True),
    Column("probability", Float, nullable=True),
    Column("hits", BigInteger, nullable=False, default=0),
)

# One row per play (docs/protocol.md#viewing-records): made by the player's first beacon, grown by the next ones;
# times are unix seconds (the wire writes them in Beijing time).
play_records = Table(
    "bjy_play_records",
    metadata,
    Column("guid", String(32), primary_key=True),
    Column("partner_id", BigInteger, nullable=False),
    Column("room_id", BigInteger, nullable=False),
    Column("session_id", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
    Column("video_id", BigInteger, nullable=False),
    Column("product_type", Integer, nullable=False),
    Column("uuid", String(64), nullable=False),
    Column("user_number", String(64), nullable=False),
    Column("user_name", String(100), nullable=False),
    Column("play_begin_time", BigInteger, nullable=False),
    Column("play_end_time", BigInteger, nullable=False),
    Column("play_length", Integer, nullable=False),
    Column("duration_ms", BigInteger, nullable=False),
    Column("position_ms", BigInteger, nullable=False),
    Column("client_type", Integer, nullable=False),
    Column("user_ip", String(64), nullable=False),
    Column("area", String(64), nullable=False),
    Column("last_beacon", Float, nullable=False),
    Column("ended", Boolean, nullable=False),
    Index("ix_bjy_play_records_account", "partner_id", "play_begin_time", "guid"),
    Index("ix_bjy_play_records_room", "room_id", "session_id", "play_begin_time"),
)
