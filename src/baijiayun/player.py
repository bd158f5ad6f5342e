"""Build the web playback page URL (docs/protocol.md#player-tokens-and-urls) that plays a playback with a player token."""

from __future__ import annotations

from urllib.parse import urlencode

__all__ = ["player_url"]


def player_url(
    base_url: str,
    room_id: int,
    token: str,
    session_id: int | None = None,
    *,
    user_number: int | None = None,
    user_name: str | None = None,
) -> str:
    """Return ``{base_url}/web/playback/index?classid=…&token=…`` (+ session and viewer fields).

    ``base_url`` is the account host, e.g. ``https://e12345678.at.baijiayun.com``. The room id
    travels as ``classid``; ``session_id`` is needed for one session of a long-term room.
    """
    query: dict[str, str | int] = {"classid": room_id}
    if session_id:
        query["session_id"] = session_id
    query["token"] = token
    if user_number is not None:
        query["user_number"] = user_number
    if user_name is not None:
        query["user_name"] = user_name
    return f"{base_url.rstrip('/')}/web/playback/index?{urlencode(query)}"
