"""BaiJiaYunClient and AsyncBaiJiaYunClient: configuration, partner keys and the retrying send loop."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

import httpx

from .. import _core, _transport
from .._endpoints import CREATE_KEY, Endpoint
from .._ratelimit import Governor, RateGovernor
from ..errors import BaiJiaYunError, DryRunRequest, InvalidArgumentError, ResponseDecodeError

if TYPE_CHECKING:
    from typing_extensions import Self

    from .api.playback import AsyncPlayBack, PlayBack

__all__ = ["AsyncBaiJiaYunClient", "BaiJiaYunClient"]

logger = logging.getLogger("baijiayun")

DEFAULT_TIMEOUT: Final = httpx.Timeout(10.0, connect=5.0)
DEFAULT_RATE_LIMIT: Final = (200, 10.0)
"""BaijiaYun allows 200 calls per 10 s per account."""
_UNSET: Final[Any] = object()
_MASKED: Final = ("sign", "partner_key", "secret_key")


def _env_int(name: str) -> int | None:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise InvalidArgumentError(name, f"must be a positive integer, got {raw!r}")
    return int(raw)


def resolve_base_url(private_domain: str | None, base_url: str | None) -> str:
    """Pick the API host: an explicit base_url, else ``https://{private_domain}.at.baijiayun.com``."""
    if base_url:
        if not base_url.startswith(("http://", "https://")):
            raise InvalidArgumentError(
                "base_url", f"must start with http:// or https://, got {base_url!r}"
            )
        return base_url.rstrip("/")
    if private_domain:
        if not private_domain.replace("-", "").isalnum():
            raise InvalidArgumentError(
                "private_domain", f"must be letters and digits, got {private_domain!r}"
            )
        return f"https://{private_domain}.at.baijiayun.com"
    raise InvalidArgumentError(
        "private_domain",
        "set private_domain (or BAIJIAYUN_PRIVATE_DOMAIN), or base_url (or BAIJIAYUN_BASE_URL)",
    )


class _BaseClient:
    """Everything deterministic shared by the sync and the async client."""

    def __init__(
        self,
        partner_id: int | None = None,
        partner_key: str | None = None,
        *,
        secret_key: str | None = None,
        private_domain: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        rate_limit: Governor | tuple[int, float] | None = _UNSET,
        retry_policy: _core.RetryPolicy | None = None,
        dry_run: bool = False,
    ) -> None:
        if partner_id is None:
            partner_id = _env_int("BAIJIAYUN_PARTNER_ID")
        if partner_id is None or isinstance(partner_id, bool) or not isinstance(partner_id, int):
            raise InvalidArgumentError(
                "partner_id", "required: pass partner_id=<int> or set BAIJIAYUN_PARTNER_ID"
            )
        partner_key = partner_key or os.environ.get("BAIJIAYUN_PARTNER_KEY") or None
        secret_key = secret_key or os.environ.get("BAIJIAYUN_SECRET_KEY") or None
        if partner_key is None and secret_key is None:
            raise InvalidArgumentError(
                "partner_key",
                "required: pass partner_key (or secret_key) or set BAIJIAYUN_PARTNER_KEY",
            )
        if max_retries < 0:
            raise InvalidArgumentError("max_retries", f"must be >= 0, got {max_retries}")
        self.partner_id = partner_id
        self.private_domain = private_domain or os.environ.get("BAIJIAYUN_PRIVATE_DOMAIN") or None
        self.base_url = resolve_base_url(
            self.private_domain, base_url or os.environ.get("BAIJIAYUN_BASE_URL")
        )
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry_policy = retry_policy or _core.RetryPolicy()
        if rate_limit is _UNSET:
            rate_limit = DEFAULT_RATE_LIMIT
        if isinstance(rate_limit, tuple):
            rate_limit = RateGovernor(*rate_limit)
        self.rate_governor: Governor | None = rate_limit
        self.dry_run = dry_run
        self._partner_key = partner_key
        self._secret_key = secret_key

    def __repr__(self) -> str:
        return f"{type(self).__name__}(partner_id={self.partner_id}, base_url={self.base_url!r})"

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

    def _new_request(self, url: str, form: Mapping[str, str]) -> httpx.Request:
        raise NotImplementedError

    def build_request(self, endpoint: Endpoint, arguments: Mapping[str, object]) -> httpx.Request:
        """Validate ``arguments`` and build the signed request of one call, without sending it.

        Raises :class:`~baijiayun.InvalidArgumentError` (``.argument`` names the parameter as the
        SDK method spells it). Adds ``partner_id`` and ``timestamp`` and signs with the known
        partner_key; when only a ``secret_key`` was given and no key was fetched yet, the sign
        is the placeholder ``"***"``. No I/O.
        """
        params = _core.build_params(endpoint, arguments)
        return self._new_request(
            self.url_for(endpoint), self._form(endpoint, params, self._partner_key)
        )

    def _dry_run(self, endpoint: Endpoint, params: Mapping[str, str]) -> DryRunRequest:
        form = self._form(endpoint, params, self._partner_key)
        request = self._new_request(self.url_for(endpoint), form)
        shown = {k: "***" if k in _MASKED else v for k, v in form.items()}
        return DryRunRequest(request, shown)

    def _key_request(self, regenerate: bool) -> dict[str, str]:
        if self._secret_key is None:
            raise InvalidArgumentError("secret_key", "needed to fetch a partner_key from createkey")
        return _core.build_params(
            CREATE_KEY, {"secret_key": self._secret_key, "regenerate": int(regenerate)}
        )

    @staticmethod
    def _key_from(data: Any) -> str:
        if not isinstance(data, dict) or not isinstance(data.get("partner_key"), str):
            raise ResponseDecodeError(CREATE_KEY.path, "data.partner_key missing")
        key: str = data["partner_key"]
        return key

    def _next_delay(
        self, endpoint: Endpoint, error: BaiJiaYunError, attempt: int, retries: int
    ) -> float | None:
        if attempt >= retries:
            return None
        return self.retry_policy.delay(endpoint, error, attempt)

    @staticmethod
    def _log(endpoint: Endpoint, attempt: int, code: object, started: float) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            elapsed = (time.perf_counter() - started) * 1000
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


