"""AsyncBaiJiaYunClient: the retrying, deadline-bounded send loop (the sync client is generated)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from .._endpoints import CREATE_KEY, Endpoint
from ..errors import APIConnectionError, BaiJiaYunError, ResponseDecodeError
from ..ratelimit import Governor, Slot
from . import _core, _transport
from ._base import DEFAULT_TIMEOUT, UNSET, BaseClient, OnWait, slot_hold

if TYPE_CHECKING:
    from typing_extensions import Self

    from ..tokens import RedisTokenCache, TokenCache
    from .api._async_playback import AsyncPlayBack
    from .api._async_video_data import AsyncVideoData

__all__ = ["AsyncBaiJiaYunClient"]


class AsyncBaiJiaYunClient(BaseClient):
    """Asynchronous client of the BaijiaYun OpenAPI; ``client.playback`` is ``AsyncPlayBack``.

    Credentials fall back to ``BAIJIAYUN_PARTNER_ID``, ``BAIJIAYUN_PARTNER_KEY`` (or
    ``BAIJIAYUN_SECRET_KEY``), ``BAIJIAYUN_PRIVATE_DOMAIN`` and ``BAIJIAYUN_BASE_URL`` unless
    ``trust_env`` is false (see ``baijiayun.config``). Use it as a context manager or call
    :meth:`close`.

    :param partner_id: 账号ID (the account's partner_id)
    :param partner_key: 签名密钥 (the key that signs every call); or give ``secret_key``
    :param secret_key: 账号密钥 (fetches the partner_key through createkey on first use)
    :param private_domain: 专属域名 (``e12345678`` → ``https://e12345678.at.baijiayun.com``)
    :param base_url: the API host instead of ``private_domain`` (e.g. a local emulator)
    :param timeout: seconds one call may take in all — connecting, sending, reading, retries,
        backoff and Retry-After waits — after which it raises :class:`~baijiayun.APITimeoutError`.
        Time queued in the rate governor does not count. Per call: :meth:`with_options`.
    :param max_retries: how many times a failed call may be re-sent (only when that is safe)
    :param rate_limit: a :class:`~baijiayun.Governor` (share one between clients of an account;
        :class:`~baijiayun.FileRateGovernor` shares it between the processes of this machine,
        :class:`~baijiayun.RedisRateGovernor` between machines), a ``(calls, seconds)`` pair, or
        ``None`` for none. Default: 200 calls per 10 s, for this client alone.
    :param retry_policy: backoff and rate-limit waits (:class:`~baijiayun.RetryPolicy`)
    :param http_client: an httpx client to send with (the timeouts of each call are set per
        request); it is left open on :meth:`close` unless ``owns_http_client`` is true. The
        client's own connections end every phase at the deadline; a sync ``httpx.Client`` of
        yours bounds each socket read, not a response head trickled byte by byte
    :param owns_http_client: hand ``http_client`` over: :meth:`close` closes it
    :param dry_run: build and validate every call but send nothing: each call raises
        :class:`~baijiayun.DryRunRequest` carrying the request
    :param token_cache: a :class:`~baijiayun.TokenCache` or :class:`~baijiayun.RedisTokenCache`
        where ``playback.cached_player_url`` and ``playback.prefetch_tokens`` keep player tokens
    :param on_wait: ``on_wait(why, seconds)`` is called before the client waits to re-send
        (``why`` is a :data:`~baijiayun.WaitReason`); each wait is also logged at DEBUG
    :param trust_env: take the settings not given from the ``BAIJIAYUN_*`` variables (like
        httpx's ``trust_env``); false: only the arguments count
    :param clock: monotonic clock in seconds (tests inject a fake one)
    :param sleep: how to wait that many seconds (tests inject a fake one)
    """

    def __init__(
        self,
        partner_id: int | None = None,
        partner_key: str | None = None,
        *,
        secret_key: str | None = None,
        private_domain: str | None = None,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        rate_limit: Governor | tuple[int, float] | None = UNSET,
        retry_policy: _core.RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        owns_http_client: bool = False,
        dry_run: bool = False,
        on_wait: OnWait | None = None,
        token_cache: TokenCache | RedisTokenCache | None = None,
        trust_env: bool = True,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
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
            on_wait=on_wait,
            clock=clock,
            token_cache=token_cache,
            trust_env=trust_env,
        )
        self._owns_http = http_client is None or owns_http_client
        self._http: httpx.AsyncClient = http_client or _transport.new_async_client()
        self._sleep = sleep or asyncio.sleep
        self._key_lock = asyncio.Lock()

    @cached_property
    def playback(self) -> AsyncPlayBack:
        """The playback API (回放) bound to this client, built once."""
        from .api._async_playback import AsyncPlayBack

        return AsyncPlayBack(self)

    @cached_property
    def video_data(self) -> AsyncVideoData:
        """The video-data API (视频数据: play records) bound to this client, built once."""
        from .api._async_video_data import AsyncVideoData

        return AsyncVideoData(self)

    async def close(self) -> None:
        """Close the HTTP client if this client created it or was handed it to own."""
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
        self,
        endpoint: Endpoint,
        arguments: Mapping[str, object],
        *,
        max_retries: int | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Validate, sign and send one call; return the envelope's ``data``.

        ``max_retries`` and ``timeout`` override the client's settings for this call.
        """
        params = _core.build_params(endpoint, arguments)
        return await self._send(endpoint, params, max_retries, timeout)

    async def fetch_partner_key(self, *, regenerate: bool = False) -> str:
        """Get (or, with ``regenerate``, rotate) the partner_key from ``secret_key`` and keep it."""
        return self._store_key(await self._send(CREATE_KEY, self._key_request(regenerate), 0))

    async def _current_key(self, endpoint: Endpoint) -> str | None:
        if not endpoint.signed or self._keys.partner_key is not None:
            return self._keys.partner_key
        async with self._key_lock:
            if self._keys.partner_key is None:
                await self.fetch_partner_key()
            return self._keys.partner_key

    async def _send(
        self,
        endpoint: Endpoint,
        params: Mapping[str, str],
        max_retries: int | None,
        timeout: float | None = None,
    ) -> Any:
        if self.dry_run:
            raise self._dry_run(endpoint, params)
        if self._http.is_closed:  # not worth a retry: it stays closed
            raise APIConnectionError(endpoint.path, "the client is closed")
        attempts = _core.Attempts(
            endpoint,
            self.max_retries if max_retries is None else max_retries,
            self.retry_policy,
            self.timeout if timeout is None else timeout,
            self._clock,
        )
        while True:
            key = await self._current_key(endpoint)
            slot = None
            if self.rate_governor is not None:
                queued = self._clock()
                slot = await self.rate_governor.acquire_async(
                    slot_hold(attempts.remaining()),
                    on_wait=lambda seconds: self._announce("governor", seconds, endpoint),
                )
                attempts.exclude(self._clock() - queued)
            started = self._clock()
            try:
                left = attempts.check(request_sent=attempts.attempt > 0)
                request = self._new_request(endpoint, params, key, left)
                answer = await self._attempt(request, attempts, slot)
                data = _core.decode_envelope(endpoint, *answer)
            except BaiJiaYunError as error:
                self._log(endpoint, attempts.attempt, self._code_of(error), started)
                if self._may_refresh_key(attempts, error, key):
                    continue
                decided = attempts.next_wait(error)
                if decided is None:
                    raise
                self._announce(decided[1], decided[0], endpoint)
                await self._sleep(decided[0])
                continue
            self._log(endpoint, attempts.attempt, 0, started)
            return data

    async def _attempt(
        self, request: httpx.Request, attempts: _core.Attempts, slot: Slot | None
    ) -> _core.Answer:
        """Send one request and read its body within the call's deadline and size limit.

        The deadline ends every phase: waiting for a connection, connecting, sending, the
        response head and the body, however slowly the server trickles them. The governor's
        slot is completed as soon as the response's head is in: from then on the service has
        counted the call. A timeout or a lost connection leaves the slot to lapse.
        """
        try:
            with _transport.bounded_async(attempts.remaining()):
                return await self._exchange(request, attempts, slot)
        except TimeoutError:  # the deadline passed in a phase no per-phase timeout bounds
            raise attempts.expired(request_sent=True) from None

    async def _exchange(
        self, request: httpx.Request, attempts: _core.Attempts, slot: Slot | None
    ) -> _core.Answer:
        path = attempts.endpoint.path
        try:
            response = await self._http.send(request, stream=True)
            if slot is not None and self.rate_governor is not None:
                await self.rate_governor.complete_async(slot)
            try:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > _core.MAX_BODY_BYTES:
                        raise ResponseDecodeError(path, "body larger than the 32 MiB limit")
                    _transport.shorten_reads(request, attempts.check(request_sent=True))
                return response.status_code, response.headers, bytes(body)
            finally:
                await response.aclose()
        except httpx.TransportError as exc:
            if isinstance(exc, httpx.TimeoutException) and attempts.remaining() <= 0:
                raise attempts.expired(
                    request_sent=not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
                ) from None
            raise _transport.translate(path, exc) from None
        except httpx.StreamError as exc:
            raise _transport.translate(path, httpx.ReadError(str(exc))) from None
        except httpx.DecodingError as exc:  # a body its Content-Encoding does not describe
            raise ResponseDecodeError(path, f"body cannot be decoded: {exc}") from None
