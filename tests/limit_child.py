"""A storm of get_basic_info through one async client (the guarantee tests run it, also in children)."""

from __future__ import annotations

import asyncio

import httpx

from baijiayun import AsyncBaiJiaYunClient, BaiJiaYunError, Governor

CALLS, PERIOD = 20, 0.5
POOL = httpx.Limits(max_connections=4)
"""Fewer connections than tasks: granted calls queue in the pool before they leave."""


async def basic_info_storm(
    base_url: str,
    partner_id: int,
    partner_key: str,
    room: int,
    governor: Governor,
    *,
    total: int,
    at_once: int,
) -> list[str]:
    """``total`` calls, ``at_once`` tasks, ``max_retries=0``; return the failures' messages."""
    failures: list[str] = []
    http = httpx.AsyncClient(limits=POOL)
    async with AsyncBaiJiaYunClient(
        partner_id,
        partner_key,
        base_url=base_url,
        max_retries=0,
        rate_limit=governor,
        http_client=http,
        owns_http_client=True,
    ) as client:
        todo = iter(range(total))

        async def worker() -> None:
            for _ in todo:
                try:
                    await client.playback.get_basic_info(room)
                except BaiJiaYunError as error:
                    failures.append(str(error))

        await asyncio.gather(*(worker() for _ in range(at_once)))
    return failures
