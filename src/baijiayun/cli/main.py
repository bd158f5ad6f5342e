"""The root ``baijiayun`` command: global options, Ctrl-C, and the groups, each loaded when invoked."""

from __future__ import annotations

import os
from typing import Any

import click

from .context import _TYPED, EXIT_INTERRUPTED, Settings, global_options
from .lazy import Lazy, LazyGroup

__all__ = ["COMMANDS", "cli"]

COMMANDS = {
    "playback": Lazy(
        "baijiayun.cli.playback:playback", "回放: list, inspect, tokens, writes, bulk."
    ),
    "callback": Lazy(
        "baijiayun.cli.callback:callback", "Callbacks BaijiaYun posts to your server."
    ),
    "emulator": Lazy("baijiayun.cli.emulator:emulator", "The local BaijiaYun playback emulator."),
    "demo": Lazy("baijiayun.cli.demo:demo", "Every playback operation against a local emulator."),
    "mirror": Lazy("baijiayun.cli.mirror:mirror", "Keep the account's playbacks in your database."),
    "openapi": Lazy("baijiayun.cli.openapi:openapi", "Print the OpenAPI 3.1 document."),
    "views": Lazy("baijiayun.cli.views:views", "Who watched: play records, exports, reports."),
}
"""The subcommands: a new group is one line here (its module is imported only when invoked)."""


class Root(LazyGroup):
    """The root group: Ctrl-C ends any command with exit 130 (128 + SIGINT), not click's 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (KeyboardInterrupt, click.Abort):  # click.Abort: Ctrl-C at a prompt
            click.echo("\nInterrupted.", err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None


@global_options
@click.group(cls=Root, lazy=COMMANDS)
@click.version_option(package_name="baijiayun")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """BaijiaYun (百家云) playback OpenAPI from the command line.

    Global options work before, between or after the subcommands. Precedence: an option you
    type, then the values of a --profile you type, then BAIJIAYUN_* variables, then the profile
    named by BAIJIAYUN_PROFILE (or [profiles.default]).

    \b
    Examples:
      baijiayun emulator serve --seed demo       # a local service to try things on
      baijiayun playback list --page-size 5
      baijiayun --profile prod -o csv playback list --all > playbacks.csv
    """
    ctx.obj = Settings(typed=ctx.meta.setdefault(_TYPED, {}), environ=dict(os.environ))
