"""The ``BAIJIAYUN_*`` environment variables: one table, read in one place by the SDK and the CLI."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Final

__all__ = ["CLIENT_SETTINGS", "ENVIRONMENT", "from_environment"]

ENVIRONMENT: Final[Mapping[str, str]] = {
    "partner_id": "BAIJIAYUN_PARTNER_ID",
    "partner_key": "BAIJIAYUN_PARTNER_KEY",
    "secret_key": "BAIJIAYUN_SECRET_KEY",
    "private_domain": "BAIJIAYUN_PRIVATE_DOMAIN",
    "base_url": "BAIJIAYUN_BASE_URL",
    "profile": "BAIJIAYUN_PROFILE",
    "rate_limit": "BAIJIAYUN_RATE_LIMIT",
    "redis_url": "BAIJIAYUN_REDIS_URL",
    "cache_dir": "BAIJIAYUN_CACHE_DIR",
    "config": "BAIJIAYUN_CONFIG",
}
"""The variable of each setting: the client's five, then the CLI's (profile, budget, Redis of the
budget, config file) and the cache directory of the file governor."""

CLIENT_SETTINGS: Final = ("partner_id", "partner_key", "secret_key", "private_domain", "base_url")
"""What a client with ``trust_env=True`` takes from the environment when not given it."""


def from_environment(
    environ: Mapping[str, str] | None = None, names: Iterable[str] | None = None
) -> dict[str, str]:
    """The settings the environment gives, by setting name (a variable set empty counts as unset).

    :param environ: the variables to read (default: ``os.environ``)
    :param names: the settings wanted (default: every one of :data:`ENVIRONMENT`)
    """
    environ = os.environ if environ is None else environ
    wanted = ENVIRONMENT if names is None else {name: ENVIRONMENT[name] for name in names}
    return {name: environ[var] for name, var in wanted.items() if environ.get(var, "")}
