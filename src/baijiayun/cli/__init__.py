"""The ``baijiayun`` command line: every playback operation, callback checks, the emulator, a demo."""

from __future__ import annotations

import sys
from importlib.util import find_spec

__all__ = ["main"]

CLI_MODULES = ("click", "rich")


def main() -> None:
    """Entry point of the ``baijiayun`` command."""
    if any(find_spec(module) is None for module in CLI_MODULES):
        sys.stderr.write(
            "baijiayun: the command line needs the 'cli' extra: pip install 'baijiayun[cli]'\n"
        )
        sys.exit(2)
    from .main import cli

    cli(prog_name="baijiayun")
