"""The emulator's database: engines, schema, transactions with retries, counters, call statistics and recent calls."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Literal, TypeVar

import anyio.to_thread
from sqlalchemy import (
    Boolean,
    Connection,
    Engine,
    Select,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool
from sqlalchemy.util.concurrency import await_, greenlet_spawn, in_greenlet

from . import schema as t

__all__ = ["Concurrency", "Database", "Prepared", "make_engine", "retryable"]

T = TypeVar("T")
Concurrency = Literal["async", "thread"]
"""How PostgreSQL work leaves the event loop: an async driver (psycopg's async connection,
driven through SQLAlchemy's greenlet bridge) or a worker thread with the blocking driver."""

# deadlock, serialisation failure, unique violation (a racing insert: re-run and re-check)
_RETRY_SQLSTATES = frozenset({"40P01", "40001", "23505"})
ATTEMPTS = 12
MAX_PAUSE = 0.05
"""The longest backoff between two attempts, in seconds: contention clears within milliseconds,
and a longer wait only holds the caller (12 attempts stay under half a second of waiting)."""

# PostgreSQL connections per process, at most: HOT_READS (the hot-path reads, per event loop)
# + ASYNC_POOL (the async engine: every other request's work) + BLOCKING_POOL (the admin API,
# callbacks and seeding in threads): 16 per process (with postgres_io="thread", all 16 on the
# blocking engine). Each of uvicorn's workers has its own, so `serve --workers N` holds up to
# 16 N of the server's max_connections (100 by default): N = 4 leaves room for other clients.
HOT_READS = 8
ASYNC_POOL = 6
BLOCKING_POOL = 2
# Fixed pools: callers queue for a connection rather than open (and soon close) extra ones;
# connection churn costs far more than the wait under load.
_POOL: dict[str, Any] = {"max_overflow": 0, "pool_recycle": 1800}
CALLS_KEPT = 1000
"""Recent OpenAPI calls kept in the database for the console (every worker's, newest)."""
SQLITE_READS_KEPT = 4096
"""Hot-read results a thread keeps per SQLite file while nothing commits (see _SqliteReads)."""
CALL_WHY_CHARS = 2000
_CALL_COLUMNS = "at, partner_id, endpoint, outcome, code, why"
_COPY_CALLS = f"COPY bjy_calls ({_CALL_COLUMNS}) FROM STDIN"
_INSERT_CALLS = f"INSERT INTO bjy_calls ({_CALL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"


def retryable(error: BaseException) -> bool:
    """True for a database error that re-running the whole transaction resolves."""
    if not isinstance(error, DBAPIError):
        return False
    orig = error.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if state in _RETRY_SQLSTATES:
        return True
    if error.connection_invalidated:  # a dropped connection: the pool opens a fresh one
        return True
    text = str(orig).lower()
    return "database is locked" in text or "unique constraint failed" in text


def _pause(attempt: int) -> float:
    return random.uniform(0, min(MAX_PAUSE, 0.002 * 2**attempt))


def _postgres_url(url: str, driver: str) -> str:
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return f"postgresql+{driver}://" + url.removeprefix(prefix)
    return url


class Prepared:
    """A hot-path SELECT compiled once per dialect and run straight on the driver's cursor.

    Building, compiling and wrapping a statement through SQLAlchemy costs several times the
    round trip of a primary-key read; these skip all of it and return plain dicts.
    """

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self.names = tuple(str(c.key) for c in statement.selected_columns)
        self._flags = tuple(
            i for i, c in enumerate(statement.selected_columns) if isinstance(c.type, Boolean)
        )
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None]] = {}

    def sql_for(self, dialect: Dialect) -> tuple[str, tuple[str, ...] | None]:
        """The SQL text for ``dialect`` and, for positional parameter styles, the names' order."""
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            order = tuple(compiled.positiontup or ()) if compiled.positional else None
            found = self._compiled[dialect.name] = (str(compiled), order)
        return found

    def tuples(self, conn: Connection, params: Mapping[str, Any]) -> list[Sequence[Any]]:
        """Every row, as sequences in the order of the selected columns (``names``)."""
        return self.on_driver(conn.connection.dbapi_connection, conn.dialect, params)

    def on_driver(
        self, driver_conn: Any, dialect: Dialect, params: Mapping[str, Any]
    ) -> list[Sequence[Any]]:
        """:meth:`tuples` on a driver (DBAPI) connection."""
        sql, order = self.sql_for(dialect)
        if dialect.name == "sqlite":
            # the sqlite3 connection itself: its execute() makes and drops the cursor in C
            raw = getattr(driver_conn, "dbapi_connection", driver_conn)
            rows: list[Sequence[Any]] = raw.execute(
                sql, [params[n] for n in order] if order is not None else params
            ).fetchall()
            if self._flags:  # SQLite answers booleans as 0/1
                return [self._booleans(row) for row in rows]
            return rows
        cursor = driver_conn.cursor()
        try:
            cursor.execute(sql, [params[n] for n in order] if order is not None else params)
            rows = list(cursor.fetchall())
        finally:
            cursor.close()
        return rows

    def _booleans(self, row: Sequence[Any]) -> Sequence[Any]:
        values = list(row)
        for i in self._flags:
            if values[i] is not None:
                values[i] = bool(values[i])
        return values

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every row, as dicts keyed by column name."""
        names = self.names
        return [dict(zip(names, row, strict=True)) for row in self.tuples(conn, params)]

    def first(self, conn: Connection, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """The first row, or None."""
        rows = self.all(conn, params)
        return rows[0] if rows else None


class _SqliteReads:
    """One thread's read-only connection to a SQLite file and the hot reads it answered,
    kept while ``PRAGMA data_version`` stays the same: it changes when any other connection
    (another thread's, another worker's) commits, and this one never writes. The check is a
    fraction of a wide join's cost; the rows handed out are shared, never to be changed."""

    def __init__(self, driver: Any, dialect: Dialect) -> None:
        self.raw: sqlite3.Connection = driver.dbapi_connection
        self.dialect = dialect
        self.version: int | None = None
        self.rows: dict[tuple[Prepared, tuple[tuple[str, Any], ...]], list[Sequence[Any]]] = {}

    def fetch(self, prepared: Prepared, params: Mapping[str, Any]) -> list[Sequence[Any]]:
        version = self.raw.execute("PRAGMA data_version").fetchone()[0]
        if version != self.version:
            self.rows.clear()
            self.version = version
        key = (prepared, tuple(params.items()))
        found = self.rows.get(key)
        if found is None:
            found = prepared.on_driver(self.raw, self.dialect, params)
            if len(self.rows) >= SQLITE_READS_KEPT:
                self.rows.clear()
            self.rows[key] = found
        return found


