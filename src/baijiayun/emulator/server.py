"""Run the emulator on a real port with uvicorn: in the foreground, or in a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import gc
import json
import logging
import os
import socket
import sys
import threading
import time
from types import TracebackType
from typing import Any

import anyio.to_thread
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from .admin import LOOPBACK, AdminGuard
from .app import create_app
from .facade import Emulator, EmulatorConfig
from .wire import Dropped

__all__ = [
    "BackgroundServer",
    "ExposedWithoutToken",
    "InjectedDropFilter",
    "check_exposure",
    "free_port",
    "serve",
    "worker_app",
]

SPEC_ENV = "BAIJIAYUN_EMULATOR_WORKER_SPEC"
"""How ``serve(workers=N)`` hands the database URL and config to its worker processes."""

logger = logging.getLogger("baijiayun.emulator")


class ExposedWithoutToken(ValueError):
    """Binding beyond loopback needs an admin token (the admin API can reset and read keys)."""


def check_exposure(host: str, admin_token: str | None) -> None:
    """Refuse a non-loopback bind without an admin token; warn loudly about one with a token."""
    if host.lower() in LOOPBACK:
        return
    if not admin_token:
        raise ExposedWithoutToken(
            f"binding to {host} exposes the admin API (it resets state and shows keys): "
            "pass --admin-token TOKEN (or bind to 127.0.0.1)"
        )
    message = (
        f"WARNING: the emulator listens on {host}, beyond this machine. Its admin API wants "
        "the admin token; its OpenAPI and player page are open to anyone who can reach it."
    )
    logger.warning(message)
    print(f"\n{'!' * 78}\n{message}\n{'!' * 78}\n", file=sys.stderr)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class InjectedDropFilter(logging.Filter):
    """Keeps uvicorn from reporting an injected ``drop`` fault as a crash of the app (with a
    traceback): the emulator logs it, in one line, as the fault it is."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for uvicorn's record of a :class:`~baijiayun.emulator.wire.Dropped`."""
        return not (record.exc_info and isinstance(record.exc_info[1], Dropped))


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration, with :class:`InjectedDropFilter` on its error log."""
    config: dict[str, Any] = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config.setdefault("filters", {})["injected_drop"] = {"()": InjectedDropFilter}
    config["loggers"]["uvicorn.error"]["filters"] = ["injected_drop"]
    return config


def _config(
    emulator: Emulator, host: str, port: int, *, whole_process: bool = False, **options: Any
) -> uvicorn.Config:
    config = emulator.config
    guard = AdminGuard.for_server(host, port, config.allowed_hosts, config.admin_token)
    return uvicorn.Config(
        ServedApp(
            create_app(emulator, admin_guard=guard), emulator, owns=False, freeze=whole_process
        ),
        host=host,
        port=port,
        log_level=options.pop("log_level", "warning"),
        log_config=options.pop("log_config", log_config()),
        access_log=False,
        lifespan="on",
        **options,
    )


class ServedApp:
    """The app as a server runs it: answers ASGI lifespan events. While serving, buffered call
    statistics reach the database at least every ``interval`` seconds even when no request
    comes (other workers and hosts read them there); at shutdown the rest is flushed and, when
    the server ``owns`` the emulator, its pools are closed. With ``freeze`` (a server that is
    the whole process), what start-up built is kept out of the collector's full passes."""

    def __init__(
        self, app: ASGIApp, emulator: Emulator, *, owns: bool, freeze: bool = True
    ) -> None:
        self.app = app
        self.emulator = emulator
        self.owns = owns
        self.freeze = freeze

    async def _flush_forever(self, stop: asyncio.Event) -> None:
        """The one place buffered statistics are stored while serving (reads flush the rest):
        in a worker thread, so the write (and a SQLite checkpoint's fsync) never stalls the
        calls in flight on the event loop. Returns once ``stop`` is set and no flush is running
        (a cancelled task would leave its thread writing while the database closes)."""
        stats, db = self.emulator.call_stats, self.emulator.db
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), stats.interval)
            if stats.due():
                try:
                    await anyio.to_thread.run_sync(db.retrying, stats.flush)
                except Exception:
                    logger.exception("emulator: could not store call statistics")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        flusher: asyncio.Task[None] | None = None
        stop = asyncio.Event()
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # what start-up built (SQLAlchemy's metadata, compiled statements, modules)
                # lives as long as the server: keep it out of the collector's full passes,
                # whose pauses otherwise show in the latency tail
                if self.freeze:  # only when the server is the whole process
                    gc.freeze()
                flusher = asyncio.create_task(self._flush_forever(stop))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if flusher is not None:
                    # a flush already in its thread finishes first: the database closes
                    # below, and closing it under a running write crashes SQLite
                    stop.set()
                    await flusher
                await self.emulator.db.run(self.emulator.call_stats.flush)
                if self.owns:
                    await self.emulator.db.aclose()
                    self.emulator.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def worker_app() -> ServedApp:
    """The app of one worker process of ``serve(workers=N)``: an Emulator on the shared database."""
    spec = json.loads(os.environ[SPEC_ENV])
    fields = spec["config"]
    fields["lifecycle_delays"] = tuple(fields["lifecycle_delays"])
    fields["allowed_hosts"] = tuple(fields["allowed_hosts"])
    emulator = Emulator(spec["database"], EmulatorConfig(**fields))
    guard = AdminGuard.for_server(
        spec["host"], spec["port"], emulator.config.allowed_hosts, emulator.config.admin_token
    )
    return ServedApp(create_app(emulator, admin_guard=guard), emulator, owns=True)


def serve(
    emulator: Emulator,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    **options: Any,
) -> None:
    """Serve until interrupted (Ctrl-C); ExposedWithoutToken for a public bind without a token.

    With ``workers`` above 1, uvicorn runs that many processes, each with its own Emulator on
    ``emulator``'s database and config (PostgreSQL, or a SQLite file); they behave as one service:
    the rate window, statistics and keys live in the database (or Redis). Each process holds
    at most 16 PostgreSQL connections (see ``db.py``), so N workers need 16 N of the server's.
    """
    check_exposure(host, emulator.config.admin_token)
    if workers <= 1:
        uvicorn.Server(_config(emulator, host, port, whole_process=True, **options)).run()
        return
    if emulator.database_url in ("sqlite://", "sqlite:///:memory:"):
        raise ValueError("several workers need a shared database: PostgreSQL or a SQLite file")
    spec = {
        "database": emulator.database_url,
        "host": host,
        "port": port,
        "config": dataclasses.asdict(emulator.config),
    }
    os.environ[SPEC_ENV] = json.dumps(spec)
    uvicorn.run(
        f"{__name__}:worker_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=options.pop("log_level", "warning"),
        log_config=options.pop("log_config", log_config()),
        access_log=False,
        lifespan="on",
        **options,
    )


class BackgroundServer:
    """A real uvicorn server on a loopback port, in a thread; a context manager."""

    def __init__(
        self, emulator: Emulator, host: str = "127.0.0.1", port: int | None = None
    ) -> None:
        self.emulator = emulator
        self.host = host
        self.port = port or free_port(host)
        check_exposure(host, emulator.config.admin_token)
        self._server = uvicorn.Server(_config(emulator, self.host, self.port))
        self._thread = threading.Thread(
            target=self._server.run, name="bjy-emulator-server", daemon=True
        )

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        """Start serving and wait until the port accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"emulator server did not start on {self.base_url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Ask the server to finish and wait for its thread."""
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
