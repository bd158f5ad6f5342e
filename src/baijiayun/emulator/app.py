"""The Emulator: state, faults, rate window and background jobs, plus ``create_app`` for ASGI."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

from .. import _signing
from . import admin, handlers
from .faults import Fault, FaultBook
from .state import (
    CALLBACK_STATUSES,
    FAILED,
    READY,
    TRANSCODING,
    EmulatorError,
    Record,
    State,
    make_engine,
)
from .worker import Scheduler

__all__ = ["Emulator", "EmulatorConfig", "EmulatorError", "create_app"]

DEFAULT_DATABASE = "sqlite://"


@dataclass
class EmulatorConfig:
    """Knobs of the emulated service (defaults follow protocol §11)."""

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


class Emulator:
    """A local BaijiaYun playback service. ``create_app(emulator)`` serves it over HTTP.

    The methods below are the admin API in Python; ``/_emulator/...`` exposes the same over HTTP.
    """

    config: EmulatorConfig
    state: State
    faults: FaultBook
    rate_window: handlers.RateWindow
    jobs: Scheduler

    def __init__(
        self,
        database_url: str = DEFAULT_DATABASE,
        config: EmulatorConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        rate_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config or EmulatorConfig()
        self.database_url = database_url
        self.state = State(make_engine(database_url), clock=clock)
        self.faults = FaultBook(self.config.fault_seed)
        self.rate_window = handlers.RateWindow(
            self.config.rate_limit, self.config.rate_period, rate_clock
        )
        self.jobs = Scheduler()
        self._http: httpx.Client | None = None

    def __repr__(self) -> str:
        return f"Emulator(database={self.state.engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        """Stop background jobs and release the database and HTTP connections."""
        self.jobs.stop()
        if self._http is not None:
            self._http.close()
        self.state.engine.dispose()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- admin operations -----------------------------------------------------------------

    def account(self, partner_id: int) -> Record | None:
        """An account's row (partner_key, secret_key, private_domain, callback URL), or None."""
        return self.state.account(partner_id)

    def create_account(self, **fields: Any) -> Record:
        """Create an account (``partner_id``, ``partner_key``, ``secret_key``, ``private_domain``)."""
        return self.state.create_account(**fields)

    def create_room(self, partner_id: int, **fields: Any) -> Record:
        """Create a room (``room_id``, ``title``, ``product_type``, ``long_term``)."""
        return self.state.create_room(partner_id, **fields)

    def delete_room(self, room_id: int) -> None:
        """Delete a room (its calls then answer 3002)."""
        self.state.delete_room(room_id)

    def create_recording(
        self, room_id: int, *, auto: bool = False, fail: bool = False, **fields: Any
    ) -> Record:
        """Start a recording (status 0). ``auto`` walks it to 100 (or 30 with ``fail``) on a timer."""
        record = self.state.create_recording(room_id, **fields)
        if auto:
            delays = self.config.lifecycle_delays
            elapsed = 0.0
            for delay, status in zip(delays, (10, 20, FAILED if fail else READY), strict=True):
                elapsed += delay
                self.jobs.schedule(elapsed, self._step(room_id, record["session_id"], status))
        return record

    def _step(self, room_id: int, session_id: int, status: int) -> Callable[[], None]:
        def step() -> None:
            self.advance(room_id, session_id, status)

        return step

    def advance(self, room_id: int, session_id: int = 0, status: int | None = None) -> Record:
        """Move a recording to its next status (or ``status``); 20, 30 and 100 send callbacks."""
        record = self.state.advance(room_id, session_id, status)
        if record["status"] in CALLBACK_STATUSES:
            self._notify(record)
        return record

    def finish_recording(self, room_id: int, session_id: int = 0, *, fail: bool = False) -> Record:
        """Walk a recording from where it is to 100 (or 30), sending each callback."""
        record = self.state.original(room_id, session_id)
        while record["status"] not in (READY, FAILED):
            target = (FAILED if fail else READY) if record["status"] == TRANSCODING else None
            record = self.advance(room_id, session_id, target)
        return record

    def create_crop(self, room_id: int, session_id: int = 0, **fields: Any) -> Record:
        """Add a crop version to a generated playback."""
        return self.state.create_crop(room_id, session_id, **fields)

    def add_ppt(self, room_id: int, session_id: int = 0, **fields: Any) -> Record:
        """Attach a slides PDF to a room/session (``name``, ``date``)."""
        return self.state.add_ppt(room_id, session_id, **fields)

    def reset(self) -> None:
        """Forget all state, faults, queued jobs and rate-limit windows."""
        self.jobs.clear()
        self.faults.clear()
        self.rate_window.reset()
        self.state.reset()

    def inject_fault(self, endpoint: str, kind: str, value: float = 0, **rule: Any) -> Fault:
        """Add a fault rule (see :class:`Fault`)."""
        return self.faults.add(Fault(endpoint, kind, value, **rule))  # type: ignore[arg-type]

    def deliveries(self) -> list[Record]:
        """Every callback delivery with its attempts."""
        return self.state.deliveries()

    # -- callbacks ------------------------------------------------------------------------

    def _notify(self, record: Record) -> None:
        account = self.state.account(record["partner_id"])
        if account is None or not account["transcode_callback_url"]:
            return
        payload = {
            "room_id": str(record["room_id"]),
            "video_id": str(record["video_id"]),
            "status": str(record["status"]),
            "total_size": str(record["total_size"]),
            "file_md5": record["file_md5"],
            "qid": secrets.token_hex(12),
            "timestamp": str(self.state.now()),
        }
        if record["session_id"]:
            payload["session_id"] = str(record["session_id"])
        if record["version"]:
            payload["version"] = str(record["version"])
        if record["status"] == READY:
            payload.update(
                preface_url=record["preface_url"],
                total_transcode_size=str(record["total_transcode_size"]),
                length=str(record["length"]),
                now_definition="low,std,high",
                origin_definition="high",
            )
        payload["sign"] = _signing.sign(payload, account["partner_key"])
        delivery_id = self.state.record_delivery(
            record["partner_id"], account["transcode_callback_url"], payload["qid"], payload
        )
        self.jobs.schedule(0, lambda: self._deliver(delivery_id, 1))

    def _deliver(self, delivery_id: int, attempt: int) -> None:
        delivery = self.state.delivery(delivery_id)
        if delivery is None:
            return
        if self._http is None:
            self._http = httpx.Client(timeout=self.config.callback_timeout)
        status: int | None = None
        reply = error = ""
        try:
            response = self._http.post(delivery["url"], data=json.loads(delivery["payload"]))
            status, reply = response.status_code, response.text
            ok = 200 <= status < 300 and _reply_ok(reply)
            if not ok:
                error = f"HTTP {status}" if not 200 <= status < 300 else "reply code is not 0"
        except httpx.HTTPError as exc:
            ok, error = False, f"{type(exc).__name__}: {exc}"
        final = ok or attempt > self.config.callback_retries
        self.state.record_attempt(delivery_id, attempt, status, reply, error, ok, final)
        if not final:
            delay = self.config.callback_backoff * 2 ** (attempt - 1)
            self.jobs.schedule(delay, lambda: self._deliver(delivery_id, attempt + 1))


def _reply_ok(reply: str) -> bool:
    try:
        body = json.loads(reply)
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("code") == 0


def create_app(emulator: Emulator | None = None) -> Starlette:
    """The ASGI app of an emulator (a fresh in-memory one if none is given)."""
    emulator = emulator or Emulator()
    app = Starlette(
        routes=[
            *admin.routes(),
            Route("/web/playback/index", handlers.player_page, methods=["GET"]),
            Route("/{path:path}", handlers.openapi, methods=["GET", "POST"]),
        ]
    )
    app.state.emulator = emulator
    return app
