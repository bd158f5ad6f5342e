"""What the sync and async clients share and does no I/O: configuration, forms, dry runs, logs."""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import httpx

from .. import config
from .._endpoints import CREATE_KEY, Endpoint
from ..errors import BaiJiaYunError, DryRunRequest, InvalidArgumentError, ResponseDecodeError
from ..ratelimit import Governor, RateGovernor
from . import _core
from ._transport import attempt_timeout

if TYPE_CHECKING:
    from typing_extensions import Self

    from ..tokens import RedisTokenCache, TokenCache

__all__ = [
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_TIMEOUT",
    "BaseClient",
    "OnWait",
    "resolve_base_url",
]

logger = logging.getLogger("baijiayun")

DEFAULT_TIMEOUT: Final = 30.0
"""Seconds one call may take, retries and waits included (the rate governor's queue excluded)."""
DEFAULT_RATE_LIMIT: Final = (200, 10.0)
"""BaijiaYun allows 200 calls per 10 s per account."""
UNSET: Final[Any] = object()
_MASKED: Final = ("sign", "partner_key", "secret_key")

OnWait = Callable[[_core.WaitReason, float], None]
"""``on_wait(why, seconds)``: told before the client waits (see :data:`baijiayun.WaitReason`)."""


def _env_int(environment: Mapping[str, str], name: str) -> int | None:
    raw = environment.get(name)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()):
        var = config.ENVIRONMENT[name]
        raise InvalidArgumentError(var, f"must be a positive integer, got {raw!r}")
    return int(raw)


def resolve_base_url(private_domain: str | None, base_url: str | None) -> str:
    """Pick the API host: an explicit base_url, else ``https://{private_domain}.at.baijiayun.com``."""
    if base_url:
        if not base_url.startswith(("http://", "https://")):
            raise InvalidArgumentError(
                "base_url", f"must start with http:// or https://, got {base_url!r}"
            )
        # Parsed now, so a malformed URL is refused here and not by httpx at the first call.
        try:
            host = httpx.URL(base_url).host
            urlsplit(base_url).port  # noqa: B018 (raises ValueError on a port out of range)
        except (httpx.InvalidURL, ValueError, TypeError) as exc:
            raise InvalidArgumentError("base_url", f"is not a valid URL: {exc}") from None
        if not host:
            raise InvalidArgumentError("base_url", f"has no host, got {base_url!r}")
        return base_url.rstrip("/")
    if private_domain:
        if not (private_domain.isascii() and private_domain.replace("-", "").isalnum()):
            raise InvalidArgumentError(
                "private_domain", f"must be letters and digits, got {private_domain!r}"
            )
        return f"https://{private_domain}.at.baijiayun.com"
    raise InvalidArgumentError(
        "private_domain",
        "set private_domain (or BAIJIAYUN_PRIVATE_DOMAIN), or base_url (or BAIJIAYUN_BASE_URL)",
    )


