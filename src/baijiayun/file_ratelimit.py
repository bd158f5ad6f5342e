"""The 1.0.1 import path of ``FileRateGovernor``: it now lives in ``baijiayun.ratelimit.file``."""

from __future__ import annotations

from .ratelimit.file import FileRateGovernor, user_cache_dir

__all__ = ["FileRateGovernor", "user_cache_dir"]
