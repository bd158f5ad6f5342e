"""httpx details of one attempt: per-attempt timeouts and httpx failures mapped to our errors."""

from __future__ import annotations

import httpx

from ..errors import APIConnectionError, APITimeoutError

__all__ = ["CONNECT_TIMEOUT", "attempt_timeout", "shorten_reads", "translate"]

CONNECT_TIMEOUT = 5.0
"""Longest wait for a connection, so a dead host leaves time to retry within the call."""


def attempt_timeout(left: float) -> httpx.Timeout:
    """httpx timeouts of one attempt with ``left`` seconds before the call's deadline."""
    return httpx.Timeout(left, connect=min(CONNECT_TIMEOUT, left))


def shorten_reads(request: httpx.Request, left: float) -> None:
    """Let the next socket read of ``request`` wait at most ``left`` seconds.

    httpcore looks the read timeout up before every read, so a body that trickles in cannot
    stretch the call past its deadline by more than one read.
    """
    timeouts = request.extensions.get("timeout")
    if isinstance(timeouts, dict):
        timeouts["read"] = max(left, 0.001)


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
