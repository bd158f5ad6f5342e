"""The ``baijiayun`` command line: every playback operation, callback checks, the emulator, a demo."""

from __future__ import annotations

__all__ = ["main"]


def main() -> None:
    """Entry point of the ``baijiayun`` command."""
    from .commands import cli

    cli(prog_name="baijiayun")
