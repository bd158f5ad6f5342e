"""The OpenAPI dispatch: authenticate a call, apply faults and the rate limit, answer its action."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from starlette.types import Receive, Scope, Send

from .. import _endpoints as ep
from .. import _signing
from .exceptions import (
    AccountNotFound,
    EmulatorError,
    InvalidParameter,
    RateLimited,
    SignatureError,
)
from .facade import Emulator
from .faults import Fault
from .responses import ACTIONS, READS_WITH_ACCOUNT, Context, parameter
from .rows import Caller
from .wire import ClientGone, Reply, envelope_bytes, public_url_of, read_params, send_reply

__all__ = ["OpenAPI"]

logger = logging.getLogger("baijiayun.emulator")

RATE_LIMIT_MSG = "请求过于频繁"
INTERNAL_ERROR = 1  # docs/protocol.md#decisions: HTTP 500 with the envelope, code 1
INTERNAL_MSG = "服务器内部错误: internal error (logged)"
_PARTNER_ID = ep.Param("partner_id", "int", "partner id", required=True, minimum=1)
_TIMESTAMP = ep.Param("timestamp", "int", "unix seconds", required=True, minimum=0)
_MALFORMED = b'{"code": 0, "data": {'
_DROPPED = b'{"code":0'
_UNKNOWN = Caller(None, True)


def _fault_reply(fault: Fault, now: int) -> bytes | Reply:
    if fault.kind == "error":
        return envelope_bytes(
            int(fault.value), f"injected fault: code {int(fault.value)}", None, now
        )
    if fault.kind == "http":
        status = int(fault.value)
        return Reply(f"injected HTTP {status}".encode(), status, b"")
    if fault.kind == "malformed":
        return Reply(_MALFORMED)
    return Reply(_DROPPED, drop=True)


class OpenAPI:
    """Every ``/openapi/...`` call (and any other path outside the admin API and the player
    page), answered straight from ASGI the way BaijiaYun does: always the JSON envelope.

    One call: read its parameters; read the caller's account (with the answer itself for the
    reads that have a one-round-trip form, and whether any fault rule exists); fire the fault
    rules that match; check the timestamp and sign; admit it under the rate limit; answer.
    Whatever goes wrong, the answer is an envelope: an unexpected error is logged and answered
    with HTTP 500 and code 1, so the keep-alive connection survives.
    """

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self._contexts: dict[Any, Context] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            reply = await self.answer(scope, receive)
        except ClientGone:
            return
        try:
            await send_reply(send, reply)
        except ConnectionResetError:
            if not isinstance(reply, Reply) or not reply.drop:
                raise
            # the fault the test asked for, not a crash: one line, no traceback
            logger.warning(
                "emulator: injected fault: dropped the connection of %s %s mid-reply",
                scope["method"],
                scope["path"],
            )
            raise

    def _context(self, scope: Scope) -> Context:
        """The responses' context, its play_url at the address this request came in on."""
        server = scope.get("server")
        key = None if server is None else tuple(server)  # ASGI allows a list
        found = self._contexts.get(key)
        if found is None:
            url = public_url_of(scope, self.emulator.config.public_url)
            found = self._contexts[key] = self.emulator.context(url)
        return found

    async def _faults(self, path: str, now: int) -> tuple[Fault, bytes | Reply] | None:
        """Fire the fault rules that match: sleep for latency rules; the first other rule that
        fired and its reply, or None."""
        for fault in await self.emulator.db.run(self.emulator.faults.draw, path):
            if fault.kind == "latency":
                await asyncio.sleep(fault.value)
            else:
                return fault, _fault_reply(fault, now)
        return None

    async def answer(self, scope: Scope, receive: Receive) -> bytes | Reply:
        """The reply to one call: ``bytes`` for a 200 envelope, else a :class:`Reply`."""
        emulator = self.emulator
        at = emulator.clock()
        now = int(at)
        path: str = scope["path"]
        endpoint = ep.ENDPOINTS.get(path)
        if endpoint is None:
            return envelope_bytes(404, f"请求路径不存在: {path}", None, now)
        method: str = scope["method"]
        if method not in ("GET", "POST"):
            return envelope_bytes(405, f"请求方法不支持: {method}; use POST", None, now)
        stats, name = emulator.call_stats, endpoint.action
        try:
            params = await read_params(scope, receive, emulator.config.max_body)
            partner = 0  # for the statistics: the partner_id the call names, when well formed
            refused: EmulatorError | None = None
            try:
                partner = partner_id = int(parameter(_PARTNER_ID, params))
                caller, answer = await self._caller(endpoint, params, partner_id, scope, now)
            except EmulatorError as error:  # answered after the faults, which come first
                refused, partner_id, caller, answer = error, 0, _UNKNOWN, None
            if caller.faults:
                injected = await self._faults(endpoint.path, now)
                if injected is not None:
                    fault, reply = injected
                    why = f"injected fault: {fault.kind} {fault.value:g} (rule {fault.id})"
                    stats.count(partner, name, "fault", at, int(fault.value), why)
                    return reply
            try:
                if refused is not None:
                    raise refused
                self._authenticate(endpoint, params, caller, partner_id)
            except EmulatorError as error:
                stats.count(partner, name, "auth", at, error.code, error.detail or error.msg)
                raise
            if not await emulator.rate_window.admit(partner_id):
                stats.count(partner_id, name, "rate_limited", at, RateLimited.code, RATE_LIMIT_MSG)
                raise RateLimited(RATE_LIMIT_MSG)
            try:
                if answer is not None:
                    data = answer()
                else:
                    data = await emulator.db.run(
                        ACTIONS[endpoint.path], self._context(scope), partner_id, params
                    )
            except EmulatorError as error:
                stats.count(partner_id, name, "served", at, error.code, error.msg)
                raise
            except Exception:
                stats.count(partner_id, name, "served", at, INTERNAL_ERROR, INTERNAL_MSG)
                raise
            stats.count(partner_id, name, "served", at)
            return envelope_bytes(0, "", data, now)
        except EmulatorError as error:
            body = envelope_bytes(error.code, error.msg, None, now)
            return body if error.http_status == 200 else Reply(body, error.http_status)
        except ClientGone:
            raise
        except Exception:
            logger.exception("emulator: unexpected error answering %s", endpoint.path)
            return Reply(envelope_bytes(INTERNAL_ERROR, INTERNAL_MSG, None, now), 500)

    async def _caller(
        self,
        endpoint: ep.Endpoint,
        params: Mapping[str, str],
        partner_id: int,
        scope: Scope,
        now: int,
    ) -> tuple[Caller, Callable[[], Any] | None]:
        """The caller, once the timestamp is well formed and in time; for a read with a
        one-round-trip form, also its answer."""
        timestamp = int(parameter(_TIMESTAMP, params))
        window = self.emulator.config.timestamp_window
        skew = abs(now - timestamp)
        if window and skew > window:
            raise InvalidParameter(
                f"参数错误: timestamp {timestamp} is {skew} s off the server time "
                f"(limit {window} s)",
                "timestamp",
            )
        read = READS_WITH_ACCOUNT.get(endpoint.path)
        if read is None:
            return await self.emulator.partners.caller_async(partner_id), None
        return await read(self._context(scope), partner_id, params)

    def _authenticate(
        self, endpoint: ep.Endpoint, params: Mapping[str, str], caller: Caller, partner_id: int
    ) -> None:
        account = caller.account
        if account is None:
            raise AccountNotFound(f"账号不存在 partner_id={partner_id}")
        if not endpoint.signed:
            return
        if "partner_key" in params:
            raise SignatureError("签名错误: partner_key must never be sent")
        if not params.get("sign"):
            raise SignatureError("签名错误: missing sign")
        if not _signing.verify(params, account.partner_key):
            signed = _signing.mask_canonical(_signing.canonical_string(params, account.partner_key))
            msg = "签名错误"
            if self.emulator.config.debug_signatures:
                msg += f"; the server signed: {signed}"
            refused = SignatureError(msg)
            refused.detail = f"签名错误; the server signed: {signed}"  # the console's Calls
            raise refused
