"""回放 (playback) API: ``PlayBack`` (generated) and ``AsyncPlayBack`` (its hand-written source)."""

from ._async_playback import AsyncPlayBack
from ._shared import RoomIds
from ._sync_playback import PlayBack

__all__ = ["AsyncPlayBack", "PlayBack", "RoomIds"]
