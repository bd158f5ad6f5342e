"""The 1.0.1 import path of ``RedisRateGovernor``: it now lives in ``baijiayun.ratelimit.redis``."""

from __future__ import annotations

from .ratelimit.redis import RedisRateGovernor, default_key

__all__ = ["RedisRateGovernor", "default_key"]
