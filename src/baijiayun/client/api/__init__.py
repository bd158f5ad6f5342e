"""The seed's import path: ``baijiayun.client.api.PlayBack`` and its async twin."""

from ._async_playback import AsyncPlayBack
from ._shared import RoomIds
from ._sync_playback import PlayBack

__all__ = ["AsyncPlayBack", "PlayBack", "RoomIds"]
