"""Typed results of the playback API: pydantic models that keep fields they do not know."""

from __future__ import annotations

import datetime as dt
from enum import IntEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "BEIJING",
    "CropItem",
    "CropPage",
    "PlaybackInfo",
    "PlaybackItem",
    "PlaybackPage",
    "PlaybackStatus",
    "PlayerToken",
    "PptDatedFile",
    "PptDatedFileList",
    "PptFile",
    "PptFileList",
    "PublishResult",
    "PublishStatus",
    "SessionItem",
    "SessionList",
    "parse_time",
]

BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
"""BaijiaYun writes datetime strings in China time."""


class PlaybackStatus(IntEnum):
    """Playback generation state (getBasicInfo ``status``)."""

    NOT_RECORDED = 0
    RECORDING = 10
    TRANSCODING = 20
    FAILED = 30
    READY = 100


class PublishStatus(IntEnum):
    """Publish state: 1 published, 2 blocked (屏蔽)."""

    PUBLISHED = 1
    BLOCKED = 2


def _from_unix(seconds: float) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"unix time {seconds!r} is out of range") from None


def parse_time(value: object) -> object:
    """Accept unix seconds (int or digit string) or ``YYYY-MM-DD HH:MM:SS`` (China time).

    An out-of-range time raises ValueError (pydantic reports it as a validation error).
    """
    if value is None or value == "" or isinstance(value, dt.datetime):
        return value or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_unix(value)
    if isinstance(value, str):
        if value.isascii() and value.isdigit():
            return _from_unix(int(value))
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=BEIJING)
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)


class _Timed(_Model):
    create_time: dt.datetime | None = None
    """生成时间 (when the playback was generated), timezone-aware."""

    _parse_create_time = field_validator("create_time", mode="before")(parse_time)


class PlaybackInfo(_Timed):
    """查询直播回放信息的结果 (getBasicInfo): state and media of one playback."""

    status: int
    video_id: int | None = None
    name: str | None = None
    length: int | None = None
    total_size: int | None = None
    total_transcode_size: int | None = None
    total_ext_media_size: int | None = None
    preface_url: str | None = None
    publish_status: int | None = None

    @property
    def is_ready(self) -> bool:
        """True once the playback was generated successfully (status 100)."""
        return self.status == PlaybackStatus.READY

    @property
    def is_blocked(self) -> bool:
        """True when the playback is blocked (publish_status 2)."""
        return self.publish_status == PublishStatus.BLOCKED


class PlaybackItem(_Timed):
    """One playback of a list (getList)."""

    room_id: int
    session_id: int = 0
    version: int = 0
    playback_id: int | None = None
    video_id: int | None = None
    name: str = ""
    status: int = 0
    length: int | None = None
    total_size: int | None = None
    total_transcode_size: int | None = None
    play_times: int = 0
    play_url: str | None = None
    preface_url: str | None = None
    publish_status: int | None = None

    @field_validator("session_id", "version", mode="before")
    @classmethod
    def _absent_is_zero(cls, value: Any) -> Any:
        return 0 if value in (None, "") else value


class _Listing(_Model):
    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, value: Any) -> Any:
        return {"list": value} if isinstance(value, list) else value


class PlaybackPage(_Listing):
    """A page of getList: ``total`` over all pages and this page's ``items``."""

    total: int = 0
    items: list[PlaybackItem] = Field(default_factory=list, alias="list")


class CropItem(PlaybackItem):
    """One version of a playback (getCropList); ``is_main`` marks the main version."""

    is_main: bool = False


class CropPage(_Listing):
    """A page of getCropList."""

    total: int = 0
    items: list[CropItem] = Field(default_factory=list, alias="list")


class PlayerToken(_Model):
    """获取回放token的结果: the token the player needs."""

    token: str


class SessionItem(_Timed):
    """One cloud-recording session of a long-term room."""

    session_id: int
    name: str | None = None
    status: int | None = None


class SessionList(_Listing):
    """getSessionList: the sessions of a long-term room, oldest first."""

    items: list[SessionItem] = Field(default_factory=list, alias="list")


class PublishResult(_Model):
    """setPublishStatus: the publish status now in force."""

    status: int


class PptFile(_Model):
    """A PDF converted from the class slides."""

    name: str
    url: str


class PptFileList(_Listing):
    """getPlaybackPptUrl: the PDFs of one room/session."""

    items: list[PptFile] = Field(default_factory=list, alias="list")


class PptDatedFile(PptFile):
    """A PDF with the session and day it belongs to."""

    session_id: int = 0
    date: str | None = None


class PptDatedFileList(_Listing):
    """getPlaybackPptUrlList: the PDFs of a room, optionally of one day."""

    items: list[PptDatedFile] = Field(default_factory=list, alias="list")
