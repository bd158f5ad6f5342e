"""The seed's import paths: ``baijiayun.client.api.PlayBack``, ``VideoData`` and their async twins."""

from ._async_playback import AsyncPlayBack
from ._async_video_data import AsyncVideoData
from ._shared import RoomIds
from ._sync_playback import PlayBack
from ._sync_video_data import VideoData

__all__ = ["AsyncPlayBack", "AsyncVideoData", "PlayBack", "RoomIds", "VideoData"]
