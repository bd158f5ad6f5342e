"""The emulator's database: engine, schema, transactions, counters and call statistics."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine, create_engine, event, insert, select, text, update
from sqlalchemy.pool import StaticPool

from . import schema as t

__all__ = ["Database", "make_engine"]

T = TypeVar("T")


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


class Database:
    """One engine and the schema on it; every operation is one short transaction.

    ``run`` is how the HTTP layer calls into the backends: SQLite work stays on the event loop
    (it measures faster there), PostgreSQL work goes to a worker thread so a round trip never
    blocks the loop.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self._lock = threading.RLock()
        # PostgreSQL reads skip BEGIN/COMMIT round trips; pysqlite never begins for a SELECT.
        self._reader = (
            engine.execution_options(isolation_level="AUTOCOMMIT") if self.postgres else engine
        )
        t.metadata.create_all(engine)

    @classmethod
    def connect(cls, url: str) -> Database:
        """Open (and create the schema in) the database at ``url``."""
        return cls(make_engine(url))

    def describe(self) -> str:
        """The URL with its password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

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

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """Run blocking database work from async code (in a thread for PostgreSQL)."""
        if self.postgres:
            return await anyio.to_thread.run_sync(work, *args)
        return work(*args)

    def reset(self) -> None:
        """Forget everything: empty every table and restart its ids (faster than dropping)."""
        with self._lock:
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

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    @staticmethod
    def next_value(conn: Connection, name: str, start: int) -> int:
        """The next value of a named counter (``start`` the first time), inside ``conn``'s tx."""
        current = conn.execute(select(t.counters.c.value).where(t.counters.c.name == name)).scalar()
        if current is None:
            conn.execute(insert(t.counters).values(name=name, value=start))
            return start
        conn.execute(update(t.counters).where(t.counters.c.name == name).values(value=current + 1))
        return int(current) + 1

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
        with self.tx() as conn:
            for table, values in batches:
                if values:
                    conn.execute(insert(table), values)
            for name, value in (counters or {}).items():
                current = conn.execute(select(c.value).where(c.name == name)).scalar()
                if current is None:
                    conn.execute(insert(t.counters).values(name=name, value=value))
                elif current < value:
                    conn.execute(update(t.counters).where(c.name == name).values(value=value))

    # -- call statistics ------------------------------------------------------------------

    def add_stats(self, counts: Mapping[tuple[int, str, str], int]) -> None:
        """Add call counts keyed by (partner_id, endpoint, outcome)."""
        if not counts:
            return
        s = t.call_stats
        with self.tx() as conn:
            for (partner_id, endpoint, outcome), calls in counts.items():
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
