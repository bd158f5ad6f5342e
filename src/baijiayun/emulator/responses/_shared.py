"""What every response function shares: its context, parameter validation and wire formats."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ... import _endpoints as ep
from ..backends import PartnerBackend, PlaybackBackend, ViewsBackend
from ..backends.playback import BEIJING
from ..exceptions import EmulatorError, InvalidParameter
from ..rows import Account, Playback

__all__ = [
    "ACTIONS",
    "READS_WITH_ACCOUNT",
    "Action",
    "Context",
    "ReadWithAccount",
    "action",
    "beijing_time",
    "list_item",
    "read_with_account",
]


@dataclass(frozen=True)
class Context:
    """The backends a response function calls, and the public URL its play_url starts with."""

    playback: PlaybackBackend
    partner: PartnerBackend
    public_url: str
    views: ViewsBackend


Action = Callable[[Context, int, Mapping[str, str]], Any]
Validated = Callable[[Context, int, dict[str, Any]], Any]

ACTIONS: dict[str, Action] = {}
"""Response functions by URL path, filled by :func:`action`."""


def validate(endpoint: ep.Endpoint, params: Mapping[str, str]) -> dict[str, Any]:
    """The declared parameters of ``endpoint``, parsed; InvalidParameter names the first bad one.

    Parameters the endpoint does not declare are ignored, as the service does.
    """
    arguments: dict[str, Any] = {}
    for param in endpoint.params:
        raw = params.get(param.name)
        if raw is None or (raw == "" and param.kind != "str"):
            if param.required:
                raise InvalidParameter(f"参数错误: missing parameter {param.name}", param.name)
            continue
        try:
            arguments[param.name] = param.check_wire(raw)
        except ValueError as exc:
            shown = raw if len(raw) <= 40 else raw[:40] + "…"
            raise InvalidParameter(
                f"参数错误: invalid {param.name}={shown!r}; expected {exc}", param.name
            ) from None
    if endpoint.rules:
        try:
            endpoint.check_rules({k: params[k] for k in arguments})
        except ep.RuleError as exc:
            raise InvalidParameter(f"参数错误: {exc}", exc.param) from None
    return arguments


def action(endpoint: ep.Endpoint) -> Callable[[Validated], Validated]:
    """Register a response function for ``endpoint``; it receives validated arguments."""

    def register(function: Validated) -> Validated:
        def respond(ctx: Context, partner_id: int, params: Mapping[str, str]) -> Any:
            return function(ctx, partner_id, validate(endpoint, params))

        ACTIONS[endpoint.path] = respond
        return function

    return register


ReadWithAccount = Callable[
    [Context, int, Mapping[str, str]], tuple[Account | None, Callable[[], Any]]
]
Prefetch = Callable[[Context, int, dict[str, Any]], tuple[Account | None, Callable[[], Any]]]

READS_WITH_ACCOUNT: dict[str, ReadWithAccount] = {}
"""Read-only actions that also return the caller's account from the same round trip, so the
server authenticates and answers with one database read. Each returns (account, answer): the
answer is called after the sign and rate checks and raises the action's error if any."""


def read_with_account(endpoint: ep.Endpoint) -> Callable[[Prefetch], Prefetch]:
    """Register a read-only action's one-round-trip form (see :data:`READS_WITH_ACCOUNT`)."""

    def register(function: Prefetch) -> Prefetch:
        def respond(
            ctx: Context, partner_id: int, params: Mapping[str, str]
        ) -> tuple[Account | None, Callable[[], Any]]:
            try:
                arguments = validate(endpoint, params)
            except EmulatorError as error:
                invalid = error

                def refuse() -> Any:
                    raise invalid

                return ctx.partner.account(partner_id), refuse
            return function(ctx, partner_id, arguments)

        READS_WITH_ACCOUNT[endpoint.path] = respond
        return function

    return register


def beijing_time(seconds: int) -> str:
    """Unix seconds as ``YYYY-MM-DD HH:MM:SS`` in China time, as BaijiaYun lists write it."""
    return dt.datetime.fromtimestamp(seconds, BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def play_url(public_url: str, row: Playback) -> str:
    """The web player's address of a playback (a token is appended by the caller)."""
    url = f"{public_url}/web/playback/index?classid={row.room_id}"
    if row.session_id:
        url += f"&session_id={row.session_id}"
    return url


def list_item(ctx: Context, row: Playback) -> dict[str, Any]:
    """One playback as getList and getCropList write it."""
    return {
        "playback_id": row.id,
        "room_id": row.room_id,
        "session_id": row.session_id,
        "version": row.version,
        "video_id": row.video_id,
        "name": row.name,
        "status": row.status,
        "create_time": beijing_time(row.create_time),
        "length": row.length,
        "total_size": row.total_size,
        "total_transcode_size": row.total_transcode_size,
        "play_times": row.play_times,
        "play_url": play_url(ctx.public_url, row),
        "preface_url": row.preface_url,
        "publish_status": row.publish_status,
    }
