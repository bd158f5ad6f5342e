"""The sync engine: full sweeps, incremental runs and the watch loop, through the SDK client."""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ..errors import APIError, BaiJiaYunError, RoomDeletedError, RoomNotFoundError
from ..models import BEIJING, PlaybackItem
from . import schema as s
from .lock import MirrorLock
from .query import list_playbacks, mirror_status
from .store import (
    FINAL_STATUSES,
    Counts,
    Key,
    item_row,
    mark_deleted,
    set_main_versions,
    upsert,
)

if TYPE_CHECKING:
    from ..client import BaiJiaYunClient
    from ..client.api import PlayBack
    from .writes import MirroredPlayBack

__all__ = ["FULL", "INCREMENTAL", "REFRESH", "Mirror", "Progress", "SyncResult", "SyncStopped"]

log = logging.getLogger("baijiayun.mirror")

FULL = "full"
INCREMENTAL = "incremental"
REFRESH = "refresh"
"""A run of the write hook: one playback re-read after a write made through the SDK."""
PAGE_SIZE = 1000
MAX_STEP_BACKS = 50
"""How often one sweep re-reads earlier pages after the catalog shrank under it."""


class SyncStopped(Exception):
    """The run was asked to stop between two pages (watch got SIGTERM or Ctrl-C)."""


@dataclass
class Progress:
    """Where a run is: pages and rows read so far, and the service's current total."""

    mode: str
    pages: int
    rows: int
    total: int
    calls: int


@dataclass
class SyncResult:
    """The summary of one run, as written to ``sync_runs``."""

    run_id: int
    mode: str
    started_at: float
    ended_at: float
    calls: int
    seen: int
    inserted: int
    updated: int
    deleted: int
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""
        return asdict(self)


