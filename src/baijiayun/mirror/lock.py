"""One writer per account: a PostgreSQL advisory lock, or on SQLite a lock row with a lease and pid."""

from __future__ import annotations

import os
import socket
import time
import uuid
import zlib
from collections.abc import Callable
from types import TracebackType

from sqlalchemy import Connection, Engine, delete, func, select, text, update
from sqlalchemy.exc import IntegrityError

from ..errors import BaiJiaYunError
from . import schema as s

__all__ = ["MirrorLock", "MirrorLockedError"]


_CLEARED = "a stale lock, just cleared"


class MirrorLockedError(BaiJiaYunError):
    """Another sync of the same account holds the mirror's lock."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class MirrorLock:
    """The single-writer lock of one account's mirror; a context manager.

    ``wait`` is how many seconds to wait for a busy lock before raising
    :class:`MirrorLockedError`. On SQLite the row's lease (``lease`` seconds) is renewed with
    :meth:`renew`; a holder that died (its pid is gone on this host) or let its lease lapse never
    blocks the next run. On PostgreSQL the lock lives as long as the holder's session.
    """

    def __init__(
        self,
        engine: Engine,
        name: str,
        *,
        wait: float = 0.0,
        lease: float = 60.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.engine = engine
        self.name = name
        self.wait = wait
        self.lease = lease
        self._clock = clock
        self._sleep = sleep
        self._token = uuid.uuid4().hex
        self._pg: Connection | None = None
        self._pg_key = 0
        self._held = False

    @property
    def _postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def acquire(self) -> None:
        """Take the lock, waiting up to ``wait`` seconds; raise MirrorLockedError if still busy."""
        deadline = self._clock() + self.wait
        while True:
            holder = self._try()
            if holder is None:
                self._held = True
                return
            if holder is _CLEARED:
                continue
            if self._clock() >= deadline:
                raise MirrorLockedError(
                    f"another mirror sync is running ({holder}); wait for it to end, "
                    "or pass a longer wait (--wait SECONDS)"
                )
            self._sleep(min(0.1, max(0.01, deadline - self._clock())))

    def _try(self) -> str | None:
        if self._postgres:
            return self._try_postgres()
        return self._try_row()

    def _try_postgres(self) -> str | None:
        conn = self.engine.connect()
        schema = conn.execute(select(func.current_schema())).scalar_one()
        key = zlib.crc32(f"baijiayun-mirror:{schema}:{self.name}".encode())
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one()
        conn.commit()
        if got:
            self._pg, self._pg_key = conn, key
            return None
        conn.close()
        return f"PostgreSQL advisory lock {key} of {self.name!r} is held"

    def _try_row(self) -> str | None:
        now = self._clock()
        row = {
            "name": self.name,
            "pid": os.getpid(),
            "host": f"{socket.gethostname()} {self._token}",
            "acquired_at": now,
            "expires_at": now + self.lease,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(s.locks.insert().values(**row))
            return None
        except IntegrityError:
            pass
        with self.engine.begin() as conn:
            held = conn.execute(select(s.locks).where(s.locks.c.name == self.name)).first()
            if held is None:
                return "a lock that was just released"
            host = held.host.split(" ", 1)[0]
            stale = held.expires_at < now or (host == socket.gethostname() and not _alive(held.pid))
            if stale:
                # Conditional delete: only the stale row we looked at, never a fresh holder's.
                conn.execute(
                    delete(s.locks).where(s.locks.c.name == self.name, s.locks.c.host == held.host)
                )
                return _CLEARED
            return f"pid {held.pid} on {host}, lease until {time.ctime(held.expires_at)}"

    def renew(self) -> None:
        """Extend the lease (SQLite); raise MirrorLockedError if the lock was taken away."""
        if self._postgres or not self._held:
            return
        with self.engine.begin() as conn:
            done = conn.execute(
                update(s.locks)
                .where(s.locks.c.name == self.name, s.locks.c.host.endswith(self._token))
                .values(expires_at=self._clock() + self.lease)
            )
        if not done.rowcount:
            raise MirrorLockedError(f"lost the mirror lock {self.name!r} (lease ran out)")

    def release(self) -> None:
        """Give the lock up (idempotent)."""
        if self._pg is not None:
            # A pooled connection outlives close(): unlock explicitly (a dead process's lock
            # goes with its session).
            self._pg.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._pg_key})
            self._pg.commit()
            self._pg.close()
            self._pg = None
        elif self._held:
            with self.engine.begin() as conn:
                conn.execute(
                    delete(s.locks).where(
                        s.locks.c.name == self.name, s.locks.c.host.endswith(self._token)
                    )
                )
        self._held = False

    def __enter__(self) -> MirrorLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
