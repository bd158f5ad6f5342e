"""Typed results of the playback API: pydantic models that keep fields they do not know."""

from __future__ import annotations

import datetime as dt
from enum import IntEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "BEIJING",
    "ClientType",
    "CropItem",
    "CropPage",
    "PlayRecord",
    "PlayRecordPage",
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


class ClientType(IntEnum):
    """观看终端 (a play record's ``client_type``): the device the play came from."""

    UNKNOWN = 0
    IPHONE = 1
    IPAD = 2
    ANDROID = 3
    MOBILE_WEB = 4
    PC_WEB = 5


def _in_beijing(value: object) -> object:
    """A wire time as an aware Beijing datetime (unix seconds and offsets converted)."""
    value = parse_time(value)
    return value.astimezone(BEIJING) if isinstance(value, dt.datetime) else value


class PlayRecord(_Model):
    """一条观看记录 (one play of a video, docs/protocol.md#viewing-records): who watched, when and for how long.

    Playback records carry ``room_id``, ``session_id`` and ``version``; VOD records (点播,
    exportVideoReportBatch on the real service) have none of them, so they are optional.
    ``user_number`` is kept as text (absent or empty: ``None``); times are Beijing-aware.
    Fields the service adds are kept.
    """

    guid: str
    """一次播放的唯一标识 (one play, 32 characters)."""
    uuid: str | None = None
    """观看端的随机标识 (random id of the viewer's client)."""
    video_id: int | None = None
    user_name: str | None = None
    """观看者昵称 (from the player URL's user_name)."""
    user_number: str | None = None
    """观看者编号 (from the player URL's user_number)."""
    play_begin_time: dt.datetime | None = None
    """开始观看时间 (when the play began, Beijing time)."""
    play_end_time: dt.datetime | None = None
    """最后上报时间 (when it was last reported, Beijing time)."""
    client_type: int = ClientType.UNKNOWN
    """观看终端 (:class:`ClientType`)."""
    play_length: int = 0
    """实际观看时长,秒 (seconds actually watched, pauses excluded)."""
    user_ip: str | None = None
    area: str | None = None
    """地区 "省份 市" (may be empty)."""
    room_id: int | None = None
    session_id: int | None = None
    version: int | None = None

    _parse_times = field_validator("play_begin_time", "play_end_time", mode="before")(_in_beijing)

    @field_validator("user_number", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("client_type", "play_length", mode="before")
    @classmethod
    def _absent_is_zero(cls, value: Any) -> Any:
        return 0 if value in (None, "") else value


class PlayRecordPage(_Listing):
    """A page of getPlaybackPlayRecord or exportVideoReportBatch, ordered by play_begin_time."""

    total: int = 0
    items: list[PlayRecord] = Field(default_factory=list, alias="list")
