"""A page-view worker process for the cross-process token cache test (imports only the SDK)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from baijiayun import BaiJiaYunClient, RedisTokenCache


def query(url: str) -> dict[str, str]:
    """The query fields of a player URL."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def page_views(
    base_url: str,
    pid: int,
    key: str,
    rooms: list[int],
    redis_url: str,
    prefix: str,
    ready: Any,
    start: Any,
    out: Any,
) -> None:
    """Serve 150 page views when told to start; report the token each playback got."""
    cache = RedisTokenCache(redis_url, prefix=prefix)
    with BaiJiaYunClient(pid, key, base_url=base_url, token_cache=cache) as client:
        ready.put(True)
        t0 = start.get()
        while time.time() < t0:
            time.sleep(0.005)
        tokens = {
            room: query(client.playback.cached_player_url(room))["token"]
            for index in range(150)
            for room in [rooms[index % len(rooms)]]
        }
    cache.close()
    out.put(tokens)
