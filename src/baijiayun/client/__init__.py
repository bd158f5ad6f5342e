"""BaiJiaYunClient and AsyncBaiJiaYunClient: configuration, partner keys and the send loop.

``AsyncBaiJiaYunClient`` is written by hand in ``_async_client.py``; ``BaiJiaYunClient`` in
``_sync_client.py`` is generated from it by ``scripts/unasync.py``.
"""

from __future__ import annotations

from ._async_client import AsyncBaiJiaYunClient
from ._base import DEFAULT_RATE_LIMIT, DEFAULT_TIMEOUT, OnWait, resolve_base_url
from ._sync_client import BaiJiaYunClient

__all__ = [
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_TIMEOUT",
    "AsyncBaiJiaYunClient",
    "BaiJiaYunClient",
    "OnWait",
    "resolve_base_url",
]
