"""Responses of the partner and video_account modules: keys and the transcode callback URL."""

from __future__ import annotations

from typing import Any

from ... import _endpoints as ep
from ._shared import Context, action

__all__: list[str] = []


@action(ep.CREATE_KEY)
def create_key(ctx: Context, partner_id: int, a: dict[str, Any]) -> Any:
    """Return (or rotate) the partner_key, authenticated by the secret_key."""
    key = ctx.partner.rotate_key(partner_id, a["secret_key"], bool(a.get("regenerate")))
    return {"partner_key": key}


@action(ep.SET_TRANSCODE_CALLBACK_URL)
def set_transcode_callback_url(ctx: Context, partner_id: int, a: dict[str, Any]) -> Any:
    """Set the URL transcode callbacks go to."""
    ctx.partner.set_callback_url(partner_id, a["url"])
    return {"url": a["url"]}


@action(ep.GET_TRANSCODE_CALLBACK_URL)
def get_transcode_callback_url(ctx: Context, partner_id: int, a: dict[str, Any]) -> Any:
    """The URL transcode callbacks go to ('' when unset)."""
    return {"url": ctx.partner.require(partner_id).transcode_callback_url}
