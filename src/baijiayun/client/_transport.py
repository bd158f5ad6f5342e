"""httpx details of one attempt: timeouts, the call's deadline on every socket phase, httpx failures."""

from __future__ import annotations

import contextvars
import ssl
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import httpcore
import httpx

from ..errors import APIConnectionError, APITimeoutError

__all__ = [
    "CONNECT_TIMEOUT",
    "DEADLINE_GRACE",
    "DeadlineBackend",
    "attempt_timeout",
    "bounded",
    "bounded_async",
    "new_async_client",
    "new_client",
    "shorten_reads",
    "translate",
]

CONNECT_TIMEOUT = 5.0
"""Longest wait for a connection, so a dead host leaves time to retry within the call."""

DEADLINE_GRACE = 0.1
"""Seconds past the deadline before an async attempt is cancelled: the per-phase timeouts, which
know whether the request left, end it first; the cancellation catches any phase they do not bound."""

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "baijiayun_call_deadline", default=None
)
"""``time.monotonic()`` by which the attempt running in this thread or task must end."""


def attempt_timeout(left: float) -> httpx.Timeout:
    """httpx timeouts of one attempt with ``left`` seconds before the call's deadline."""
    return httpx.Timeout(left, connect=min(CONNECT_TIMEOUT, left))


def shorten_reads(request: httpx.Request, left: float) -> None:
    """Let the next socket read of ``request`` wait at most ``left`` seconds.

    httpcore looks the read timeout up before every body read, so a body that trickles in cannot
    stretch the call past its deadline by more than one read.
    """
    timeouts = request.extensions.get("timeout")
    if isinstance(timeouts, dict):
        timeouts["read"] = max(left, 0.001)


@contextmanager
def bounded(left: float) -> Iterator[None]:
    """Run one synchronous attempt that must end within ``left`` seconds.

    httpx's timeouts bound each socket read, not a phase: a server that sends its response head
    one byte a second never lets a read time out. The connections of :func:`new_client` read the
    deadline set here and shorten every connect, read and write to the time left.
    """
    token = _DEADLINE.set(time.monotonic() + max(left, 0.0))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


@contextmanager
def bounded_async(left: float) -> Iterator[None]:
    """Run one async attempt that must end within ``left`` seconds (whatever its httpx client).

    The attempt is cancelled :data:`DEADLINE_GRACE` after the deadline, raising ``TimeoutError``.
    """
    with bounded(left), anyio.fail_after(max(left, 0.0) + DEADLINE_GRACE):
        yield


def _time_left(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the call's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the deadline of the attempt using it."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's socket backend, with connections bounded by the deadline of :func:`bounded`."""

    def __init__(self, backend: httpcore.NetworkBackend | None = None) -> None:
        self._backend = backend or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _time_left(timeout, httpcore.ConnectTimeout)
        stream = self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        timeout = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _DeadlineTransport(httpx.HTTPTransport):
    """httpx's transport on a connection pool built with :class:`DeadlineBackend`."""

    def __init__(self) -> None:
        # httpx has no public way to give its transport a network backend, so its pool is built
        # here (and httpx's __init__, which would build another, is skipped) with httpx's
        # defaults: TLS verification, connection limits, keep-alive.
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=DeadlineBackend(),
        )


def new_client() -> httpx.Client:
    """The httpx client a ``BaiJiaYunClient`` opens for itself: every phase bounded by the call."""
    return httpx.Client(transport=_DeadlineTransport())


def new_async_client() -> httpx.AsyncClient:
    """The httpx client an ``AsyncBaiJiaYunClient`` opens for itself."""
    return httpx.AsyncClient()


def translate(endpoint: str, exc: httpx.TransportError) -> APIConnectionError:
    """Map an httpx failure to :class:`APIConnectionError` / :class:`APITimeoutError`."""
    # Nothing reached the server if connecting failed; after that it may have.
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return APITimeoutError(endpoint, f"timed out connecting ({type(exc).__name__})")
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(endpoint, f"timed out ({type(exc).__name__})", request_sent=True)
    if isinstance(exc, httpx.ConnectError):
        return APIConnectionError(endpoint, f"cannot connect ({exc})")
    return APIConnectionError(
        endpoint, f"connection broke ({type(exc).__name__}: {exc})", request_sent=True
    )
