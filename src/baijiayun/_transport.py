"""The only code that touches the network: one POST, with httpx failures mapped to our errors."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from .errors import APIConnectionError, APITimeoutError

__all__ = ["Answer", "post_async", "post_sync"]

Answer = tuple[int, Mapping[str, str], bytes]
"""HTTP status, headers and raw body of one answer."""


def _translate(endpoint: str, exc: httpx.TransportError) -> APIConnectionError:
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


def post_sync(http: httpx.Client, url: str, endpoint: str, form: Mapping[str, str]) -> Answer:
    """POST ``form`` url-encoded and return the answer; raise APIConnectionError on failure."""
    try:
        response = http.post(url, data=form)
    except httpx.TransportError as exc:
        raise _translate(endpoint, exc) from None
    return response.status_code, response.headers, response.content


async def post_async(
    http: httpx.AsyncClient, url: str, endpoint: str, form: Mapping[str, str]
) -> Answer:
    """Async twin of :func:`post_sync`."""
    try:
        response = await http.post(url, data=form)
    except httpx.TransportError as exc:
        raise _translate(endpoint, exc) from None
    return response.status_code, response.headers, response.content
