"""The Emulator: one object holding the database, backends, faults, rate window and jobs."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .backends import PartnerBackend, PlaybackBackend, ViewsBackend
from .backends.playback import CALLBACK_STATUSES, FAILED, READY, TRANSCODING
from .callbacks import Notifier
from .db import Concurrency, Database
from .faults import Fault, FaultBook
from .ratelimit import DatabaseRateWindow, RateWindow, RedisRateWindow, Window
from .responses import Context
from .rows import Playback, as_dict
from .stats import StatsBook
from .worker import Scheduler

__all__ = [
    "DEFAULT_DATABASE",
    "Emulator",
    "EmulatorConfig",
    "RateWindow",
    "check_admin_token",
]

logger = logging.getLogger("baijiayun.emulator")

DEFAULT_DATABASE = "sqlite://"
Record = dict[str, Any]


@dataclass
class EmulatorConfig:
    """Knobs of the emulated service (defaults follow docs/protocol.md#decisions)."""

    timestamp_window: int = 300
    """Reject |server time - timestamp| above this many seconds with 1001 (0 = off)."""
    rate_limit: int | None = 200
    """Calls per ``rate_period`` per partner_id; None or 0 turns the limit off."""
    rate_period: float = 10.0
    debug_signatures: bool = False
    """Explain a 1002 by returning the canonical string the server signed (key masked)."""
    lifecycle_delays: tuple[float, float, float] = (2.0, 3.0, 5.0)
    """Seconds before an automatic recording goes to 10, then 20, then 100/30."""
    callback_retries: int = 5
    callback_backoff: float = 1.0
    callback_timeout: float = 5.0
    fault_seed: int | None = None
    public_url: str | None = None
    """Where ``play_url`` points (e.g. ``https://emu.example``); by default the served address."""
    max_body: int = 1024 * 1024
    """Largest request body accepted, in bytes; a bigger one is answered with an error envelope."""
    allowed_hosts: tuple[str, ...] = field(default_factory=tuple)
    """Extra ``Host`` names the admin API accepts (besides loopback and the served host):
    ``NAME``, ``NAME:PORT`` (also allows pages on ``http://NAME:PORT``) or ``https://NAME``;
    see :class:`~baijiayun.emulator.admin.AdminGuard`."""
    admin_token: str | None = None
    """When set, the admin API wants ``Authorization: Bearer <token>``."""
    redis_url: str | None = None
    """Count the rate window in this Redis (else in the database, or in memory for SQLite in
    memory): several workers and hosts then share one limit per partner."""
    redis_prefix: str = "bjy:emulator:rate"
    """Key prefix of the rate window in Redis (one sorted set per partner under it)."""
    report_interval: float = 10.0
    """Seconds between the web player's beacons while it plays (docs/protocol.md#viewing-records); a play with
    no beacon for three intervals has ended."""
    postgres_io: Concurrency = "async"
    """How PostgreSQL round trips leave the event loop: ``async`` (psycopg's async driver) or
    ``thread`` (the blocking driver in a worker thread); see benchmarks/emulator_throughput.py."""

    def __post_init__(self) -> None:
        check_admin_token(self.admin_token)


def check_admin_token(token: str | None) -> None:
    """ValueError for an admin token no request could present: empty, whitespace only, or
    with whitespace around it (the guard compares the token after ``Bearer `` exactly)."""
    if token is None:
        return
    if not token.strip():
        raise ValueError("the admin token is empty or whitespace only; pass a real secret")
    if token != token.strip():
        raise ValueError("the admin token has whitespace around it; pass it without")


class Emulator:
    """A local BaijiaYun playback service. ``create_app(emulator)`` serves it over HTTP.

    The methods below are the admin API in Python; ``/_emulator/...`` exposes the same over HTTP.
    ``clock`` is the service's wall clock (timestamps, token expiry); ``sleep``, when given, is how
    background jobs wait (pass a fake that advances a fake ``clock`` to make backoffs instant).
    """

    config: EmulatorConfig
    faults: FaultBook
    rate_window: Window
    jobs: Scheduler

    def __init__(
        self,
        database_url: str = DEFAULT_DATABASE,
        config: EmulatorConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        rate_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.config = config or EmulatorConfig()
        self.database_url = database_url
        self.clock = clock
        self.db = Database.connect(database_url, concurrency=self.config.postgres_io)
        now = self._now
        self.partners = PartnerBackend(self.db, now)
        self.playbacks = PlaybackBackend(self.db, now)
        self.views = ViewsBackend(self.db, now, self.playbacks)
        self.faults = FaultBook(self.db, self.config.fault_seed)
        self.rate_window = self._rate_window(rate_clock)
        self.jobs = Scheduler(now if sleep is not None else time.monotonic, sleep)
        self.notifier = Notifier(
            self.db,
            self.partners,
            self.jobs,
            now,
            retries=self.config.callback_retries,
            backoff=self.config.callback_backoff,
            timeout=self.config.callback_timeout,
        )
        self.call_stats = StatsBook(self.db)

    def _now(self) -> float:
        return self.clock()

    def _rate_window(self, clock: Callable[[], float]) -> Window:
        """Redis when configured; the database when other processes may share it; else memory."""
        limit, period = self.config.rate_limit, self.config.rate_period
        if self.config.redis_url:
            return RedisRateWindow(
                self.config.redis_url, limit, period, clock, self.config.redis_prefix
            )
        if self.database_url in ("sqlite://", "sqlite:///:memory:"):
            return RateWindow(limit, period, clock)
        return DatabaseRateWindow(self.db, limit, period, clock)

    def context(self, public_url: str) -> Context:
        """What the response functions need, with play_url starting at ``public_url``."""
        base = (self.config.public_url or public_url).rstrip("/")
        return Context(self.playbacks, self.partners, base, views=self.views)

    def __repr__(self) -> str:
        return f"Emulator(database={self.db.describe()!r})"

    def close(self) -> None:
        """Stop background jobs and release the database and HTTP connections."""
        self.jobs.stop()
        self.notifier.close()
        try:
            self.call_stats.flush()
        except Exception:  # the database may be gone already; closing must still release it
            logger.warning("emulator: could not save the last call statistics", exc_info=True)
        if isinstance(self.rate_window, RedisRateWindow):
            self.rate_window.close()
        self.db.dispose()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- admin operations -----------------------------------------------------------------

    def account(self, partner_id: int) -> Record | None:
        """An account's row (partner_key, secret_key, private_domain, callback URL), or None."""
        found = self.partners.account(partner_id)
        return None if found is None else as_dict(found)

    def create_account(self, **fields: Any) -> Record:
        """Create an account (``partner_id``, ``partner_key``, ``secret_key``, ``private_domain``)."""
        return as_dict(self.partners.create_account(**fields))

    def rotate_key(self, partner_id: int, secret_key: str, regenerate: bool = True) -> str:
        """What createkey does: return (or with ``regenerate``, replace) the partner_key."""
        return self.partners.rotate_key(partner_id, secret_key, regenerate)

    def set_callback_url(self, partner_id: int, url: str) -> None:
        """Set an account's transcode callback URL ('' turns callbacks off)."""
        self.partners.set_callback_url(partner_id, url)

    def create_room(self, partner_id: int, **fields: Any) -> Record:
        """Create a room (``room_id``, ``title``, ``product_type``, ``long_term``)."""
        return as_dict(self.playbacks.create_room(partner_id, **fields))

    def delete_room(self, room_id: int) -> None:
        """Delete a room (its calls then answer 3002)."""
        self.playbacks.delete_room(room_id)

    def create_recording(
        self, room_id: int, *, auto: bool = False, fail: bool = False, **fields: Any
    ) -> Record:
        """Start a recording (status 0). ``auto`` walks it to 100 (or 30 with ``fail``) on a timer."""
        row = self.playbacks.create_recording(room_id, **fields)
        if auto:
            elapsed = 0.0
            steps = (10, 20, FAILED if fail else READY)
            for delay, status in zip(self.config.lifecycle_delays, steps, strict=True):
                elapsed += delay
                self.jobs.schedule(elapsed, self._step(room_id, row.session_id, status))
        return as_dict(row)

    def _step(self, room_id: int, session_id: int, status: int) -> Callable[[], None]:
        def step() -> None:
            # re-run on a deadlock with another process writing the same room
            self.db.retrying(self._advance, room_id, session_id, status)

        return step

    def _advance(self, room_id: int, session_id: int, status: int | None) -> Playback:
        row = self.playbacks.advance(room_id, session_id, status)
        if row.status in CALLBACK_STATUSES:
            self.notifier.notify(row)
        return row

    def advance(self, room_id: int, session_id: int = 0, status: int | None = None) -> Record:
        """Move a recording to its next status (or ``status``); 20, 30 and 100 send callbacks."""
        return as_dict(self._advance(room_id, session_id, status))

    def finish_recording(self, room_id: int, session_id: int = 0, *, fail: bool = False) -> Record:
        """Walk a recording from where it is to 100 (or 30), sending each callback."""
        row = self.playbacks.original(room_id, session_id)
        while row.status not in (READY, FAILED):
            target = (FAILED if fail else READY) if row.status == TRANSCODING else None
            row = self._advance(room_id, session_id, target)
        return as_dict(row)

    def create_crop(self, room_id: int, session_id: int = 0, **fields: Any) -> Record:
        """Add a crop version to a generated playback."""
        return as_dict(self.playbacks.create_crop(room_id, session_id, **fields))

    def add_ppt(self, room_id: int, session_id: int = 0, **fields: Any) -> Record:
        """Attach a slides PDF to a room/session (``name``, ``date``)."""
        return as_dict(self.playbacks.add_ppt(room_id, session_id, **fields))

    def playback_rows(self, room_id: int, *, include_deleted: bool = False) -> list[Record]:
        """Every version row of a room, oldest first (``deleted`` ones too if asked)."""
        rows = self.playbacks.playback_rows(room_id, include_deleted=include_deleted)
        return [as_dict(r) for r in rows]

    def seed_demo(self) -> dict[str, int]:
        """Load the deterministic demo data set into an empty emulator; return what it created
        (with a few hundred views over the 30 days up to today, the same all day)."""
        from .seed import DEMO_ACCOUNTS, seed_demo
        from .seed_views import DEMO_VIEWS, seed_views

        counts = seed_demo(self.db)
        partners = [int(a["partner_id"]) for a in DEMO_ACCOUNTS]
        counts["views"] = seed_views(self.db, DEMO_VIEWS, self.clock(), partners)
        return counts

    def seed_large(self, n: int = 100_000, views: int = 0) -> dict[str, int]:
        """Load the deterministic large catalog (one account, ``n`` playbacks) by bulk inserts;
        return what it created. Credentials: ``seed_large.LARGE_ACCOUNT``.

        :param n: 回放数量 (number of playbacks; crop versions come on top)
        :param views: 观看记录数量 (play records over the 30 days up to today, Beijing time;
            the same ``views`` on the same day gives the same records)
        """
        from .seed_large import LARGE_ACCOUNT, seed_large
        from .seed_views import seed_views

        counts = seed_large(self.db, n)
        if views:
            partner = int(LARGE_ACCOUNT["partner_id"])
            counts["views"] = seed_views(self.db, views, self.clock(), [partner])
        return counts

    def add_views(self, records: list[Record]) -> list[Record]:
        """Add play records in bulk: docs/protocol.md#viewing-records records (``room_id`` and ``play_begin_time``, as
        ``YYYY-MM-DD HH:MM:SS`` Beijing time or unix seconds, are needed; a missing ``guid`` is
        made). All or none; return them as stored."""
        return [as_dict(r) for r in self.views.add_records(records)]

    def play_records(self, room_id: int | None = None) -> list[Record]:
        """Every play record (of one room), oldest first, as stored (times in unix seconds)."""
        return [as_dict(r) for r in self.views.records(room_id)]

    def reset(self) -> None:
        """Forget all state, faults, queued jobs, rate-limit windows and statistics."""
        self.jobs.clear()
        self.rate_window.reset()
        self.call_stats.discard()
        self.db.reset()

    def inject_fault(self, endpoint: str, kind: str, value: float = 0, **rule: Any) -> Fault:
        """Add a fault rule (see :class:`Fault`); the stored rule, with its ``id``."""
        return self.faults.add(Fault(endpoint, kind, value, **rule))  # type: ignore[arg-type]

    def fault_rules(self) -> list[Fault]:
        """The active fault rules, with their hit counts (from the database: every worker's)."""
        return self.faults.rules()

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self.faults.clear()

    def deliveries(self) -> list[Record]:
        """Every callback delivery with its attempts."""
        return self.notifier.deliveries()

    def redeliver(self, delivery_id: int) -> int:
        """Send a callback delivery once more with the same payload and ``qid``; the number of
        that attempt (it is recorded like the others). KeyError if there is no such delivery."""
        return self.notifier.redeliver(delivery_id)

    def recent_calls(self) -> list[Record]:
        """The newest OpenAPI calls (at most 1,000, every worker's), newest first: ``at``,
        ``partner_id``, ``endpoint``, ``outcome``, ``code`` and ``why`` it was refused."""
        return self.call_stats.recent()

    def rate_usage(self, partner_id: int) -> int:
        """Calls of an account admitted in the current rate window (every worker's)."""
        return self.rate_window.usage(partner_id)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no lifecycle step or callback delivery is pending; True if it happened."""
        return self.jobs.idle(timeout)

    def stats(self) -> list[Record]:
        """Per partner and endpoint: calls ``served``, and those refused as ``rate_limited``,
        by ``auth`` (partner, timestamp or sign checks) and by an injected ``fault``."""
        return self.call_stats.report()

    def calls(self, partner_id: int, endpoint: str | None = None, outcome: str = "served") -> int:
        """How many calls of an account (to one ``endpoint`` action, e.g. ``getBasicInfo``, or to
        all) ended with ``outcome``: ``served``, ``rate_limited``, ``auth`` or ``fault``."""
        return sum(
            int(row[outcome])
            for row in self.stats()
            if row["partner_id"] == partner_id and endpoint in (None, row["endpoint"])
        )
