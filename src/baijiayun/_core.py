"""Request building, envelope decoding and retry decisions: deterministic, no I/O."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import _signing
from ._endpoints import Endpoint, Param
from .errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    BaiJiaYunError,
    InvalidArgumentError,
    RateLimitError,
    ResponseDecodeError,
    error_for_code,
)

__all__ = [
    "RetryPolicy",
    "build_params",
    "decode_envelope",
    "signed_form",
    "to_wire",
]


def to_wire(param: Param, value: object) -> str:
    """Turn one Python argument into the exact string sent, refusing what cannot be sent."""
    if isinstance(value, bool):
        text = "1" if value else "0"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, dt.date) and param.kind == "date":
        text = value.strftime("%Y-%m-%d")
    elif isinstance(value, str):
        text = value
    else:
        raise InvalidArgumentError(
            param.name, f"got {type(value).__name__}; expected {param.describe_rule()}"
        )
    try:
        param.check_wire(text)
    except ValueError as exc:
        raise InvalidArgumentError(param.name, f"got {value!r}; expected {exc}") from None
    return text


def build_params(endpoint: Endpoint, arguments: Mapping[str, object]) -> dict[str, str]:
    """Validate the arguments of one call and return the wire parameters (``None`` = not sent)."""
    unknown = set(arguments) - set(endpoint.by_name)
    if unknown:
        raise InvalidArgumentError(sorted(unknown)[0], f"{endpoint.method} takes no such argument")
    params: dict[str, str] = {}
    for param in endpoint.params:
        value = arguments.get(param.name)
        if value is None:
            if param.required:
                raise InvalidArgumentError(
                    param.name, f"is required; expected {param.describe_rule()}"
                )
            continue
        params[param.name] = to_wire(param, value)
    return params


def signed_form(
    params: Mapping[str, str], partner_id: int, partner_key: str, timestamp: int | None = None
) -> dict[str, str]:
    """Add ``partner_id``, a fresh ``timestamp`` and the ``sign`` to the wire parameters."""
    form = dict(params)
    form["partner_id"] = str(partner_id)
    form["timestamp"] = str(int(time.time()) if timestamp is None else timestamp)
    form["sign"] = _signing.sign(form, partner_key)
    return form


def parse_retry_after(value: str | None) -> float | None:
    """Read a Retry-After header given in seconds or as an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, parsed.timestamp() - time.time())


def decode_envelope(
    endpoint: Endpoint, status_code: int, headers: Mapping[str, str], content: bytes
) -> Any:
    """Return ``data`` of a ``code == 0`` envelope; raise the matching error otherwise."""
    name = endpoint.path
    retry_after = parse_retry_after(headers.get("retry-after"))
    text = content.decode("utf-8", "replace")
    if status_code == 429:
        raise RateLimitError(name, 429, text[:200] or "HTTP 429", retry_after=retry_after)
    if not 200 <= status_code < 300:
        raise APIStatusError(name, status_code, text, retry_after=retry_after)
    try:
        body = json.loads(content)
    except ValueError:
        raise ResponseDecodeError(name, "body is not JSON", text[:200]) from None
    if not isinstance(body, dict) or not isinstance(body.get("code"), int):
        raise ResponseDecodeError(name, "no integer 'code' in the body", text[:200])
    code: int = body["code"]
    if code != 0:
        error = error_for_code(name, code, str(body.get("msg") or ""))
        error.retry_after = retry_after
        raise error
    return body.get("data")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter; which failures are retried depends on the endpoint."""

    initial_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, endpoint: Endpoint, error: BaiJiaYunError, attempt: int) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` if ``error`` is final."""
        if not self.may_retry(endpoint, error):
            return None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return float(min(retry_after, 60.0))
        ceiling = min(self.max_delay, self.initial_delay * (2**attempt))
        return random.uniform(ceiling / 2, ceiling)

    @staticmethod
    def may_retry(endpoint: Endpoint, error: BaiJiaYunError) -> bool:
        """Connection failures before sending: always. Anything that may have arrived: only safe ones."""
        if isinstance(error, APIConnectionError):
            return not error.request_sent or endpoint.retry_safe
        if isinstance(error, RateLimitError):
            return endpoint.retry_safe
        if isinstance(error, APIStatusError):
            return endpoint.retry_safe and (error.status_code >= 500 or error.status_code == 408)
        return False


def is_signature_error(error: BaseException) -> bool:
    """Tell whether a call failed because the partner_key was wrong (so a fresh key may help)."""
    return isinstance(error, APIError) and error.code == 1002