def _check_timeout(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise InvalidArgumentError("timeout", f"must be a number of seconds > 0, got {timeout!r}")
    return float(timeout)


def slot_hold(left: float) -> float:
    """How long a governor slot may stay unresolved for an attempt with ``left`` seconds.

    Waiting for a pooled connection, connecting and sending may each take up to ``left``
    (httpx applies the timeout per phase), so the request reaches the service by grant +
    3 x left at the latest; one more second covers the clocks' granularity.
    """
    return 3 * max(left, 0.0) + 1.0


class _Keys:
    """The credentials; shared by a client and its :meth:`BaseClient.with_options` copies."""

    __slots__ = ("partner_key", "secret_key")

    def __init__(self, partner_key: str | None, secret_key: str | None) -> None:
        self.partner_key = partner_key
        self.secret_key = secret_key


class BaseClient:
    """Configuration and request building shared by ``BaiJiaYunClient`` and its async twin."""

    _http: httpx.Client | httpx.AsyncClient

    def __init__(
        self,
        partner_id: int | None,
        partner_key: str | None,
        *,
        secret_key: str | None,
        private_domain: str | None,
        base_url: str | None,
        timeout: float,
        max_retries: int,
        rate_limit: Governor | tuple[int, float] | None,
        retry_policy: _core.RetryPolicy | None,
        dry_run: bool,
        on_wait: OnWait | None,
        clock: Callable[[], float] | None,
        token_cache: TokenCache | RedisTokenCache | None = None,
        trust_env: bool = True,
    ) -> None:
        env = config.from_environment(names=config.CLIENT_SETTINGS) if trust_env else {}
        if partner_id is None:
            partner_id = _env_int(env, "partner_id")
        if partner_id is None or isinstance(partner_id, bool) or not isinstance(partner_id, int):
            raise InvalidArgumentError(
                "partner_id", "required: pass partner_id=<int> or set BAIJIAYUN_PARTNER_ID"
            )
        partner_key = partner_key or env.get("partner_key")
        secret_key = secret_key or env.get("secret_key")
        if partner_key is None and secret_key is None:
            raise InvalidArgumentError(
                "partner_key",
                "required: pass partner_key (or secret_key) or set BAIJIAYUN_PARTNER_KEY",
            )
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise InvalidArgumentError("max_retries", f"must be an integer >= 0, got {max_retries}")
        self.partner_id = partner_id
        self.private_domain = private_domain or env.get("private_domain")
        self.base_url = resolve_base_url(self.private_domain, base_url or env.get("base_url"))
        self.timeout = _check_timeout(timeout)
        self.max_retries = max_retries
        self.retry_policy = retry_policy or _core.RetryPolicy()
        if rate_limit is UNSET:
            rate_limit = DEFAULT_RATE_LIMIT
        if isinstance(rate_limit, tuple):
            rate_limit = RateGovernor(*rate_limit)
        self.rate_governor: Governor | None = rate_limit
        self.dry_run = dry_run
        self.on_wait = on_wait
        self.token_cache = token_cache
        self._clock = clock or time.monotonic
        self._keys = _Keys(partner_key, secret_key)
        self._owns_http = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(partner_id={self.partner_id}, base_url={self.base_url!r})"

    def with_options(
        self,
        *,
        timeout: float = UNSET,
        max_retries: int = UNSET,
        dry_run: bool = UNSET,
        on_wait: OnWait | None = UNSET,
    ) -> Self:
        """A copy of this client with other per-call settings, sharing its connections,
        credentials and rate governor: ``client.with_options(timeout=5).playback.delete(1)``.

        Closing the copy closes nothing; close the original.
        """
        clone = copy.copy(self)
        clone.__dict__.pop("playback", None)
        clone._owns_http = False
        if timeout is not UNSET:
            clone.timeout = _check_timeout(timeout)
        if max_retries is not UNSET:
            if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
                raise InvalidArgumentError(
                    "max_retries", f"must be an integer >= 0, got {max_retries}"
                )
            clone.max_retries = max_retries
        if dry_run is not UNSET:
            clone.dry_run = dry_run
        if on_wait is not UNSET:
            clone.on_wait = on_wait
        return clone

    def url_for(self, endpoint: Endpoint) -> str:
        """The full URL of an endpoint on this client's host."""
        return self.base_url + endpoint.path

    def _form(
        self, endpoint: Endpoint, params: Mapping[str, str], key: str | None
    ) -> dict[str, str]:
        if endpoint.signed and key is not None:
            return _core.signed_form(params, self.partner_id, key)
        form = dict(params)
        form.update(partner_id=str(self.partner_id), timestamp=str(int(time.time())))
        if endpoint.signed:
            form["sign"] = "***"  # the partner_key is not known yet (only a secret_key)
        return form

    def _new_request(
        self, endpoint: Endpoint, params: Mapping[str, str], key: str | None, timeout: float
    ) -> httpx.Request:
        return self._http.build_request(
            "POST",
            self.url_for(endpoint),
            data=self._form(endpoint, params, key),
            timeout=attempt_timeout(timeout),
        )

    def build_request(self, endpoint: Endpoint, arguments: Mapping[str, object]) -> httpx.Request:
        """Validate ``arguments`` and build the signed request of one call, without sending it.

        Raises :class:`~baijiayun.InvalidArgumentError` (``.argument`` names the parameter as the
        SDK method spells it). Adds ``partner_id`` and ``timestamp`` and signs with the known
        partner_key; when only a ``secret_key`` was given and no key was fetched yet, the sign
        is the placeholder ``"***"``. No I/O.
        """
        params = _core.build_params(endpoint, arguments)
        return self._new_request(endpoint, params, self._keys.partner_key, self.timeout)

    def _dry_run(self, endpoint: Endpoint, params: Mapping[str, str]) -> DryRunRequest:
        request = self._new_request(endpoint, params, self._keys.partner_key, self.timeout)
        form = dict(httpx.QueryParams(request.content.decode()))
        shown = {k: "***" if k in _MASKED else v for k, v in form.items()}
        return DryRunRequest(request, shown)

    def _key_request(self, regenerate: bool) -> dict[str, str]:
        if self._keys.secret_key is None:
            raise InvalidArgumentError("secret_key", "needed to fetch a partner_key from createkey")
        return _core.build_params(
            CREATE_KEY, {"secret_key": self._keys.secret_key, "regenerate": int(regenerate)}
        )

    def _store_key(self, data: Any) -> str:
        if not isinstance(data, dict) or not isinstance(data.get("partner_key"), str):
            raise ResponseDecodeError(CREATE_KEY.path, "data.partner_key missing")
        key: str = data["partner_key"]
        self._keys.partner_key = key
        return key

    def _may_refresh_key(
        self, attempts: _core.Attempts, error: BaiJiaYunError, key: str | None
    ) -> bool:
        """After a signature error, forget a key that may have been rotated (once per call)."""
        if not (
            attempts.endpoint.signed
            and self._keys.secret_key
            and not attempts.key_refreshed
            and _core.is_signature_error(error)
        ):
            return False
        attempts.key_refreshed = True
        if self._keys.partner_key == key:
            self._keys.partner_key = None
        return True

    def _announce(self, reason: _core.WaitReason, seconds: float, endpoint: Endpoint) -> None:
        logger.debug("%s waiting %.2f s (%s)", endpoint.path, seconds, reason)
        if self.on_wait is not None:
            self.on_wait(reason, seconds)

    def _log(self, endpoint: Endpoint, attempt: int, code: object, started: float) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            elapsed = (self._clock() - started) * 1000
            logger.debug(
                "%s attempt=%d code=%s elapsed_ms=%.1f", endpoint.path, attempt + 1, code, elapsed
            )

    @staticmethod
    def _code_of(error: BaiJiaYunError) -> object:
        return (
            getattr(error, "code", None)
            or getattr(error, "status_code", None)
            or type(error).__name__
        )
