"""Rate governors: keep an account under its call limit (200 calls per 10 s).

``base`` holds the protocol a client needs and the window rule every governor applies; the
governors differ only in where their book lives: ``memory`` (one process), ``file`` (a SQLite
file: the processes of one machine) and ``redis`` (every machine).
"""

from __future__ import annotations

from .base import Governor, GovernorSlot, Slot, window_wait
from .file import FileRateGovernor, user_cache_dir
from .memory import RateGovernor
from .redis import RedisRateGovernor, default_key

__all__ = [
    "FileRateGovernor",
    "Governor",
    "GovernorSlot",
    "RateGovernor",
    "RedisRateGovernor",
    "Slot",
    "default_key",
    "user_cache_dir",
    "window_wait",
]