class BaiJiaYunClient(_BaseClient):
    """Synchronous BaijiaYun OpenAPI client. ``client.playback`` is the seed's ``PlayBack``.

    Credentials fall back to ``BAIJIAYUN_PARTNER_ID``, ``BAIJIAYUN_PARTNER_KEY``,
    ``BAIJIAYUN_PRIVATE_DOMAIN`` and ``BAIJIAYUN_BASE_URL``. Use it as a context manager or call
    :meth:`close`. With ``dry_run=True`` every call validates and builds its request, sends
    nothing and raises :class:`~baijiayun.DryRunRequest`. ``rate_limit`` is a
    :class:`RateGovernor` (share one between clients of the same account), a
    :class:`RedisRateGovernor` (share the budget across processes), a ``(calls, seconds)`` pair,
    or ``None`` to turn the governor off.
    """

    def __init__(
        self,
        partner_id: int | None = None,
        partner_key: str | None = None,
        *,
        secret_key: str | None = None,
        private_domain: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        rate_limit: Governor | tuple[int, float] | None = _UNSET,
        retry_policy: _core.RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
        dry_run: bool = False,
    ) -> None:
        super().__init__(
            partner_id,
            partner_key,
            secret_key=secret_key,
            private_domain=private_domain,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            rate_limit=rate_limit,
            retry_policy=retry_policy,
            dry_run=dry_run,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout)
        self._key_lock = threading.Lock()

    def _new_request(self, url: str, form: Mapping[str, str]) -> httpx.Request:
        return self._http.build_request("POST", url, data=form)

    @property
    def playback(self) -> PlayBack:
        """The playback API (回放) bound to this client."""
        from .api.playback import PlayBack

        return PlayBack(self)

    def close(self) -> None:
        """Close the HTTP client if this client created it."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def request(
        self, endpoint: Endpoint, arguments: Mapping[str, object], *, max_retries: int | None = None
    ) -> Any:
        """Validate, sign and send one call; return the envelope's ``data``."""
        return self._send(endpoint, _core.build_params(endpoint, arguments), max_retries)

    def fetch_partner_key(self, *, regenerate: bool = False) -> str:
        """Get (or, with ``regenerate``, rotate) the partner_key from ``secret_key`` and cache it."""
        key = self._key_from(self._send(CREATE_KEY, self._key_request(regenerate), 0))
        self._partner_key = key
        return key

    def _current_key(self, endpoint: Endpoint) -> str | None:
        if not endpoint.signed or self._partner_key is not None:
            return self._partner_key
        with self._key_lock:
            if self._partner_key is None:
                self.fetch_partner_key()
            return self._partner_key

    def _send(self, endpoint: Endpoint, params: Mapping[str, str], max_retries: int | None) -> Any:
        if self.dry_run:
            raise self._dry_run(endpoint, params)
        retries = self.max_retries if max_retries is None else max_retries
        attempt = 0
        refreshed = False
        while True:
            key = self._current_key(endpoint)
            if self.rate_governor is not None:
                self.rate_governor.acquire()
            started = time.perf_counter()
            try:
                answer = _transport.post_sync(
                    self._http,
                    self.url_for(endpoint),
                    endpoint.path,
                    self._form(endpoint, params, key),
                )
                data = _core.decode_envelope(endpoint, *answer)
            except BaiJiaYunError as error:
                self._log(endpoint, attempt, self._code_of(error), started)
                if (
                    endpoint.signed
                    and self._secret_key
                    and not refreshed
                    and _core.is_signature_error(error)
                ):
                    refreshed = True
                    with self._key_lock:
                        if self._partner_key == key:
                            self._partner_key = None
                    continue
                delay = self._next_delay(endpoint, error, attempt, retries)
                if delay is None:
                    raise
                attempt += 1
                time.sleep(delay)
                continue
            self._log(endpoint, attempt, 0, started)
            return data


