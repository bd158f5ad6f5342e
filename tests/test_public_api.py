"""The public surface: names exported, the seed's signatures, and sync/async parity."""

from __future__ import annotations

import inspect

import baijiayun
from baijiayun.client.api import AsyncPlayBack, AsyncVideoData, PlayBack, VideoData

# The seed (PlayBack-api.txt): method -> parameters with defaults. The placeholder defaults
# room_id=123456 (get_list) and product_type=0 (get_crop_list) are the two deliberate changes.
SEED = {
    "delete": [("room_id", None), ("session_id", "None"), ("version", "None")],
    "get_basic_info": [("room_id", None), ("session_id", "None")],
    "get_crop_list": [
        ("room_id", None),
        ("product_type", "None"),
        ("session_id", "None"),
        ("page", "1"),
        ("page_size", "100"),
    ],
    "get_list": [
        ("product_type", None),
        ("page", None),
        ("page_size", None),
        ("crop_video", "0"),
        ("room_id", "None"),
    ],
    "get_playback_ppt_url": [("room_id", None), ("session_id", "None")],
    "get_playback_ppt_url_list": [("room_id", None), ("date", "None")],
    "get_player_token": [("room_id", None), ("expires_in", None), ("session_id", "None")],
    "get_player_token_batch": [("room_ids", None), ("expires_in", None)],
    "get_session_list": [("room_id", None)],
    "replace_playback": [
        ("type", None),
        ("source_room_id", None),
        ("target_room_id", None),
        ("source_session_id", "None"),
        ("source_version", "None"),
        ("is_replace_main", "None"),
        ("target_session_id", "None"),
        ("target_version", "None"),
    ],
    "set_main_version": [("room_id", None), ("version", None), ("session_id", "None")],
    "set_publish_status": [("room_id", None), ("status", None), ("session_id", "None")],
    "update": [("room_id", None), ("name", None), ("session_id", "None")],
}

# The 1.0.1 package's VideoData (client/api/video_data.py), with its defaults; product_type=0
# is kept and means "not sent" (docs/protocol.md#viewing-records).
SEED_VIDEO_DATA = {
    "get_playback_play_record": [
        ("room_id", None),
        ("start_time", None),
        ("end_time", None),
        ("session_id", "None"),
        ("page", "1"),
        ("page_size", "100"),
    ],
    "export_video_report_batch": [
        ("start_time", None),
        ("end_time", None),
        ("product_type", "0"),
        ("page", "1"),
        ("page_size", "100"),
    ],
}


def test_public_names_are_pinned() -> None:
    assert sorted(baijiayun.__all__) == sorted(
        [
            "APIConnectionError",
            "APIError",
            "APIStatusError",
            "APITimeoutError",
            "AccountDisabledError",
            "AccountNotFoundError",
            "AsyncBaiJiaYunClient",
            "AsyncPlayBack",
            "AsyncVideoData",
            "BaiJiaYunClient",
            "BaiJiaYunError",
            "CallbackVerificationError",
            "ClientType",
            "CropItem",
            "CropPage",
            "DryRunRequest",
            "FileRateGovernor",
            "Governor",
            "GovernorSlot",
            "ENDPOINTS",
            "Endpoint",
            "InvalidArgumentError",
            "ParameterError",
            "PathNotFoundError",
            "PermissionDeniedError",
            "PlayBack",
            "PlaybackInfo",
            "PlaybackItem",
            "PlaybackPage",
            "PlaybackStatus",
            "PlayRecord",
            "PlayRecordPage",
            "PlayerToken",
            "PptDatedFile",
            "PptDatedFileList",
            "PptFile",
            "PptFileList",
            "PublishResult",
            "PublishStatus",
            "RateGovernor",
            "RateLimitError",
            "RedisRateGovernor",
            "RedisTokenCache",
            "ResponseDecodeError",
            "RetryPolicy",
            "RoomDeletedError",
            "RoomNotFoundError",
            "SessionItem",
            "SessionList",
            "SharedStateError",
            "SignatureError",
            "Slot",
            "TokenCache",
            "VideoData",
            "WaitReason",
            "__version__",
            "player_url",
        ]
    )
    for name in baijiayun.__all__:
        assert getattr(baijiayun, name) is not None


