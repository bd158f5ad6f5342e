"""CLI configuration: named profiles in a TOML file, under options and BAIJIAYUN_* variables."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from ..config import from_environment

__all__ = ["config_path", "load_profile"]

PROFILE_KEYS = ("partner_id", "partner_key", "secret_key", "private_domain", "base_url")


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$BAIJIAYUN_CONFIG``, else ``$XDG_CONFIG_HOME/baijiayun/config.toml`` (``~/.config/…``)."""
    environ = os.environ if environ is None else environ
    explicit = from_environment(environ, ("config",)).get("config")
    if explicit:
        return Path(explicit)
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "baijiayun" / "config.toml"


def load_profile(
    name: str | None, path: Path | None = None, *, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The settings of profile ``name`` (``[profiles.NAME]``); ``default`` if present and no name."""
    path = path or config_path(environ)
    if not path.exists():
        if name:
            raise click.BadParameter(
                f"no config file at {path} to read profile {name!r} from", param_hint="--profile"
            )
        return {}
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib  # type: ignore[import-not-found]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.BadParameter(f"cannot read {path}: {exc}", param_hint="--profile") from None
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(p, dict) for p in profiles.values()):
        raise click.BadParameter(
            f"{path}: profiles must be tables, e.g. [profiles.prod]", param_hint="--profile"
        )
    wanted = name or "default"
    if wanted not in profiles:
        if name:
            known = ", ".join(sorted(profiles)) or "none"
            raise click.BadParameter(
                f"profile {name!r} not in {path} (known: {known})", param_hint="--profile"
            )
        return {}
    profile = profiles[wanted]
    unknown = set(profile) - set(PROFILE_KEYS)
    if unknown:
        raise click.BadParameter(
            f"profile {wanted!r} in {path} has unknown keys: {', '.join(sorted(unknown))} "
            f"(known: {', '.join(PROFILE_KEYS)})",
            param_hint="--profile",
        )
    return dict(profile)