class HotPool:
    """Autocommit async psycopg connections of one event loop for hot reads, one cursor each.

    SQLAlchemy's pooled Connection, isolation-level switch and result wrapping cost more CPU
    than the read itself; getBasicInfo and the per-request account read skip all of them.
    Connections open on demand, up to ``size``; callers queue beyond that.
    """

    def __init__(self, url: str, size: int = 8) -> None:
        self.url = url
        self.size = size
        self.opened = 0
        self.idle: asyncio.Queue[Any] = asyncio.Queue()

    async def fetch(self, sql: str, params: Mapping[str, Any]) -> list[Sequence[Any]]:
        """Every row of one statement, read again on a fresh connection when the one it got
        was dropped (a server restart or ``pg_terminate_backend`` breaks every idle one)."""
        for _ in range(self.size + 1):
            cursor = await self._checkout()
            try:
                await cursor.execute(sql, params)
                rows: list[Sequence[Any]] = list(await cursor.fetchall())
            except BaseException:
                self.opened -= 1
                conn = cursor.connection
                broken = bool(conn.broken)
                await conn.close()
                if broken:
                    continue
                raise
            self.idle.put_nowait(cursor)
            return rows
        raise ConnectionError("every connection to PostgreSQL was dropped; giving up")

    async def _checkout(self) -> Any:
        import psycopg

        if self.idle.empty() and self.opened < self.size:
            self.opened += 1
            try:
                conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
            except BaseException:
                self.opened -= 1
                raise
            # one cursor per connection, used again by every read on it: making a cursor
            # (its adapters) costs about a tenth of a read's CPU
            return conn.cursor()
        return await self.idle.get()

    async def aclose(self) -> None:
        """Close the idle connections."""
        while not self.idle.empty():
            await self.idle.get_nowait().connection.close()
            self.opened -= 1

    def close_now(self) -> None:
        """Close the idle connections without a loop (after it has gone)."""
        while not self.idle.empty():
            self.idle.get_nowait().connection.pgconn.finish()
            self.opened -= 1


