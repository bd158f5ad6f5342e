"""视频数据 (video data) API: ``VideoData`` (generated) and ``AsyncVideoData`` (its source)."""

from ._async_video_data import AsyncVideoData
from ._sync_video_data import VideoData

__all__ = ["AsyncVideoData", "VideoData"]