class AsyncBaiJiaYunClient(_BaseClient):
    """Asynchronous twin of :class:`BaiJiaYunClient`; ``client.playback`` is ``AsyncPlayBack``."""

    def __init__(
        self,
        partner_id: int | None = None,
        partner_key: str | None = None,
        *,
        secret_key: str | None = None,
        private_domain: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        rate_limit: Governor | tuple[int, float] | None = _UNSET,
        retry_policy: _core.RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        dry_run: bool = False,
    ) -> None:
        super().__init__(
            partner_id,
            partner_key,
            secret_key=secret_key,
            private_domain=private_domain,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            rate_limit=rate_limit,
            retry_policy=retry_policy,
            dry_run=dry_run,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self._key_lock = asyncio.Lock()

    def _new_request(self, url: str, form: Mapping[str, str]) -> httpx.Request:
        return self._http.build_request("POST", url, data=form)

    @property
    def playback(self) -> AsyncPlayBack:
        """The async playback API (回放) bound to this client."""
        from .api.playback import AsyncPlayBack

        return AsyncPlayBack(self)

    async def close(self) -> None:
        """Close the HTTP client if this client created it."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def request(
        self, endpoint: Endpoint, arguments: Mapping[str, object], *, max_retries: int | None = None
    ) -> Any:
        """Validate, sign and send one call; return the envelope's ``data``."""
        return await self._send(endpoint, _core.build_params(endpoint, arguments), max_retries)

    async def fetch_partner_key(self, *, regenerate: bool = False) -> str:
        """Get (or, with ``regenerate``, rotate) the partner_key from ``secret_key`` and cache it."""
        key = self._key_from(await self._send(CREATE_KEY, self._key_request(regenerate), 0))
        self._partner_key = key
        return key

    async def _current_key(self, endpoint: Endpoint) -> str | None:
        if not endpoint.signed or self._partner_key is not None:
            return self._partner_key
        async with self._key_lock:
            if self._partner_key is None:
                await self.fetch_partner_key()
            return self._partner_key

    async def _send(
        self, endpoint: Endpoint, params: Mapping[str, str], max_retries: int | None
    ) -> Any:
        if self.dry_run:
            raise self._dry_run(endpoint, params)
        retries = self.max_retries if max_retries is None else max_retries
        attempt = 0
        refreshed = False
        while True:
            key = await self._current_key(endpoint)
            if self.rate_governor is not None:
                await self.rate_governor.acquire_async()
            started = time.perf_counter()
            try:
                answer = await _transport.post_async(
                    self._http,
                    self.url_for(endpoint),
                    endpoint.path,
                    self._form(endpoint, params, key),
                )
                data = _core.decode_envelope(endpoint, *answer)
            except BaiJiaYunError as error:
                self._log(endpoint, attempt, self._code_of(error), started)
                if (
                    endpoint.signed
                    and self._secret_key
                    and not refreshed
                    and _core.is_signature_error(error)
                ):
                    refreshed = True
                    if self._partner_key == key:
                        self._partner_key = None
                    continue
                delay = self._next_delay(endpoint, error, attempt, retries)
                if delay is None:
                    raise
                attempt += 1
                await asyncio.sleep(delay)
                continue
            self._log(endpoint, attempt, 0, started)
            return data
