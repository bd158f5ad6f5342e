"""httpx details of one attempt: timeouts, the call's deadline on every socket phase, httpx failures."""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from ..errors import APIConnectionError, APITimeoutError

__all__ = [
    "CALL_DEADLINE",
    "CONNECT_TIMEOUT",
    "DEADLINE_GRACE",
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

CALL_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
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
    one byte a second never lets a read time out. The connections of :func:`new_client`
    (:mod:`._deadline`) read the deadline set here and shorten every connect, read and write to the time left.
    """
    token = CALL_DEADLINE.set(time.monotonic() + max(left, 0.0))
    try:
        yield
    finally:
        CALL_DEADLINE.reset(token)


@contextmanager
def bounded_async(left: float) -> Iterator[None]:
    """Run one async attempt that must end within ``left`` seconds (whatever its httpx client).

    The attempt is cancelled :data:`DEADLINE_GRACE` after the deadline, raising ``TimeoutError``.
    """
    import anyio  # httpx's own dependency, loaded once an async call runs

    with bounded(left), anyio.fail_after(max(left, 0.0) + DEADLINE_GRACE):
        yield


def new_client() -> httpx.Client:
    """The httpx client a ``BaiJiaYunClient`` opens for itself: every phase bounded by the call."""
    from ._deadline import DeadlineTransport  # httpcore loads with the first client, not before

    return httpx.Client(transport=DeadlineTransport())


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
