"""pytest plugin (entry point ``baijiayun``): an emulator per test and clients bound to it.

Fixtures: ``bjy_emulator`` (a fresh in-process emulator), ``bjy_account`` (an account in it),
``bjy_client`` / ``bjy_async_client`` (SDK clients talking to it in-process, no socket) and
``bjy_server`` (the same emulator behind a real uvicorn server on a free loopback port).
Set ``BAIJIAYUN_TEST_DATABASE_URL`` (e.g. a ``postgresql://`` URL) to run them on that database.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import pytest

from .client import AsyncBaiJiaYunClient, BaiJiaYunClient

if TYPE_CHECKING:
    from anyio.from_thread import BlockingPortal

    from .emulator import Emulator
    from .emulator.server import BackgroundServer

# Installing the package registers this plugin in every pytest run, with or without the emulator
# extra: nothing optional is imported until a fixture (or helper) is used.

__all__ = [
    "AsyncEmulatorTransport",
    "EmulatorTransport",
    "async_client_for",
    "bjy_account",
    "bjy_async_client",
    "bjy_client",
    "bjy_emulator",
    "bjy_server",
    "client_for",
]

IN_PROCESS_URL = "http://emulator.local"
EMULATOR_EXTRA = (
    "the baijiayun pytest fixtures need the 'emulator' extra: pip install 'baijiayun[emulator]'"
)


def _require_emulator() -> None:
    from importlib.util import find_spec

    if any(find_spec(name) is None for name in ("starlette", "sqlalchemy", "uvicorn")):
        pytest.fail(EMULATOR_EXTRA, pytrace=False)


def _broken(request: httpx.Request, exc: Exception) -> httpx.RemoteProtocolError:
    return httpx.RemoteProtocolError(f"connection dropped: {exc}", request=request)


class AsyncEmulatorTransport(httpx.AsyncBaseTransport):
    """Serve requests from an emulator app in-process; a dropped connection looks like one."""

    def __init__(self, emulator: Emulator) -> None:
        from .emulator import create_app

        self._inner = httpx.ASGITransport(app=create_app(emulator))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await self._inner.handle_async_request(request)
            content = await response.aread()
        except ConnectionResetError as exc:
            raise _broken(request, exc) from exc
        return httpx.Response(response.status_code, headers=response.headers, content=content)


class EmulatorTransport(httpx.BaseTransport):
    """Synchronous in-process transport: runs the app on an event loop in a helper thread."""

    def __init__(self, emulator: Emulator) -> None:
        self._async = AsyncEmulatorTransport(emulator)
        self._portal_cm: AbstractContextManager[BlockingPortal] | None = None
        self._portal: BlockingPortal | None = None
        # The first calls of several threads race to start the portal: one starts it.
        self._start = threading.Lock()

    def _running_portal(self) -> BlockingPortal:
        with self._start:
            if self._portal is None:
                from anyio.from_thread import start_blocking_portal

                self._portal_cm = start_blocking_portal()
                self._portal = self._portal_cm.__enter__()
                # a transport never closed stops its loop at exit, while its thread still
                # runs: left to the collector, the portal waited on a dead loop for ever
                self._finalizer = weakref.finalize(self, _stop_portal, self._portal_cm)
            return self._portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        portal = self._running_portal()
        body = request.read()
        forwarded = httpx.Request(
            request.method, request.url, headers=request.headers, content=body
        )
        return portal.call(self._async.handle_async_request, forwarded)

    def close(self) -> None:
        with self._start:
            if self._portal_cm is not None:
                self._finalizer.detach()
                self._portal_cm.__exit__(None, None, None)
                self._portal_cm = self._portal = None


def _stop_portal(portal_cm: AbstractContextManager[BlockingPortal]) -> None:
    portal_cm.__exit__(None, None, None)


C = TypeVar("C", BaiJiaYunClient, AsyncBaiJiaYunClient)


def _bind(cls: type[C], http: Any, account: dict[str, Any], options: dict[str, Any]) -> C:
    options.setdefault("max_retries", 0)
    return cls(
        account["partner_id"],
        account["partner_key"],
        base_url=IN_PROCESS_URL,
        http_client=http,
        owns_http_client=True,  # the client closes the transport made for it here
        **options,
    )


def client_for(emulator: Emulator, account: dict[str, Any], **options: Any) -> BaiJiaYunClient:
    """A sync client for ``account`` that talks to ``emulator`` in-process. Close it when done."""
    http = httpx.Client(transport=EmulatorTransport(emulator), base_url=IN_PROCESS_URL)
    return _bind(BaiJiaYunClient, http, account, options)


def async_client_for(
    emulator: Emulator, account: dict[str, Any], **options: Any
) -> AsyncBaiJiaYunClient:
    """An async client for ``account`` that talks to ``emulator`` in-process."""
    http = httpx.AsyncClient(transport=AsyncEmulatorTransport(emulator), base_url=IN_PROCESS_URL)
    return _bind(AsyncBaiJiaYunClient, http, account, options)


def _database_url() -> str:
    return os.environ.get("BAIJIAYUN_TEST_DATABASE_URL", "sqlite://")


@pytest.fixture
def bjy_emulator() -> Iterator[Emulator]:
    """A fresh emulator with empty state (fast lifecycle and callback timings)."""
    _require_emulator()
    from .emulator import Emulator, EmulatorConfig

    config = EmulatorConfig(lifecycle_delays=(0.05, 0.05, 0.05), callback_backoff=0.05)
    emulator = Emulator(_database_url(), config)
    emulator.reset()
    try:
        yield emulator
    finally:
        emulator.close()


@pytest.fixture
def bjy_account(bjy_emulator: Emulator) -> dict[str, Any]:
    """An account in the emulator: ``partner_id``, ``partner_key``, ``secret_key``, …"""
    return bjy_emulator.create_account()


@pytest.fixture
def bjy_client(bjy_emulator: Emulator, bjy_account: dict[str, Any]) -> Iterator[BaiJiaYunClient]:
    """A sync client bound to ``bjy_account`` in the in-process emulator."""
    with client_for(bjy_emulator, bjy_account) as client:
        yield client


@pytest.fixture
async def bjy_async_client(
    bjy_emulator: Emulator, bjy_account: dict[str, Any]
) -> AsyncIterator[AsyncBaiJiaYunClient]:
    """An async client bound to ``bjy_account`` in the in-process emulator (use with anyio)."""
    async with async_client_for(bjy_emulator, bjy_account) as client:
        yield client


@pytest.fixture
def bjy_server(bjy_emulator: Emulator) -> Iterator[BackgroundServer]:
    """``bjy_emulator`` served by uvicorn on a free loopback port (``.base_url``)."""
    from .emulator.server import BackgroundServer

    with BackgroundServer(bjy_emulator) as server:
        yield server