def make_engine(url: str, pool_size: int = BLOCKING_POOL) -> Engine:
    """Create the blocking engine for a SQLite file/memory URL or a PostgreSQL URL (psycopg 3)."""
    if url.startswith("sqlite"):
        memory = url in ("sqlite://", "sqlite:///:memory:")
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False},
            poolclass=StaticPool if memory else None,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # BEGIN is issued by us (IMMEDIATE for writes), not by pysqlite.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

        return engine
    # No pre-ping: it would add a round trip to every request; recycling covers idle drops.
    return create_engine(_postgres_url(url, "psycopg"), pool_size=pool_size, **_POOL)


class Database:
    """The engines and the schema on them; every operation is one short transaction.

    ``run`` is how the HTTP layer calls into the backends. SQLite work stays on the event loop
    (it measures faster there). PostgreSQL work runs either through the async driver (the
    backends' code runs in a greenlet; each round trip yields the loop) or in a worker thread.
    Blocking callers (the admin API in Python, background jobs) use the blocking engine.
    ``run`` re-runs work that hit a deadlock, a serialisation failure or a racing insert.
    """

    def __init__(
        self, engine: Engine, *, concurrency: Concurrency = "async", url: str | None = None
    ) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.concurrency: Concurrency = concurrency if self.postgres else "thread"
        memory = engine.dialect.name == "sqlite" and isinstance(engine.pool, StaticPool)
        # A SQLite file is read through one open connection per thread (autocommit, WAL: each
        # read sees the latest commit), which saves the pool checkout on every request.
        self._sticky = engine.dialect.name == "sqlite" and not memory
        self._local = threading.local()
        self._readers: list[Connection] = []
        self._drivers: list[Any] = []
        # One shared in-memory connection: threads (the jobs thread, the loop) take turns.
        self._shared: AbstractContextManager[Any] = threading.RLock() if memory else nullcontext()
        self._async_sync_engine: Engine | None = None
        self._hot_url = ""  # with the async driver and a URL: where hot reads connect
        if self.postgres and self.concurrency == "async":
            from sqlalchemy.ext.asyncio import create_async_engine

            self._async = create_async_engine(
                _postgres_url(engine.url.render_as_string(hide_password=False), "psycopg_async"),
                pool_size=ASYNC_POOL,
                **_POOL,
            )
            self._async_sync_engine = self._async.sync_engine
            hot_url = _postgres_url(url or "", "psycopg").replace(
                "postgresql+psycopg://", "postgresql://"
            )
            self._hot_url = hot_url if hot_url.startswith("postgresql://") else ""
            self._hot: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, HotPool] = (
                weakref.WeakKeyDictionary()
            )
            self._last_hot: tuple[weakref.ref[asyncio.AbstractEventLoop], HotPool] | None = None
            self._async_reader = self._async_sync_engine.execution_options(
                isolation_level="AUTOCOMMIT"
            )
        # PostgreSQL reads skip BEGIN/COMMIT round trips; SQLite connections are in autocommit.
        self._reader = (
            engine.execution_options(isolation_level="AUTOCOMMIT") if self.postgres else engine
        )
        t.metadata.create_all(engine)
        # a database made before the console had no catalog index: add it (once)
        t.playbacks_catalog.create(engine, checkfirst=True)

    @classmethod
    def connect(cls, url: str, *, concurrency: Concurrency = "async") -> Database:
        """Open (and create the schema in) the database at ``url``."""
        # with blocking round trips in threads, the blocking engine does all the work
        size = BLOCKING_POOL if concurrency == "async" else HOT_READS + ASYNC_POOL + BLOCKING_POOL
        return cls(make_engine(url, size), concurrency=concurrency, url=url)

    def describe(self) -> str:
        """The URL with its password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    def _engine(self, reader: bool = False) -> Engine:
        if self._async_sync_engine is not None and in_greenlet():
            return self._async_reader if reader else self._async_sync_engine
        return self._reader if reader else self.engine

    def _hot_pool(self) -> HotPool:
        """The running loop's pool of hot-path connections (opened on first use)."""
        loop = asyncio.get_running_loop()
        last = self._last_hot
        if last is not None and last[0]() is loop:  # a server's one loop: no dict lookup
            return last[1]
        pool = self._hot.get(loop)
        if pool is None:
            pool = self._hot[loop] = HotPool(self._hot_url, HOT_READS)
        self._last_hot = (weakref.ref(loop), pool)
        return pool

    def fetch(self, prepared: Prepared, params: Mapping[str, Any]) -> list[Sequence[Any]]:
        """Run a hot-path read: on PostgreSQL from the event loop, through a :class:`HotPool`."""
        if self._hot_url and in_greenlet():
            sql, _ = prepared.sql_for(self.engine.dialect)
            return await_(self._hot_pool().fetch(sql, params))
        if self._sticky:  # this thread's own SQLite connection, in autocommit
            reads: _SqliteReads | None = getattr(self._local, "reads", None)
            if reads is None:
                driver = self.engine.raw_connection()
                self._drivers.append(driver)
                reads = self._local.reads = _SqliteReads(driver, self.engine.dialect)
            return reads.fetch(prepared, params)
        with self.read() as conn:
            return prepared.tuples(conn, params)

    async def fetch_async(
        self, prepared: Prepared, params: Mapping[str, Any]
    ) -> Sequence[Sequence[Any]]:
        """:meth:`fetch` from async code: on PostgreSQL with the async driver straight on this
        loop's :class:`HotPool` (no greenlet), SQLite inline, else in a worker thread."""
        if self._hot_url:
            sql, _ = prepared.sql_for(self.engine.dialect)
            return await self._hot_pool().fetch(sql, params)
        if not self.postgres:
            return self.fetch(prepared, params)
        return await self.run(self.fetch, prepared, params)

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        """One write transaction (SQLite: BEGIN IMMEDIATE, so writers queue instead of failing)."""
        with self._shared:
            if self.postgres:
                with self._engine().begin() as conn:
                    yield conn
                return
            with self.engine.connect() as conn:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.exec_driver_sql("ROLLBACK")
                    raise
                conn.exec_driver_sql("COMMIT")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """Reads without a transaction of their own (PostgreSQL autocommit; SQLite autocommit)."""
        if self._sticky:
            conn: Connection | None = getattr(self._local, "conn", None)
            if conn is None or conn.closed:
                conn = self._local.conn = self.engine.connect()
                self._readers.append(conn)
            try:
                yield conn
            finally:
                conn.rollback()  # ends SQLAlchemy's logical transaction; no SQL in autocommit
            return
        with self._shared, self._engine(reader=True).connect() as conn:
            yield conn

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """Run database work from async code, re-running it on a retryable error."""
        for attempt in range(ATTEMPTS):
            try:
                if not self.postgres:
                    return work(*args)
                if self.concurrency == "async":
                    return await greenlet_spawn(work, *args)
                return await anyio.to_thread.run_sync(work, *args)
            except DBAPIError as error:
                if attempt == ATTEMPTS - 1 or not retryable(error):
                    raise
            await asyncio.sleep(_pause(attempt))
        raise AssertionError("unreachable")

    def retrying(self, work: Callable[..., T], *args: Any) -> T:
        """The blocking twin of :meth:`run`: ``work`` re-run on a retryable error."""
        for attempt in range(ATTEMPTS):
            try:
                return work(*args)
            except DBAPIError as error:
                if attempt == ATTEMPTS - 1 or not retryable(error):
                    raise
            time.sleep(_pause(attempt))
        raise AssertionError("unreachable")

    def reset(self) -> None:
        """Forget everything: empty every table and restart its ids (faster than dropping)."""
        with self._shared:
            t.metadata.create_all(self.engine)  # a table dropped behind our back comes back
            with self.engine.begin() as conn:
                for table in reversed(t.metadata.sorted_tables):
                    conn.execute(table.delete())
                if self.postgres:
                    for table in t.metadata.sorted_tables:
                        if "id" in table.c and table.c.id.autoincrement is True:
                            conn.execute(
                                text("SELECT setval(pg_get_serial_sequence(:t, 'id'), 1, false)"),
                                {"t": table.name},
                            )

    async def aclose(self) -> None:
        """Close the async driver's pooled connections on the running event loop."""
        if self._async_sync_engine is not None:
            self._last_hot = None
            pool = self._hot.pop(asyncio.get_running_loop(), None)
            if pool is not None:
                await pool.aclose()
            await self._async.dispose()

    def dispose(self) -> None:
        """Close every pooled connection (the shared in-memory one once no thread is using it)."""
        with self._shared:
            self._dispose()

    def _dispose(self) -> None:
        readers, self._readers = self._readers, []
        for conn in readers:
            conn.close()
        drivers, self._drivers = self._drivers, []
        for driver in drivers:
            driver.close()
        self.engine.dispose()
        if self._async_sync_engine is not None:
            self._last_hot = None
            for pool in list(self._hot.values()):
                pool.close_now()
            self._hot.clear()
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                asyncio.run(self._async.dispose())
            else:  # called from a loop without awaiting aclose(): forget them, do not block
                self._async_sync_engine.pool.dispose()

    @staticmethod
    def next_value(conn: Connection, name: str, start: int) -> int:
        """The next value of a named counter (``start`` the first time), inside ``conn``'s tx.

        One atomic UPDATE … RETURNING, so concurrent transactions never get the same value (a
        racing first INSERT fails on the primary key and the transaction is re-run).
        """
        c = t.counters
        bumped = conn.execute(
            update(c).where(c.c.name == name).values(value=c.c.value + 1).returning(c.c.value)
        ).scalar()
        if bumped is not None:
            return int(bumped)
        conn.execute(insert(c).values(name=name, value=start))
        return start

    def bulk_insert(self, rows: Mapping[Any, list[dict[str, Any]]]) -> None:
        """Insert many rows into several tables in one transaction (the demo seed)."""
        with self.tx() as conn:
            for table, values in rows.items():
                if values:
                    conn.execute(insert(table), values)

    def bulk_load(
        self,
        batches: Iterable[tuple[Any, list[dict[str, Any]]]],
        counters: Mapping[str, int] | None = None,
    ) -> None:
        """Insert batches of rows as they are produced, all in one transaction (large seeds).

        Only one batch need be in memory at a time. Each of ``counters`` is then raised to at
        least its value, so ids handed out later never collide with the loaded rows.
        """
        c = t.counters.c
        loaded: dict[str, None] = {}
        with self.tx() as conn:
            for table, values in batches:
                if values:
                    conn.execute(insert(table), values)
                    loaded[table.name] = None
            for name, value in (counters or {}).items():
                current = conn.execute(select(c.value).where(c.name == name)).scalar()
                if current is None:
                    conn.execute(insert(t.counters).values(name=name, value=value))
                elif current < value:
                    conn.execute(update(t.counters).where(c.name == name).values(value=value))
        self.refresh_statistics(list(loaded))

    def refresh_statistics(self, tables: Sequence[str]) -> None:
        """After a bulk load: let the planner know the tables' new sizes (PostgreSQL: VACUUM
        ANALYZE, which also lets counts read the index alone; SQLite: ANALYZE), so the first
        reads do not plan for empty tables."""
        if not tables:
            return
        with self._shared, self.engine.connect() as conn:
            if self.postgres:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                for name in tables:
                    conn.exec_driver_sql(f'VACUUM ANALYZE "{name}"')
            else:
                conn.exec_driver_sql("ANALYZE")

    # -- call statistics ------------------------------------------------------------------

    def add_stats(self, counts: Mapping[tuple[int, str, str], int]) -> None:
        """Add call counts keyed by (partner_id, endpoint, outcome); safe beside other processes."""
        if counts:
            self.retrying(self._add_stats, counts)

    def _add_stats(self, counts: Mapping[tuple[int, str, str], int]) -> None:
        s = t.call_stats
        with self.tx() as conn:
            # sorted, so two processes lock the same rows in the same order (no deadlock)
            for (partner_id, endpoint, outcome), calls in sorted(counts.items()):
                key = (
                    s.c.partner_id == partner_id,
                    s.c.endpoint == endpoint,
                    s.c.outcome == outcome,
                )
                done = conn.execute(update(s).where(*key).values(calls=s.c.calls + calls))
                if not done.rowcount:
                    conn.execute(
                        insert(s).values(
                            partner_id=partner_id, endpoint=endpoint, outcome=outcome, calls=calls
                        )
                    )

    def stats(self) -> list[tuple[int, str, str, int]]:
        """Every (partner_id, endpoint, outcome, calls) row."""
        s = t.call_stats
        with self.read() as conn:
            rows = conn.execute(
                select(s.c.partner_id, s.c.endpoint, s.c.outcome, s.c.calls).order_by(
                    s.c.partner_id, s.c.endpoint, s.c.outcome
                )
            ).all()
        return [(int(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]

    # -- recent calls (the console's Calls page) ------------------------------------------

    def add_calls(self, calls: Sequence[tuple[float, int, str, str, int, str]]) -> None:
        """Add calls (at, partner_id, endpoint, outcome, code, why) and keep the newest
        ``CALLS_KEPT``; safe beside other processes."""
        if calls:
            self.retrying(self._add_calls, calls)

    def _add_calls(self, calls: Sequence[tuple[float, int, str, str, int, str]]) -> None:
        rows = [
            # PostgreSQL text holds no NUL, and a refused request's canonical string may carry
            # one: shown escaped on every database
            (
                at,
                partner_id,
                endpoint[:64],
                outcome,
                code,
                why[:CALL_WHY_CHARS].replace("\x00", "\\x00"),
            )
            for at, partner_id, endpoint, outcome, code, why in calls[-CALLS_KEPT:]
        ]
        c = t.calls
        newest = select(c.c.id).order_by(c.c.id.desc()).limit(CALLS_KEPT).subquery()
        with self.tx() as conn:
            # straight through a blocking driver (COPY on PostgreSQL): a busy server flushes a
            # full batch every second, and SQLAlchemy's row-by-row insert held the GIL long
            # enough to stall the calls in flight (p99 several times the median)
            driver: Any = conn.connection.driver_connection
            if isinstance(driver, sqlite3.Connection):
                driver.executemany(_INSERT_CALLS, rows)
            elif self.postgres and not in_greenlet():
                with driver.cursor() as cursor, cursor.copy(_COPY_CALLS) as copy:
                    for row in rows:
                        copy.write_row(row)
            else:  # the async driver (a flush on read, from the event loop)
                names = ("at", "partner_id", "endpoint", "outcome", "code", "why")
                conn.execute(insert(c), [dict(zip(names, row, strict=True)) for row in rows])
            conn.execute(delete(c).where(c.c.id < select(func.min(newest.c.id)).scalar_subquery()))

    def recent_calls(self, limit: int = CALLS_KEPT) -> list[dict[str, Any]]:
        """The newest calls, newest first, as dicts (id, at, partner_id, endpoint, outcome,
        code, why)."""
        c = t.calls
        with self.read() as conn:
            rows = conn.execute(select(c).order_by(c.c.at.desc(), c.c.id.desc()).limit(limit)).all()
        return [dict(r._mapping) for r in rows]
