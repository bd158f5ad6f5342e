"""The root ``baijiayun`` command: global options, then the playback, callback, emulator, demo and mirror groups."""

from __future__ import annotations

import os

import click

from .callback import callback
from .context import _TYPED, Group, Settings, global_options
from .demo import demo
from .emulator import emulator
from .mirror import mirror
from .playback import playback
from .views import views

__all__ = ["cli"]


@global_options
@click.group(cls=Group)
@click.version_option(package_name="baijiayun")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """BaijiaYun (百家云) playback OpenAPI from the command line.

    Global options work before, between or after the subcommands. Precedence: an option you
    type, then the values of a --profile you type, then BAIJIAYUN_* variables, then the profile
    named by BAIJIAYUN_PROFILE (or [profiles.default]).
    """
    ctx.obj = Settings(typed=ctx.meta.setdefault(_TYPED, {}), environ=dict(os.environ))


cli.add_command(playback)
cli.add_command(callback)
cli.add_command(emulator)
cli.add_command(demo)
cli.add_command(mirror)
cli.add_command(views)
