"""The sync engine: full sweeps, incremental runs, play records by day and the watch loop, through the SDK client."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, overload

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..errors import APIError, BaiJiaYunError, RoomDeletedError, RoomNotFoundError
from ..models import BEIJING, PlaybackItem
from ..pagination import PageWalk, StepBackWalk
from . import schema as s
from .lock import MirrorLock
from .query import list_playbacks, mirror_status
from .report import PlaybackViews, ViewerViews, not_started, playback_views, viewer_views
from .store import (
    FULL,
    INCREMENTAL,
    REFRESH,
    Counts,
    Key,
    MirrorStore,
    china_time,
    item_row,
    parse_china_time,
    record_row,
)

if TYPE_CHECKING:
    from ..client import BaiJiaYunClient
    from ..client.api import PlayBack
    from ..models import PlayRecordPage
    from .write_hook import MirroredPlayBack

__all__ = ["FULL", "INCREMENTAL", "REFRESH", "Mirror", "Progress", "SyncResult", "SyncStopped"]

log = logging.getLogger("baijiayun.mirror")

PAGE_SIZE = 1000
VIEWS_PAGE_SIZE = 1000
"""Play records per exportVideoReportBatch call: the largest page the service gives (docs/protocol.md#viewing-records)."""
VIEWS_DAYS = 30
"""How far back a mirror's first read of play records goes, in days before today."""
OPEN_DAYS = 2
"""Days whose plays may still be going, re-read by every run: today and yesterday (docs/protocol.md#viewing-records)."""
VIEWS_GRACE = 1800.0
"""Seconds after its last report a play may still grow, and before a read a play may have
begun unseen: the service (docs/protocol.md#viewing-records) reports every 120 s and ends a play after 3 silent intervals (6
minutes); 30 minutes leaves room for clock skew and late reports."""


@dataclass(frozen=True)
class DueDay:
    """A Beijing day a run reads: from ``since`` (None: nothing left to read) to its end."""

    day: dt.date
    final: bool
    """The day is final once read: no play of it can still grow."""
    since: dt.datetime | None


NO_SUCH_PLAYBACK = 1
"""getCropList's generic code: it proves nothing (a playback missing, or any other trouble)."""


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
    views_calls: int = 0
    """exportVideoReportBatch calls of the run (``calls`` counts the catalog's)."""
    views_seen: int = 0
    """Play records read."""
    views_inserted: int = 0
    views_updated: int = 0
    """Play records that grew (or changed) since they were last read."""
    views_error: str | None = None
    """Why the play records could not be read (the catalog was synced all the same)."""

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""
        return asdict(self)


@dataclass
class _Run:
    """One run's state, its own: a refresh in another thread never touches a sweep's counts."""

    run_id: int
    mode: str
    started: float
    renew: Callable[[], object] = lambda: None
    stop: threading.Event | None = None
    counts: Counts = field(default_factory=Counts)
    seen: set[Key] = field(default_factory=set)
    calls: int = 0
    views: Counts = field(default_factory=Counts)
    views_calls: int = 0
    views_seen: int = 0
    views_error: str | None = None

    @property
    def stopping(self) -> bool:
        """True once a stop was asked for."""
        return self.stop is not None and self.stop.is_set()

    def check_stop(self) -> None:
        """Raise :class:`SyncStopped` if a stop was asked for."""
        if self.stopping:
            raise SyncStopped


class Mirror:
    """The account's playbacks kept in your own database (SQLite file by default, or PostgreSQL).

    ``client`` is a :class:`~baijiayun.BaiJiaYunClient` (its rate governor paces every call).
    Tables are created on first use. Only one sync per account runs at a time: a second one waits
    ``lock_wait`` seconds, then raises :class:`MirrorLockedError`.

    Each sync also keeps the account's play records (docs/protocol.md#viewing-records) unless ``views`` is False:
    exportVideoReportBatch, one Beijing day at a time, re-reading only the ``open_days`` days
    whose plays may still be going (today and yesterday), and those only from where a play may
    be new or still growing; never a day once final.

    :param client: 已配置好账号的客户端 (the SDK client of the account)
    :param database_url: 数据库地址 (SQLAlchemy URL: ``sqlite:///file.db`` or ``postgresql://…``)
    :param views: 同步观看记录 (keep the play records too)
    :param views_since: 观看记录起始日期 (first Beijing day to read; default: the first day the
        mirror holds, else ``VIEWS_DAYS`` days before today)
    :param open_days: 未定稿天数 (days, today included, re-read by every run: 2 = today and
        yesterday)
    :param views_grace: 播放可能仍在进行的秒数 (seconds after its last report a play may still
        grow; open days are re-read only from there)
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
        views: bool = True,
        views_since: dt.date | None = None,
        open_days: int = OPEN_DAYS,
        views_grace: float = VIEWS_GRACE,
    ) -> None:
        if open_days < 1:
            raise ValueError("open_days must be 1 or more (today is never final)")
        self.client = client
        self.views = views
        self.views_since = views_since
        self.open_days = open_days
        self.views_grace = views_grace
        self.database_url = database_url
        self.page_size = page_size
        self.lock_wait = lock_wait
        self.lease = lease
        self.pending_max_age = pending_max_age
        self.on_page = on_page
        self._clock = clock
        self._engine: Engine | None = None
        self._store: MirrorStore | None = None

    def engine(self) -> Engine:
        """The database engine (made on first use; tables created then)."""
        if self._engine is None:
            self._engine = s.open_engine(self.database_url)
        return self._engine

    @property
    def store(self) -> MirrorStore:
        """This account's rows in the database (made on first use)."""
        if self._store is None:
            self._store = MirrorStore(self.engine(), self.partner_id, self._clock)
        return self._store

    @property
    def partner_id(self) -> int:
        """The account this mirror follows."""
        return int(self.client.partner_id)

    def close(self) -> None:
        """Release the database connections (the client stays open: it is the caller's)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._store = None

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
        deleted only after getCropList proved it gone. Raises what the client raises; the run
        is recorded either way.
        """
        mode = INCREMENTAL if incremental else FULL
        lock = MirrorLock(
            self.engine(), f"sync:{self.partner_id}", wait=self.lock_wait, lease=self.lease
        )
        with lock:
            run = self._open(mode, renew=lock.renew, stop=stop)
            catalog = self._sweep if mode == FULL else self._incremental

            def work() -> None:
                catalog(run)
                if self.views:
                    self._views(run)

            return self._finish(run, work)

    def refresh(self, room_id: int, session_id: int | None = None) -> SyncResult:
        """Re-read one playback now (getCropList, one call per session held) and apply it.

        The write hook (:meth:`writes`) calls this after every write it forwards. It takes no
        lock, so it never waits for a running sweep; the sweeps stay authoritative and the next
        one settles a refresh that raced with it. An answer that does not prove the playback
        gone (code 1, an HTTP error, a timeout) raises, and nothing is marked deleted.
        """
        held = self.store.held(room_id, session_id)
        groups: dict[tuple[int, int], list[Key]] = {}
        for key in held:
            groups.setdefault(key[:2], []).append(key)
        if not groups:  # not mirrored yet: read what the service has
            groups[(room_id, session_id or 0)] = []
        run = self._open(REFRESH)
        return self._finish(run, lambda: self._reconcile(run, groups))

    def writes(self, playback: PlayBack | None = None) -> MirroredPlayBack:
        """The write hook: ``playback`` (default: this mirror's client's) whose writes also
        update the mirror at once. See :class:`~baijiayun.mirror.MirroredPlayBack`."""
        from .write_hook import MirroredPlayBack

        return MirroredPlayBack(playback or self.client.playback, self)

    def _open(
        self,
        mode: str,
        *,
        renew: Callable[[], object] = lambda: None,
        stop: threading.Event | None = None,
    ) -> _Run:
        run_id, started = self.store.open_run(mode)
        return _Run(run_id, mode, started, renew=renew, stop=stop)

    def _finish(self, run: _Run, work: Callable[[], None]) -> SyncResult:
        """Do ``work``, then record the run's end (its error, if any) and return its summary."""
        try:
            work()
        except SyncStopped:
            return self._close(run, "stopped")
        except BaseException as exc:
            self._close(run, f"{type(exc).__name__}: {exc}")
            raise
        return self._close(run, None)

    def _close(self, run: _Run, error: str | None) -> SyncResult:
        result = SyncResult(
            run_id=run.run_id,
            mode=run.mode,
            started_at=run.started,
            ended_at=self._clock(),
            calls=run.calls,
            seen=len(run.seen),
            inserted=run.counts.inserted,
            updated=run.counts.updated,
            deleted=run.counts.deleted,
            error=error,
            views_calls=run.views_calls,
            views_seen=run.views_seen,
            views_inserted=run.views.inserted,
            views_updated=run.views.updated,
            views_error=run.views_error,
        )
        values = result.to_dict()
        del values["run_id"], values["mode"], values["started_at"]
        self.store.close_run(run.run_id, values)
        log.info("mirror %s run %d: %s", run.mode, run.run_id, values)
        return result

    # -- reading the service ------------------------------------------------------------

    def _page(self, run: _Run, number: int) -> Any:
        run.calls += 1
        return self.client.playback.get_list(None, number, self.page_size, crop_video=1)

    def _walk(
        self, run: _Run, enough: Callable[[Sequence[PlaybackItem]], bool] | None = None
    ) -> None:
        """Walk getList pages (stepping back when the catalog shrinks) and store what is new."""
        walk = StepBackWalk(
            self.page_size,
            key=lambda i: (i.room_id, i.session_id, i.version),
            seen=run.seen,
            enough=enough,
        )
        # The next page is fetched while this one is written: the sweep costs little more than
        # the page loop itself. What to fetch next depends only on the page just read.
        with ThreadPoolExecutor(1, thread_name_prefix="bjy-mirror-fetch") as fetcher:
            pending: Future[Any] | None = fetcher.submit(self._page, run, walk.number)
            while pending is not None:
                page = pending.result()
                fresh = walk.take(page)
                if self.on_page is not None:
                    self.on_page(
                        Progress(run.mode, walk.pages, len(run.seen), page.total, run.calls)
                    )
                last = walk.done or run.stopping
                pending = None if last else fetcher.submit(self._page, run, walk.number)
                run.counts.add(self.store.write_page([item_row(i) for i in fresh], run.run_id))
                run.renew()
                if last:
                    run.check_stop()

    def _sweep(self, run: _Run) -> None:
        self._walk(run)
        self._confirm(run, self.store.unseen(run.run_id))

    def _incremental(self, run: _Run) -> None:
        newest = self.store.newest_create_time()

        def overlaps(items: Sequence[PlaybackItem]) -> bool:
            oldest = items[-1].create_time
            return newest is not None and oldest is not None and oldest < newest

        self._walk(run, overlaps)
        since = dt.datetime.fromtimestamp(self._clock() - self.pending_max_age, BEIJING)
        self._confirm(run, [k for k in self.store.pending(since) if k not in run.seen])

    def _confirm(self, run: _Run, keys: Sequence[Key]) -> None:
        """Ask getCropList about each room/session of ``keys``: upsert what it lists, delete
        what it proves gone."""
        groups: dict[tuple[int, int], list[Key]] = {}
        for key in keys:
            groups.setdefault(key[:2], []).append(key)
        self._reconcile(run, groups)

    def _reconcile(self, run: _Run, groups: dict[tuple[int, int], list[Key]]) -> None:
        """Read each room/session of ``groups`` (held keys) and apply it: upsert what is listed,
        delete what is held and proven absent."""
        for (room_id, session_id), held in groups.items():
            run.check_stop()
            reading = self._read_versions(run, room_id, session_id)
            if reading is None:
                continue
            listed, mains, complete = reading
            present = [item_row(i) for i in listed]
            found = {(r["room_id"], r["session_id"], r["version"]) for r in present}
            gone = [k for k in held if k not in found] if complete else []
            run.counts.add(self.store.apply_versions(present, mains, gone, run.run_id))
            run.seen.update(found)
            run.renew()

    def _read_versions(
        self, run: _Run, room_id: int, session_id: int
    ) -> tuple[list[PlaybackItem], dict[Key, bool], bool] | None:
        """The versions the service lists of one room/session, which is main, and whether the
        listing is complete (then what it does not list is proven absent).

        getCropList answers; 3001/3002 prove the room and its playbacks gone. Its code 1 proves
        nothing (docs/protocol.md#decisions uses it for "no such playback" and for much else), so the room's
        getList listing is asked next. When that cannot answer either, a refresh raises (the
        write hook logs it) and a sweep logs it and goes on (None): the rows stay, and the next
        run asks again. Any other failure raises, deleting nothing.
        """
        run.calls += 1
        try:
            page = self.client.playback.get_crop_list(
                room_id, session_id=session_id or None, page_size=1000
            )
            mains = {(i.room_id, i.session_id, i.version): i.is_main for i in page.items}
            return list(page.items), mains, len(page.items) >= page.total
        except (RoomNotFoundError, RoomDeletedError):
            return [], {}, True
        except APIError as error:
            if error.code != NO_SUCH_PLAYBACK:
                raise
            first = error
        try:
            listed, complete = self._room_listing(run, room_id)
        except (RoomNotFoundError, RoomDeletedError):
            return [], {}, True
        except APIError as error:
            if error.code != NO_SUCH_PLAYBACK or run.mode == REFRESH:
                raise
            log.warning(
                "mirror: room %s session %s: getCropList and getList answered code 1 (%s; %s); "
                "its held versions stay, the next run asks again",
                room_id,
                session_id,
                first.msg,
                error.msg,
            )
            return None
        return [i for i in listed if i.session_id == session_id], {}, complete

    def _room_listing(self, run: _Run, room_id: int) -> tuple[list[PlaybackItem], bool]:
        """Every version getList lists of one room, and whether the listing is complete."""
        walk = PageWalk(PAGE_SIZE)
        items: list[PlaybackItem] = []
        total = 0
        while not walk.done:
            run.calls += 1
            page = self.client.playback.get_list(
                None, walk.number, PAGE_SIZE, crop_video=1, room_id=room_id
            )
            items.extend(walk.take(page))
            total = page.total
        return items, len(items) >= total

    # -- play records ---------------------------------------------------------------------

    @overload
    def views_report(
        self, room_id: None = None, session_id: int | None = None
    ) -> list[PlaybackViews]: ...

    @overload
    def views_report(self, room_id: int, session_id: int | None = None) -> list[ViewerViews]: ...

    def views_report(
        self, room_id: int | None = None, session_id: int | None = None
    ) -> list[PlaybackViews] | list[ViewerViews]:
        """Who watched, from the mirror alone (no API call).

        Without ``room_id``: one :class:`~baijiayun.mirror.PlaybackViews` per playback with
        plays (viewers, plays, seconds watched, average completion). With it: one
        :class:`~baijiayun.mirror.ViewerViews` per viewer of that room (of ``session_id``, or
        per session of a long-term room): plays, seconds, completion (total ``play_length`` over
        the main version's length, at most 1), first and last watch. Plays without a
        ``user_number`` count once per ``uuid``, as anonymous viewers.

        :param room_id: 教室号 (None: every playback)
        :param session_id: 序列号 (long-term rooms; None: every session)
        """
        if room_id is None:
            return playback_views(self.engine(), self.partner_id, None, session_id)
        return viewer_views(self.engine(), self.partner_id, room_id, session_id)

    def not_started(
        self, roster: Iterable[str], room_id: int | None = None, session_id: int | None = None
    ) -> list[str]:
        """The user numbers of ``roster`` (its order, each once) with no play record in the
        mirror (of ``room_id`` and ``session_id`` when given); no API call.

        :param roster: 学员编号 (user numbers, e.g. from :func:`~baijiayun.mirror.read_roster`)
        """
        return not_started(self.engine(), self.partner_id, roster, room_id, session_id)

    def _views(self, run: _Run) -> None:
        """Read the play records of every day not final yet; an error answer of the endpoint
        (no video-data permission, say) is recorded as the run's ``views_error``, not raised:
        the catalog was synced all the same."""
        try:
            self._read_views(run)
        except APIError as exc:
            run.views_error = f"{type(exc).__name__}: {exc}"
            log.warning("mirror: play records not read: %s", run.views_error)

    def view_days_due(self) -> list[DueDay]:
        """What the next run reads, oldest first (no API call).

        A day never read is read whole. A day read before and not final yet (today, yesterday)
        is read from the earliest moment a play may have begun unseen or may still be growing:
        ``views_grace`` seconds before its last read began, or the beginning of a held play
        reported within ``views_grace`` seconds, whichever is earlier; a day with nothing left
        to read that way costs no call (``since`` None). A day is final once it is
        ``open_days`` days old.
        """
        now = self._clock()
        today = dt.datetime.fromtimestamp(now, BEIJING).date()
        held = self.store.view_days()
        start = self.views_since
        if start is None:
            start = min(held) if held else today - dt.timedelta(days=VIEWS_DAYS)
        recent = china_time(dt.datetime.fromtimestamp(now - self.views_grace, BEIJING))
        assert recent is not None
        due = []
        day = start
        while day <= today:
            final = (today - day).days >= self.open_days
            midnight = dt.datetime.combine(day, dt.time(), BEIJING)
            seen = held.get(day)
            if seen is None:
                due.append(DueDay(day, final, midnight))
            elif not seen[0]:
                since = dt.datetime.fromtimestamp(seen[1] - self.views_grace, BEIJING)
                growing = self.store.growing_since(day, recent)
                if growing is not None:
                    since = min(since, parse_china_time(growing))
                since = max(since, midnight)
                due.append(DueDay(day, final, since if since.date() == day else None))
            day += dt.timedelta(days=1)
        return due

    def _views_page(self, run: _Run, due: DueDay, number: int) -> PlayRecordPage:
        run.views_calls += 1
        assert due.since is not None
        return self.client.video_data.export_video_report_batch(
            due.since.strftime("%Y-%m-%d %H:%M:%S"),
            f"{due.day} 23:59:59",
            None,
            number,
            VIEWS_PAGE_SIZE,
        )

    def _read_views(self, run: _Run) -> None:
        """Page through each due window (exportVideoReportBatch, the whole account); a day is
        recorded read, final or not, with its last page, in that page's transaction (a day
        with nothing left to read is only recorded final, without a call)."""
        due = []
        for day in self.view_days_due():
            if day.since is not None:
                due.append(day)
            elif day.final:
                self.store.finish_day(day.day, run.run_id)
        if not due:
            return
        # As in the catalog walk, the next page is fetched while this one is written.
        with ThreadPoolExecutor(1, thread_name_prefix="bjy-mirror-views") as fetcher:
            index, walk = 0, PageWalk(VIEWS_PAGE_SIZE)
            began = self._clock()
            pending: Future[PlayRecordPage] | None = fetcher.submit(
                self._views_page, run, due[0], 1
            )
            while pending is not None:
                day = due[index]
                page = pending.result()
                fresh = walk.take(page)
                run.views_seen += len(fresh)
                finished = (day.day, day.final, began) if walk.done else None
                if walk.done:
                    index, walk = index + 1, PageWalk(VIEWS_PAGE_SIZE)
                    began = self._clock()
                last = index >= len(due) or run.stopping
                pending = (
                    None if last else fetcher.submit(self._views_page, run, due[index], walk.number)
                )
                rows = [record_row(r) for r in fresh]
                run.views.add(self.store.write_records(rows, run.run_id, finished))
                run.renew()
                if last:
                    run.check_stop()

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
        last_full = self.store.last_complete(FULL)
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