def test_seed_import_path() -> None:
    from baijiayun.client.api import PlayBack as SeedPlayBack

    assert SeedPlayBack is baijiayun.PlayBack
    assert list(inspect.signature(PlayBack).parameters) == ["client"]
    assert inspect.signature(PlayBack).parameters["client"].default is None


def test_module_paths_of_1_0_1_still_import_the_same_objects() -> None:
    from baijiayun import ratelimit
    from baijiayun.client.api.playback import AsyncPlayBack as OldAsyncPlayBack
    from baijiayun.client.api.playback import PlayBack as OldPlayBack
    from baijiayun.file_ratelimit import FileRateGovernor, user_cache_dir
    from baijiayun.redis_ratelimit import RedisRateGovernor

    assert OldPlayBack is baijiayun.PlayBack and OldAsyncPlayBack is baijiayun.AsyncPlayBack
    assert FileRateGovernor is baijiayun.FileRateGovernor is ratelimit.FileRateGovernor
    assert RedisRateGovernor is baijiayun.RedisRateGovernor is ratelimit.RedisRateGovernor
    assert user_cache_dir is ratelimit.user_cache_dir
    for name in ("Governor", "GovernorSlot", "RateGovernor", "Slot"):
        assert getattr(baijiayun, name) is getattr(ratelimit, name)


def test_seed_methods_names_order_and_defaults() -> None:
    for method, expected in SEED.items():
        params = list(inspect.signature(getattr(PlayBack, method)).parameters.values())[1:]
        got = [
            (p.name, None if p.default is inspect.Parameter.empty else repr(p.default))
            for p in params
        ]
        assert got == expected, method


def test_sync_and_async_signatures_are_identical() -> None:
    public = [n for n in vars(PlayBack) if not n.startswith("_")]
    assert public == [n for n in vars(AsyncPlayBack) if not n.startswith("_")]
    for name in public:
        sync, asynchronous = getattr(PlayBack, name), getattr(AsyncPlayBack, name)
        assert inspect.signature(sync).parameters == inspect.signature(asynchronous).parameters, (
            name
        )
        # The sync class is generated from the async one: the same text, async words aside.
        assert sync.__doc__ and asynchronous.__doc__, name
        assert sync.__doc__ == asynchronous.__doc__.replace("AsyncPlayBack", "PlayBack").replace(
            "async with", "with"
        ), name


def test_every_seed_method_keeps_chinese_and_english_docs() -> None:
    for method in SEED:
        doc = getattr(PlayBack, method).__doc__
        assert doc and any("\u4e00" <= ch <= "\u9fff" for ch in doc), method
        assert any(ch.isascii() and ch.isalpha() for ch in doc), method


def test_seed_video_data_import_paths_names_and_defaults() -> None:
    from baijiayun.client.api import VideoData as SeedVideoData
    from baijiayun.client.api.video_data import VideoData as ModuleVideoData

    assert SeedVideoData is ModuleVideoData is baijiayun.VideoData
    assert list(inspect.signature(VideoData).parameters) == ["client"]
    for method, expected in SEED_VIDEO_DATA.items():
        params = list(inspect.signature(getattr(VideoData, method)).parameters.values())[1:]
        got = [
            (p.name, None if p.default is inspect.Parameter.empty else repr(p.default))
            for p in params
        ]
        assert got == expected, method
        doc = getattr(VideoData, method).__doc__
        assert doc and any("\u4e00" <= ch <= "\u9fff" for ch in doc), method
    walkers = {
        "iter_playback_play_records": ["room_id", "since", "until", "session_id"],
        "iter_play_records": ["since", "until", "product_type"],
    }
    for method, names in walkers.items():
        params = inspect.signature(getattr(VideoData, method)).parameters.values()
        positional = [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD][1:]
        assert positional == names, method


def test_video_data_sync_and_async_are_twins() -> None:
    public = [n for n in vars(VideoData) if not n.startswith("_")]
    assert public == [n for n in vars(AsyncVideoData) if not n.startswith("_")]
    for name in public:
        sync, asynchronous = getattr(VideoData, name), getattr(AsyncVideoData, name)
        assert inspect.signature(sync).parameters == inspect.signature(asynchronous).parameters
        assert sync.__doc__ and asynchronous.__doc__, name
        assert sync.__doc__ == asynchronous.__doc__.replace("AsyncVideoData", "VideoData"), name
