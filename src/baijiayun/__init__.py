"""baijiayun: the Python toolkit for BaijiaYun's (百家云) playback OpenAPI.

Public names load on first use so that ``baijiayun`` (the CLI) starts without importing httpx
and pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._endpoints import ENDPOINTS, Endpoint
    from .client import AsyncBaiJiaYunClient, BaiJiaYunClient
    from .client._core import RetryPolicy, WaitReason
    from .client.api import AsyncPlayBack, AsyncVideoData, PlayBack, VideoData
    from .errors import (
        AccountDisabledError,
        AccountNotFoundError,
        APIConnectionError,
        APIError,
        APIStatusError,
        APITimeoutError,
        BaiJiaYunError,
        CallbackVerificationError,
        DryRunRequest,
        InvalidArgumentError,
        ParameterError,
        PathNotFoundError,
        PermissionDeniedError,
        RateLimitError,
        ResponseDecodeError,
        RoomDeletedError,
        RoomNotFoundError,
        SharedStateError,
        SignatureError,
    )
    from .models import (
        ClientType,
        CropItem,
        CropPage,
        PlaybackInfo,
        PlaybackItem,
        PlaybackPage,
        PlaybackStatus,
        PlayerToken,
        PlayRecord,
        PlayRecordPage,
        PptDatedFile,
        PptDatedFileList,
        PptFile,
        PptFileList,
        PublishResult,
        PublishStatus,
        SessionItem,
        SessionList,
    )
    from .player import player_url
    from .ratelimit import (
        FileRateGovernor,
        Governor,
        GovernorSlot,
        RateGovernor,
        RedisRateGovernor,
        Slot,
    )
    from .tokens import RedisTokenCache, TokenCache

__version__ = "0.1.0"

__all__ = [
    "ENDPOINTS",
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
    "Endpoint",
    "FileRateGovernor",
    "Governor",
    "GovernorSlot",
    "InvalidArgumentError",
    "ParameterError",
    "PathNotFoundError",
    "PermissionDeniedError",
    "PlayBack",
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

_HOMES = {
    "ENDPOINTS": "._endpoints",
    "Endpoint": "._endpoints",
    "Governor": ".ratelimit.base",
    "RateGovernor": ".ratelimit.memory",
    "RetryPolicy": ".client._core",
    "WaitReason": ".client._core",
    "BaiJiaYunClient": ".client",
    "AsyncBaiJiaYunClient": ".client",
    "PlayBack": ".client.api",
    "AsyncPlayBack": ".client.api",
    "VideoData": ".client.api",
    "AsyncVideoData": ".client.api",
    "player_url": ".player",
    "DryRunRequest": ".errors",
    "RedisRateGovernor": ".ratelimit.redis",
    "FileRateGovernor": ".ratelimit.file",
    "GovernorSlot": ".ratelimit.base",
    "Slot": ".ratelimit.base",
    "TokenCache": ".tokens",
    "RedisTokenCache": ".tokens",
}


def __getattr__(name: str) -> Any:
    if name not in __all__ or name == "__version__":
        raise AttributeError(f"module 'baijiayun' has no attribute {name!r}")
    module = _HOMES.get(name) or (".errors" if name.endswith("Error") else ".models")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
