"""Request building, envelope decoding and retry decisions: deterministic, no I/O."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from .. import _signing
from .._endpoints import Endpoint, Param, RuleError, beijing_wire_time
from ..errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    BaiJiaYunError,
    InvalidArgumentError,
    RateLimitError,
    ResponseDecodeError,
    error_for_code,
)

__all__ = [
    "MAX_BODY_BYTES",
    "Answer",
    "Attempts",
    "RetryPolicy",
    "WaitReason",
    "build_params",
    "decode_envelope",
    "signed_form",
    "to_wire",
]


SECRET_PARAMS: Final = frozenset({"partner_key", "secret_key", "sign"})
"""Parameters whose values are never shown in a message (only their length is)."""


def to_wire(param: Param, value: object) -> str:
    """Turn one Python argument into the exact string sent, refusing what cannot be sent."""
    if isinstance(value, bool):
        text = "1" if value else "0"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, dt.datetime) and param.kind == "datetime":
        text = beijing_wire_time(value)  # naive = Beijing time (docs/protocol.md#viewing-records)
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
        shown = f"a value of {len(text)} characters" if param.name in SECRET_PARAMS else repr(value)
        raise InvalidArgumentError(param.name, f"got {shown}; expected {exc}") from None
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
    try:
        endpoint.check_rules(
            params
        )  # rules between parameters, e.g. the day window of docs/protocol.md#viewing-records
    except RuleError as exc:
        raise InvalidArgumentError(exc.param, str(exc)) from None
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


class _OutOfRange(Exception):
    """A number in a reply that no BaijiaYun field can hold."""


def _int64(text: str) -> int:
    value = int(text) if len(text) <= 20 else None
    if value is None or not -(2**63) <= value < 2**64:
        raise _OutOfRange(f"a number in the body is out of range: {text[:30]}")
    return value


def _no_constant(text: str) -> float:
    raise _OutOfRange(f"the body holds {text}, which JSON does not allow")


def decode_envelope(
    endpoint: Endpoint, status_code: int, headers: Mapping[str, str], content: bytes
) -> Any:
    """Return ``data`` of a ``code == 0`` envelope; raise the matching error otherwise."""
    name = endpoint.path
    retry_after = parse_retry_after(headers.get("retry-after"))
    text = content[:400].decode("utf-8", "replace")
    if status_code == 429:
        raise RateLimitError(name, 429, text[:200] or "HTTP 429", retry_after=retry_after)
    if not 200 <= status_code < 300:
        raise APIStatusError(name, status_code, text, retry_after=retry_after)
    try:
        body = json.loads(content, parse_int=_int64, parse_constant=_no_constant)
    except _OutOfRange as exc:
        raise ResponseDecodeError(name, str(exc), text[:200]) from None
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
        raise ResponseDecodeError(name, "body is not JSON", text[:200]) from None
    code_value = body.get("code") if isinstance(body, dict) else None
    if not isinstance(code_value, int) or isinstance(code_value, bool):
        raise ResponseDecodeError(name, "no integer 'code' in the body", text[:200])
    code: int = body["code"]
    if code != 0:
        error = error_for_code(name, code, str(body.get("msg") or ""))
        error.retry_after = retry_after
        raise error
    return body.get("data")


Answer = tuple[int, Mapping[str, str], bytes]
"""HTTP status, headers and raw body of one answer."""

MAX_BODY_BYTES = 32 * 1024 * 1024
"""A reply body larger than this is refused (ResponseDecodeError) instead of filling memory."""

WaitReason = Literal["backoff", "retry_after", "rate_limit", "governor"]
"""Why a client waits: ``backoff`` after a failure, ``retry_after`` because the server asked,
``rate_limit`` because the service answered "too many requests" (the account limit), and
``governor`` for the client's own rate governor."""


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait before re-sending; which failures are re-sent depends on the endpoint.

    :param initial_delay: first backoff ceiling in seconds (exponential, full jitter)
    :param max_delay: largest backoff ceiling in seconds
    :param rate_limit_wait: wait after a rate-limit answer without ``Retry-After`` — one full
        period of the account limit (the service sends no Retry-After, docs/protocol.md#decisions)
    :param max_retry_after: the longest ``Retry-After`` honoured; the call's timeout caps it too
    """

    initial_delay: float = 0.5
    max_delay: float = 8.0
    rate_limit_wait: float = 10.0
    max_retry_after: float = 60.0

    def wait(
        self, endpoint: Endpoint, error: BaiJiaYunError, attempt: int
    ) -> tuple[float, WaitReason] | None:
        """Seconds to wait before attempt ``attempt + 1`` and why, or ``None`` if ``error`` is final."""
        if not self.may_retry(endpoint, error):
            return None
        limited = isinstance(error, RateLimitError)
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self.max_retry_after), (
                "rate_limit" if limited else "retry_after"
            )
        if limited:
            return self.rate_limit_wait, "rate_limit"
        ceiling = min(self.max_delay, self.initial_delay * (2**attempt))
        return random.uniform(ceiling / 2, ceiling), "backoff"

    def delay(self, endpoint: Endpoint, error: BaiJiaYunError, attempt: int) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` if ``error`` is final."""
        decided = self.wait(endpoint, error, attempt)
        return None if decided is None else decided[0]

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


def _explain(error: BaseException, why: str) -> None:
    error.args = (f"{error.args[0]}; {why}" if error.args else why,)


class Attempts:
    """One call's bookkeeping: attempts made, its deadline, and whether and how long to wait.

    The deadline (``timeout`` seconds from the start) bounds connecting, sending, reading, retries,
    backoff and Retry-After waits; time queued in the rate governor is added back (:meth:`exclude`).
    """

    def __init__(
        self,
        endpoint: Endpoint,
        retries: int,
        policy: RetryPolicy,
        timeout: float,
        clock: Callable[[], float],
    ) -> None:
        self.endpoint = endpoint
        self.retries = retries
        self.policy = policy
        self.timeout = timeout
        self.clock = clock
        self.deadline = clock() + timeout
        self.attempt = 0
        self.key_refreshed = False

    def remaining(self) -> float:
        """Seconds left before the deadline (may be negative)."""
        return self.deadline - self.clock()

    def exclude(self, seconds: float) -> None:
        """Push the deadline back by time that does not count (queueing in the rate governor)."""
        self.deadline += max(0.0, seconds)

    def expired(self, *, request_sent: bool) -> APITimeoutError:
        """The error for a call that ran out of time."""
        return APITimeoutError(
            self.endpoint.path,
            f"no answer within the call's timeout of {self.timeout:g} s",
            request_sent=request_sent,
        )

    def check(self, *, request_sent: bool) -> float:
        """Return the seconds left; raise :class:`APITimeoutError` when none are."""
        left = self.remaining()
        if left <= 0:
            raise self.expired(request_sent=request_sent)
        return left

    def next_wait(self, error: BaiJiaYunError) -> tuple[float, WaitReason] | None:
        """Decide after a failed attempt: ``(seconds, why)`` to wait and re-send, or ``None``.

        When the error is final only because re-sending is unsafe or would pass the deadline,
        its message says so.
        """
        endpoint = self.endpoint
        if isinstance(error, APIConnectionError) and error.request_sent and not endpoint.retry_safe:
            error.outcome_unknown = True  # never re-sent: it stays unknown whether it arrived
        if not self.policy.may_retry(endpoint, error):
            if not endpoint.retry_safe and self.policy.may_retry(_as_safe(endpoint), error):
                _explain(
                    error, f"not re-sent: {endpoint.method} is not safe to repeat automatically"
                )
            return None
        if self.attempt >= self.retries:
            return None
        decided = self.policy.wait(endpoint, error, self.attempt)
        if decided is None:
            return None
        seconds, reason = decided
        left = self.remaining()
        if seconds >= left:
            _explain(
                error,
                f"not re-sent: waiting {seconds:.1f} s ({reason}) would pass the call's "
                f"timeout ({max(left, 0.0):.1f} s left)",
            )
            return None
        self.attempt += 1
        return seconds, reason


def _as_safe(endpoint: Endpoint) -> Endpoint:
    return dataclasses.replace(endpoint, retry_safe=True)


def is_signature_error(error: BaseException) -> bool:
    """Tell whether a call failed because the partner_key was wrong (so a fresh key may help)."""
    return isinstance(error, APIError) and error.code == 1002
