"""The OpenAPI endpoints as data: the one declaration the SDK, the CLI and the emulator read."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "BEIJING",
    "CREATE_KEY",
    "ENDPOINTS",
    "EXPORT_VIDEO_REPORT_BATCH",
    "GET_PLAYBACK_PLAY_RECORD",
    "GET_TRANSCODE_CALLBACK_URL",
    "MAX_BATCH_IDS",
    "PLAYBACK_ENDPOINTS",
    "SET_TRANSCODE_CALLBACK_URL",
    "TIME_FORMAT",
    "VIDEO_DATA_ENDPOINTS",
    "Endpoint",
    "Param",
    "RuleError",
    "beijing_wire_time",
    "check_day_window",
    "parse_room_ids",
    "parse_wire_time",
]

MAX_BATCH_IDS = 100
"""At most this many ids per getPlayerTokenBatch call (docs/protocol.md#decisions)."""

ParamKind = Literal["int", "str", "date", "datetime", "room_ids", "url"]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
"""Integers on the wire are ASCII digits within signed 64 bits (docs/protocol.md#decisions)."""
MAX_URL_LENGTH = 512

# ASCII only: ``\d`` would accept any Unicode digit; ``fullmatch`` refuses a trailing newline.
_INT = re.compile(r"-?[0-9]{1,19}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
"""Times on the wire: exactly ``YYYY-MM-DD HH:MM:SS``, Beijing time (docs/protocol.md#decisions, docs/protocol.md#viewing-records)."""
BEIJING = dt.timezone(dt.timedelta(hours=8))
"""The service's clock: every wire time and every day window is China time (UTC+8)."""
_ROOM_ID_ENTRY = re.compile(r"[1-9][0-9]{0,18}(?:-[1-9][0-9]{0,18})?")
_URL = re.compile(r"https?://[\x21-\x7e\u00a0-\uffff]+")


def _plain_text(raw: str) -> bool:
    """True for text a database stores as sent: no NUL, no lone surrogate."""
    if "\x00" in raw:
        return False
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class Param:
    """One request parameter: its wire name, type, whether it is required, and its rules."""

    name: str
    kind: ParamKind
    help: str
    required: bool = False
    choices: tuple[int, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None

    def describe_rule(self) -> str:
        """Say in words what values are allowed."""
        if self.choices is not None:
            return "one of " + ", ".join(str(c) for c in self.choices)
        if self.kind == "int":
            # the real range: an open end is still bounded by the wire's signed 64 bits
            low = INT64_MIN if self.minimum is None else self.minimum
            high = INT64_MAX if self.maximum is None else self.maximum
            return f"an integer from {low} to {high}"
        if self.kind == "date":
            return "a date YYYY-MM-DD"
        if self.kind == "datetime":
            return "a time YYYY-MM-DD HH:MM:SS (Beijing time)"
        if self.kind == "room_ids":
            return (
                "comma-separated room ids, '{room_id}' or '{room_id}-{session_id}', "
                f"at most {MAX_BATCH_IDS}"
            )
        if self.kind == "url":
            return f"a URL starting with http:// or https://, at most {MAX_URL_LENGTH} characters"
        if self.max_length is not None:
            return f"a non-empty string of at most {self.max_length} characters, without NUL"
        return "a non-empty string without NUL"

    def check_wire(self, raw: str) -> int | str:
        """Parse the wire string of this parameter; raise ValueError naming the rule if it is bad."""
        value: int | str
        if self.kind == "int":
            if not _INT.fullmatch(raw):
                raise ValueError(self.describe_rule())
            value = int(raw)
            bad = (
                not INT64_MIN <= value <= INT64_MAX
                or (self.choices is not None and value not in self.choices)
                or (self.minimum is not None and value < self.minimum)
                or (self.maximum is not None and value > self.maximum)
            )
            if bad:
                raise ValueError(self.describe_rule())
            return value
        if self.kind == "date":
            try:
                if not _DATE.fullmatch(raw):
                    raise ValueError
                dt.date.fromisoformat(raw)
            except ValueError:
                raise ValueError(self.describe_rule()) from None
        if self.kind == "datetime":
            try:
                parse_wire_time(raw)
            except ValueError:
                raise ValueError(self.describe_rule()) from None
        if self.kind == "room_ids":
            parse_room_ids(raw)
        if self.kind == "url" and (
            len(raw) > MAX_URL_LENGTH or not _URL.fullmatch(raw) or not _plain_text(raw)
        ):
            raise ValueError(self.describe_rule())
        if self.kind == "str" and (
            not raw.strip()
            or not _plain_text(raw)
            or (self.max_length is not None and len(raw) > self.max_length)
        ):
            raise ValueError(self.describe_rule())
        return raw


def parse_wire_time(raw: str) -> dt.datetime:
    """A wire time ``YYYY-MM-DD HH:MM:SS`` as an aware Beijing datetime; ValueError otherwise."""
    if not _DATETIME.fullmatch(raw):
        raise ValueError(f"expected YYYY-MM-DD HH:MM:SS, got {raw[:40]!r}")
    return dt.datetime.strptime(raw, TIME_FORMAT).replace(tzinfo=BEIJING)


def beijing_wire_time(value: dt.datetime) -> str:
    """A datetime as the wire writes it: aware ones converted to Beijing, naive ones taken as
    Beijing time already (docs/protocol.md#viewing-records)."""
    if value.tzinfo is not None:
        value = value.astimezone(BEIJING)
    return value.strftime(TIME_FORMAT)


class RuleError(ValueError):
    """Parameters that are each well-formed but break a rule between them (``param`` names the
    one to change): the emulator answers 1001, the SDK refuses before sending."""

    def __init__(self, param: str, message: str) -> None:
        self.param = param
        super().__init__(message)


def check_day_window(params: Mapping[str, str]) -> None:
    """The window rule of docs/protocol.md#decided-viewing-records on wire values: ``start_time`` and ``end_time`` on the same
    Beijing calendar day, ``start_time <= end_time`` (查询时间不能跨天); RuleError otherwise.

    Both must already be well-formed (the ``datetime`` kind); absent ones are left to the
    ``required`` check.
    """
    start_raw, end_raw = params.get("start_time"), params.get("end_time")
    if not start_raw or not end_raw:
        return
    start, end = parse_wire_time(start_raw), parse_wire_time(end_raw)
    if start.date() != end.date():
        raise RuleError(
            "end_time",
            f"end_time {end_raw} is not on the day of start_time {start_raw}: "
            "the window may not cross a day (查询时间不能跨天)",
        )
    if start > end:
        raise RuleError("end_time", f"end_time {end_raw} is before start_time {start_raw}")


Rule = Callable[[Mapping[str, str]], None]
"""A check between parameters, on their wire strings; raises :class:`RuleError`."""


def parse_room_ids(raw: str) -> list[tuple[int, int]]:
    """Split a ``room_ids`` string into (room_id, session_id) pairs; session 0 = short-term."""
    entries = raw.split(",")
    if not raw or len(entries) > MAX_BATCH_IDS:
        raise ValueError(Param("room_ids", "room_ids", "").describe_rule())
    pairs = []
    for entry in entries:
        if not _ROOM_ID_ENTRY.fullmatch(entry) or any(
            int(part) > INT64_MAX for part in entry.split("-")
        ):
            raise ValueError(
                f"bad entry {entry!r}; expected '{{room_id}}' or '{{room_id}}-{{session_id}}'"
            )
        room, _, session = entry.partition("-")
        pairs.append((int(room), int(session or 0)))
    return pairs


@dataclass(frozen=True)
class Endpoint:
    """One OpenAPI action: path, parameters in the seed's order, and whether it may be re-sent."""

    method: str
    action: str
    module: str
    summary: str
    params: tuple[Param, ...]
    retry_safe: bool
    signed: bool = True
    rules: tuple[Rule, ...] = ()
    """Checks between parameters, run after each parameter passed its own."""
    by_name: Mapping[str, Param] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {p.name: p for p in self.params})

    def check_rules(self, params: Mapping[str, str]) -> None:
        """Run :attr:`rules` on well-formed wire parameters; RuleError names the one to change."""
        for rule in self.rules:
            rule(params)

    @property
    def path(self) -> str:
        """The URL path, e.g. ``/openapi/playback/getBasicInfo``."""
        return f"/openapi/{self.module}/{self.action}"


def _room(help_text: str = "教室号 (room id)") -> Param:
    return Param("room_id", "int", help_text, required=True, minimum=1)


_SESSION = Param(
    "session_id", "int", "序列号(针对长期房间才会用到) (session id, long-term rooms)", minimum=0
)
_SESSION_LONG = Param(
    "session_id",
    "int",
    "序列号(默认0,长期房间必须传此值) (session id; required for long-term rooms)",
    minimum=0,
)
_PRODUCT_TYPE = Param(
    "product_type",
    "int",
    "1:教育直播,2,小班课,3:双师,4,企业直播 (1 large class, 2 small class, 3 double-teacher, 4 enterprise)",
    choices=(1, 2, 3, 4),
)
_PAGE = Param("page", "int", "页码,从1开始 (page number, from 1)", minimum=1)
_PAGE_SIZE = Param(
    "page_size", "int", "每页条数,不得超过1000 (page size, at most 1000)", minimum=1, maximum=1000
)
_EXPIRES_IN = Param(
    "expires_in",
    "int",
    "过期时间,以秒为单位,0表示不过期 (lifetime in seconds, 0 = never)",
    required=True,
    minimum=0,
)
_VERSION = Param("version", "int", "版本号 (crop version; 0 is the original)", minimum=0)

GET_BASIC_INFO = Endpoint(
    "get_basic_info",
    "getBasicInfo",
    "playback",
    "查询直播回放信息 (get a playback's state)",
    (_room(), _SESSION),
    retry_safe=True,
)
GET_LIST = Endpoint(
    "get_list",
    "getList",
    "playback",
    "获取回放列表 (list playbacks, newest first)",
    (
        _PRODUCT_TYPE,
        Param("page", "int", _PAGE.help, required=True, minimum=1),
        Param("page_size", "int", _PAGE_SIZE.help, required=True, minimum=1, maximum=1000),
        Param(
            "crop_video", "int", "是否返回裁剪视频的回放,0:否 1:是 (include crops)", choices=(0, 1)
        ),
        Param("room_id", "int", "教室号 (filter to one room)", minimum=1),
    ),
    retry_safe=True,
)
GET_PLAYER_TOKEN = Endpoint(
    "get_player_token",
    "getPlayerToken",
    "playback",
    "获取回放token (get a player token)",
    (_room("房间号 (room id)"), _EXPIRES_IN, _SESSION),
    retry_safe=True,
)
GET_PLAYER_TOKEN_BATCH = Endpoint(
    "get_player_token_batch",
    "getPlayerTokenBatch",
    "playback",
    "批量获取回放token (tokens in a batch)",
    (
        Param(
            "room_ids",
            "room_ids",
            "短期房间传{room_id},长期房间传{room_id}-{session_id},英文逗号分隔 (comma-separated ids)",
            required=True,
        ),
        _EXPIRES_IN,
    ),
    retry_safe=True,
)
GET_SESSION_LIST = Endpoint(
    "get_session_list",
    "getSessionList",
    "playback",
    "获取长期房间云录制的序列号列表 (sessions of a room)",
    (_room("房间号 (room id)"),),
    retry_safe=True,
)
SET_PUBLISH_STATUS = Endpoint(
    "set_publish_status",
    "setPublishStatus",
    "playback",
    "设置回放发布状态 (publish or block)",
    (
        _room("回放教室号 (room id)"),
        Param(
            "status",
            "int",
            "发布状态 1:发布 2:屏蔽 (1 publish, 2 block)",
            required=True,
            choices=(1, 2),
        ),
        _SESSION,
    ),
    retry_safe=True,
)
DELETE = Endpoint(
    "delete",
    "delete",
    "playback",
    "删除回放 (delete a playback or one crop version)",
    (_room(), _SESSION, _VERSION),
    retry_safe=False,
)
UPDATE = Endpoint(
    "update",
    "update",
    "playback",
    "更新回放名称 (rename a playback)",
    (_room(), Param("name", "str", "回放名称 (new name)", required=True, max_length=100), _SESSION),
    retry_safe=True,
)
GET_CROP_LIST = Endpoint(
    "get_crop_list",
    "getCropList",
    "playback",
    "获取裁剪回放列表 (versions of a playback)",
    (_room(), _PRODUCT_TYPE, _SESSION_LONG, _PAGE, _PAGE_SIZE),
    retry_safe=True,
)
SET_MAIN_VERSION = Endpoint(
    "set_main_version",
    "setMainVersion",
    "playback",
    "设置回放主版本 (set the main version)",
    (_room(), Param("version", "int", "版本号 (version)", required=True, minimum=0), _SESSION_LONG),
    retry_safe=True,
)
GET_PLAYBACK_PPT_URL_LIST = Endpoint(
    "get_playback_ppt_url_list",
    "getPlaybackPptUrlList",
    "playback",
    "获取ppt转成的pdf的路径列表 (PDFs of a room's slides)",
    (_room("教室号 (room id)"), Param("date", "date", "日期 YYYY-MM-DD (day, long-term rooms)")),
    retry_safe=True,
)
GET_PLAYBACK_PPT_URL = Endpoint(
    "get_playback_ppt_url",
    "getPlaybackPptUrl",
    "playback",
    "获取ppt转成的pdf具体路径 (PDFs of one session)",
    (_room("教室号 (room id)"), _SESSION),
    retry_safe=True,
)
REPLACE_PLAYBACK = Endpoint(
    "replace_playback",
    "replacePlayback",
    "playback",
    "替换回放 (source replaces or is added to target)",
    (
        Param(
            "type", "int", "类型 1:替换 2:新增 (1 replace, 2 add)", required=True, choices=(1, 2)
        ),
        Param("source_room_id", "int", "源回放 room_id (source room)", required=True, minimum=1),
        Param("target_room_id", "int", "目标回放 room_id (target room)", required=True, minimum=1),
        Param("source_session_id", "int", "源回放 session_id (长期教室传)", minimum=0),
        Param("source_version", "int", "源回放版本 (source version)", minimum=0),
        Param(
            "is_replace_main",
            "int",
            "是否替换成主版本 0:否 1:是 (make the result main)",
            choices=(0, 1),
        ),
        Param("target_session_id", "int", "目标回放 session_id (长期教室传)", minimum=0),
        Param("target_version", "int", "目标回放版本 (target version)", minimum=0),
    ),
    retry_safe=False,
)

PLAYBACK_ENDPOINTS: tuple[Endpoint, ...] = (
    DELETE,
    GET_BASIC_INFO,
    GET_CROP_LIST,
    GET_LIST,
    GET_PLAYBACK_PPT_URL,
    GET_PLAYBACK_PPT_URL_LIST,
    GET_PLAYER_TOKEN,
    GET_PLAYER_TOKEN_BATCH,
    GET_SESSION_LIST,
    REPLACE_PLAYBACK,
    SET_MAIN_VERSION,
    SET_PUBLISH_STATUS,
    UPDATE,
)
"""The 13 methods of the seed's ``PlayBack``, in the seed's order."""

CREATE_KEY = Endpoint(
    "create_key",
    "createkey",
    "partner",
    "获取或重置 partner_key (get or reset the partner_key)",
    (
        Param("secret_key", "str", "secret_key (console secret)", required=True, max_length=128),
        Param("regenerate", "int", "1 强制生成新的 partner_key (1 = rotate)", choices=(0, 1)),
    ),
    retry_safe=False,
    signed=False,
)
SET_TRANSCODE_CALLBACK_URL = Endpoint(
    "set_transcode_callback_url",
    "setTranscodeCallbackUrl",
    "video_account",
    "设置转码回调地址 (set the transcode callback URL)",
    (Param("url", "url", "回调地址 (callback URL)", required=True),),
    retry_safe=True,
)
GET_TRANSCODE_CALLBACK_URL = Endpoint(
    "get_transcode_callback_url",
    "getTranscodeCallbackUrl",
    "video_account",
    "查询转码回调地址 (get the transcode callback URL)",
    (),
    retry_safe=True,
)

_START_TIME = Param(
    "start_time",
    "datetime",
    "开始时间 YYYY-MM-DD HH:MM:SS,不能跨天 (window start, Beijing time; same day as end_time)",
    required=True,
)
_END_TIME = Param(
    "end_time",
    "datetime",
    "结束时间 YYYY-MM-DD HH:MM:SS,不能跨天 (window end, inclusive; same day as start_time)",
    required=True,
)
_RECORD_PAGE = Param(
    "page", "int", "页码,从1开始,默认1 (page number, from 1; default 1)", minimum=1
)
_RECORD_PAGE_SIZE = Param(
    "page_size",
    "int",
    "每页条数,默认100,最大1000 (page size, default 100, at most 1000)",
    minimum=1,
    maximum=1000,
)
GET_PLAYBACK_PLAY_RECORD = Endpoint(
    "get_playback_play_record",
    "getPlaybackPlayRecord",
    "video_data",
    "获取指定回放视频观看记录 (play records of one playback, one day window)",
    (
        _room(),
        _SESSION,
        _START_TIME,
        _END_TIME,
        _RECORD_PAGE,
        _RECORD_PAGE_SIZE,
    ),
    retry_safe=True,
    rules=(check_day_window,),
)
EXPORT_VIDEO_REPORT_BATCH = Endpoint(
    "export_video_report_batch",
    "exportVideoReportBatch",
    "video_data",
    "获取账号所有视频观看记录 (every play record of the account, one day window)",
    (
        Param(
            "product_type",
            "int",
            "1:教育直播,2:小班课,3:双师,4:企业直播,5:点播账号 (1 large class, 2 small class, "
            "3 double-teacher, 4 enterprise, 5 VOD)",
            choices=(1, 2, 3, 4, 5),
        ),
        _START_TIME,
        _END_TIME,
        _RECORD_PAGE,
        _RECORD_PAGE_SIZE,
    ),
    retry_safe=True,
    rules=(check_day_window,),
)
VIDEO_DATA_ENDPOINTS: tuple[Endpoint, ...] = (GET_PLAYBACK_PLAY_RECORD, EXPORT_VIDEO_REPORT_BATCH)
"""The seed's ``VideoData`` methods: viewing records (docs/protocol.md#viewing-records)."""

ENDPOINTS: dict[str, Endpoint] = {
    e.path: e
    for e in (
        *PLAYBACK_ENDPOINTS,
        CREATE_KEY,
        SET_TRANSCODE_CALLBACK_URL,
        GET_TRANSCODE_CALLBACK_URL,
        *VIDEO_DATA_ENDPOINTS,
    )
}
"""Every endpoint by URL path."""