class Mirror:
    """The account's playbacks kept in your own database (SQLite file by default, or PostgreSQL).

    ``client`` is a :class:`~baijiayun.BaiJiaYunClient` (its rate governor paces every call).
    Tables are created on first use. Only one sync per account runs at a time: a second one waits
    ``lock_wait`` seconds, then raises :class:`MirrorLockedError`.

    :param client: 已配置好账号的客户端 (the SDK client of the account)
    :param database_url: 数据库地址 (SQLAlchemy URL: ``sqlite:///file.db`` or ``postgresql://…``)
    """

    def __init__(
        self,
        client: BaiJiaYunClient,
        database_url: str = s.DEFAULT_DATABASE,
        *,
        page_size: int = PAGE_SIZE,
        lock_wait: float = 0.0,
        lease: float = 120.0,
        pending_max_age: float = 2 * 86400,
        clock: Callable[[], float] = time.time,
        on_page: Callable[[Progress], None] | None = None,
    ) -> None:
        self.client = client
        self.database_url = database_url
        self.page_size = page_size
        self.lock_wait = lock_wait
        self.lease = lease
        self.pending_max_age = pending_max_age
        self.on_page = on_page
        self._clock = clock
        self._engine: Engine | None = None
        self._calls = 0

    def engine(self) -> Engine:
        """The database engine (made on first use; tables created then)."""
        if self._engine is None:
            self._engine = s.open_engine(self.database_url)
        return self._engine

    @property
    def partner_id(self) -> int:
        """The account this mirror follows."""
        return int(self.client.partner_id)

    def close(self) -> None:
        """Release the database connections (the client stays open: it is the caller's)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def __enter__(self) -> Mirror:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def status(self) -> dict[str, Any]:
        """Last run, last full sweep, counts by status and publish status (no API call)."""
        return mirror_status(self.engine(), self.partner_id, now=self._clock())

    def ls(self, **filters: Any) -> list[dict[str, Any]]:
        """Mirrored playbacks, newest first; filters as :func:`list_playbacks` (no API call)."""
        return list_playbacks(self.engine(), partner_id=self.partner_id, **filters)

    # -- runs ---------------------------------------------------------------------------

    def sync(self, *, incremental: bool = False, stop: threading.Event | None = None) -> SyncResult:
        """Run one full sweep (default) or, with ``incremental``, an incremental run.

        A full sweep walks every getList page (crop versions included, every product line),
        re-reading earlier pages whenever the catalog shrinks under it, and marks a held playback
        deleted only after getCropList confirmed it gone. Raises what the client raises; the run
        is recorded either way.
        """
        mode = INCREMENTAL if incremental else FULL
        lock = MirrorLock(
            self.engine(), f"sync:{self.partner_id}", wait=self.lock_wait, lease=self.lease
        )
        with lock:
            run_id, started = self._start_run(mode)
            self._calls = 0
            counts = Counts()
            seen: set[Key] = set()
            error: str | None = None
            try:
                if mode == FULL:
                    self._sweep(run_id, counts, seen, lock, stop)
                else:
                    self._incremental(run_id, counts, seen, lock, stop)
            except SyncStopped:
                error = "stopped"
            except BaseException as exc:
                error = f"{type(exc).__name__}: {exc}"
                self._end_run(run_id, started, mode, counts, seen, error)
                raise
            return self._end_run(run_id, started, mode, counts, seen, error)

    def refresh(self, room_id: int, session_id: int | None = None) -> SyncResult:
        """Re-read one playback now (getCropList, one call per session held) and apply it.

        The write hook (:meth:`writes`) calls this after every write it forwards. It takes no
        lock, so it never waits for a running sweep; the sweeps stay authoritative and the next
        one settles a refresh that raced with it.
        """
        p = s.playbacks
        where = (p.c.partner_id == self.partner_id) & (p.c.room_id == room_id)
        if session_id is not None:
            where &= p.c.session_id == session_id
        with self.engine().connect() as conn:
            held = conn.execute(
                select(p.c.room_id, p.c.session_id, p.c.version).where(
                    where, p.c.deleted_at.is_(None)
                )
            ).all()
        groups: dict[tuple[int, int], list[Key]] = {}
        for row in held:
            groups.setdefault((row[0], row[1]), []).append((row[0], row[1], row[2]))
        if not groups:  # not mirrored yet: read what the service has
            groups[(room_id, session_id or 0)] = []
        run_id, started = self._start_run(REFRESH)
        self._calls = 0
        counts = Counts()
        seen: set[Key] = set()
        try:
            self._reconcile(groups, run_id, counts, seen, lambda: None, None)
        except BaseException as exc:
            self._end_run(run_id, started, REFRESH, counts, seen, f"{type(exc).__name__}: {exc}")
            raise
        return self._end_run(run_id, started, REFRESH, counts, seen, None)

    def writes(self, playback: PlayBack | None = None) -> MirroredPlayBack:
        """The write hook: ``playback`` (default: this mirror's client's) whose writes also
        update the mirror at once. See :class:`~baijiayun.mirror.MirroredPlayBack`."""
        from .writes import MirroredPlayBack

        return MirroredPlayBack(playback or self.client.playback, self)

    def _start_run(self, mode: str) -> tuple[int, float]:
        now = self._clock()
        r = s.sync_runs
        with self.engine().begin() as conn:
            if mode != REFRESH:
                # We hold the lock: a sweep or incremental run still open was killed; say so.
                conn.execute(
                    update(r)
                    .where(
                        r.c.partner_id == self.partner_id,
                        r.c.ended_at.is_(None),
                        r.c.mode != REFRESH,
                    )
                    .values(error="interrupted")
                )
            run_id = conn.execute(
                r.insert().values(partner_id=self.partner_id, mode=mode, started_at=now)
            ).inserted_primary_key
        assert run_id is not None
        return int(run_id[0]), now

    def _end_run(
        self,
        run_id: int,
        started: float,
        mode: str,
        counts: Counts,
        seen: set[Key],
        error: str | None,
    ) -> SyncResult:
        result = SyncResult(
            run_id=run_id,
            mode=mode,
            started_at=started,
            ended_at=self._clock(),
            calls=self._calls,
            seen=len(seen),
            inserted=counts.inserted,
            updated=counts.updated,
            deleted=counts.deleted,
            error=error,
        )
        values = result.to_dict()
        del values["run_id"], values["mode"], values["started_at"]
        with self.engine().begin() as conn:
            conn.execute(update(s.sync_runs).where(s.sync_runs.c.id == run_id).values(**values))
        log.info("mirror %s run %d: %s", mode, run_id, values)
        return result

    # -- reading the service ------------------------------------------------------------

    def _page(self, number: int) -> tuple[int, list[PlaybackItem]]:
        self._calls += 1
        page = self.client.playback.get_list(None, number, self.page_size, crop_video=1)
        return page.total, list(page.items)

    def _store(self, rows: Sequence[dict[str, Any]], run_id: int, counts: Counts) -> None:
        for attempt in (1, 2):
            try:
                with self.engine().begin() as conn:
                    done = upsert(
                        conn, rows, partner_id=self.partner_id, now=self._clock(), run_id=run_id
                    )
            except IntegrityError:
                # A callback inserted one of these rows between our read and our insert: the
                # page is written again, seeing that row this time.
                if attempt == 2:
                    raise
                continue
            counts.add(done)
            return

    def _report(self, mode: str, pages: int, seen: set[Key], total: int) -> None:
        if self.on_page is not None:
            self.on_page(Progress(mode, pages, len(seen), total, self._calls))

    def _walk(
        self,
        run_id: int,
        counts: Counts,
        seen: set[Key],
        lock: MirrorLock,
        stop: threading.Event | None,
        mode: str,
        enough: Callable[[list[PlaybackItem]], bool] | None = None,
    ) -> None:
        # The next page is fetched while this one is written: the sweep costs little more than
        # the page loop itself. What to fetch next depends only on the page just read.
        with ThreadPoolExecutor(1, thread_name_prefix="bjy-mirror-fetch") as fetcher:
            number, previous, step_backs, pages = 1, None, 0, 0
            pending: Future[tuple[int, list[PlaybackItem]]] | None = fetcher.submit(
                self._page, number
            )
            while pending is not None:
                total, items = pending.result()
                pages += 1
                rows = [item_row(i) for i in items]
                seen.update((r["room_id"], r["session_id"], r["version"]) for r in rows)
                self._report(mode, pages, seen, total)
                following: int | None = number + 1
                if (
                    previous is not None
                    and total < previous
                    and number > 1
                    and step_backs < MAX_STEP_BACKS
                ):
                    # Deletions above the cursor moved rows up by at most the drop in total:
                    # the rows that crossed into pages already read are read again. Between
                    # two reads whose totals did not drop, no row can slip past the boundary.
                    step_backs += 1
                    following = max(1, number - math.ceil((previous - total) / self.page_size))
                elif (
                    not items
                    or number * self.page_size >= total
                    or (enough is not None and enough(items))
                ):
                    following = None
                previous = total
                if following is not None and stop is not None and stop.is_set():
                    following = None
                pending = None if following is None else fetcher.submit(self._page, following)
                self._store(rows, run_id, counts)
                lock.renew()
                if following is None and stop is not None and stop.is_set():
                    raise SyncStopped
                number = following or number

    def _sweep(
        self,
        run_id: int,
        counts: Counts,
        seen: set[Key],
        lock: MirrorLock,
        stop: threading.Event | None,
    ) -> None:
        self._walk(run_id, counts, seen, lock, stop, FULL)
        p = s.playbacks
        with self.engine().connect() as conn:
            missing = conn.execute(
                select(p.c.room_id, p.c.session_id, p.c.version).where(
                    p.c.partner_id == self.partner_id,
                    p.c.deleted_at.is_(None),
                    (p.c.seen_run.is_(None)) | (p.c.seen_run != run_id),
                )
            ).all()
        self._confirm([(r[0], r[1], r[2]) for r in missing], run_id, counts, seen, lock, stop)

    def _confirm(
        self,
        keys: Sequence[Key],
        run_id: int,
        counts: Counts,
        seen: set[Key],
        lock: MirrorLock,
        stop: threading.Event | None,
    ) -> None:
        """Ask getCropList about each room/session of ``keys``: upsert what exists, delete the rest."""
        groups: dict[tuple[int, int], list[Key]] = {}
        for key in keys:
            groups.setdefault((key[0], key[1]), []).append(key)
        self._reconcile(groups, run_id, counts, seen, lock.renew, stop)

    def _reconcile(
        self,
        groups: dict[tuple[int, int], list[Key]],
        run_id: int,
        counts: Counts,
        seen: set[Key],
        renew: Callable[[], object],
        stop: threading.Event | None,
    ) -> None:
        for (room_id, session_id), held in groups.items():
            if stop is not None and stop.is_set():
                raise SyncStopped
            self._calls += 1
            try:
                page = self.client.playback.get_crop_list(
                    room_id, session_id=session_id or None, page_size=1000
                )
                present = [item_row(i) for i in page.items]
                mains = {(i.room_id, i.session_id, i.version): i.is_main for i in page.items}
            except (RoomNotFoundError, RoomDeletedError):
                present, mains = [], {}
            except APIError as error:
                if error.code != 1:  # code 1: no such playback (protocol §11)
                    raise
                present, mains = [], {}
            found = {(r["room_id"], r["session_id"], r["version"]) for r in present}
            gone = [k for k in held if k not in found]
            now = self._clock()
            with self.engine().begin() as conn:
                counts.add(
                    upsert(conn, present, partner_id=self.partner_id, now=now, run_id=run_id)
                )
                counts.deleted += mark_deleted(conn, gone, now=now, run_id=run_id)
                if set_main_versions(conn, mains, now=now, run_id=run_id):
                    counts.updated += 1
            seen.update(found)
            renew()

    def _incremental(
        self,
        run_id: int,
        counts: Counts,
        seen: set[Key],
        lock: MirrorLock,
        stop: threading.Event | None,
    ) -> None:
        p = s.playbacks
        alive = (p.c.partner_id == self.partner_id) & p.c.deleted_at.is_(None)
        with self.engine().connect() as conn:
            newest = conn.execute(select(func.max(p.c.create_time)).where(alive)).scalar()

        def overlaps(items: list[PlaybackItem]) -> bool:
            oldest = item_row(items[-1])["create_time"]
            return newest is not None and oldest is not None and oldest < newest

        self._walk(run_id, counts, seen, lock, stop, INCREMENTAL, overlaps)
        since = dt.datetime.fromtimestamp(self._clock() - self.pending_max_age, BEIJING)
        with self.engine().connect() as conn:
            pending = conn.execute(
                select(p.c.room_id, p.c.session_id, p.c.version).where(
                    alive,
                    p.c.status.not_in(FINAL_STATUSES),
                    p.c.create_time >= since.strftime("%Y-%m-%d %H:%M:%S"),
                )
            ).all()
        keys = [(r[0], r[1], r[2]) for r in pending if (r[0], r[1], r[2]) not in seen]
        self._confirm(keys, run_id, counts, seen, lock, stop)

    def watch(
        self,
        *,
        every: float = 60.0,
        full_every: float = 3600.0,
        stop: threading.Event | None = None,
        on_result: Callable[[SyncResult], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        """Loop until ``stop`` is set: an incremental run every ``every`` seconds, a full sweep
        when the last complete one is ``full_every`` seconds old (or there is none).

        Errors of one run (service unreachable, another sync holding the lock, the database down
        for a moment, …) go to ``on_error`` and the loop goes on; a stop request ends the current
        run between pages.
        """
        stop = stop or threading.Event()
        r = s.sync_runs
        with self.engine().connect() as conn:
            last_full = conn.execute(
                select(func.max(r.c.started_at)).where(
                    r.c.partner_id == self.partner_id,
                    r.c.mode == FULL,
                    r.c.ended_at.is_not(None),
                    r.c.error.is_(None),
                )
            ).scalar()
        while not stop.is_set():
            full = last_full is None or self._clock() - last_full >= full_every
            try:
                result = self.sync(incremental=not full, stop=stop)
            except (BaiJiaYunError, SQLAlchemyError) as exc:  # the service or the database
                if on_error is None:
                    raise
                on_error(exc)
            else:
                if full and result.error is None:
                    last_full = result.started_at
                if on_result is not None:
                    on_result(result)
            stop.wait(every)
