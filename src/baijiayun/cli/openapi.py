"""``baijiayun openapi``: print (or write) the OpenAPI 3.1 document shipped in the package."""

from __future__ import annotations

import importlib.resources
import sys
from pathlib import Path

import click

from .context import LocalCommand

__all__ = ["openapi"]


@click.command(cls=LocalCommand)
@click.option(
    "--to",
    "target",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the document to this file instead of standard output.",
)
def openapi(target: Path | None) -> None:
    """Print the OpenAPI 3.1 document of the playback API (and of the emulator's own routes).

    The same bytes as docs/openapi.json and the emulator's GET /_emulator/openapi.json.

    \b
    Example:
      baijiayun openapi --to openapi.json
    """
    body = importlib.resources.files("baijiayun").joinpath("openapi.json").read_bytes()
    if target is None:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return
    try:
        target.write_bytes(body)
    except OSError as exc:
        raise click.ClickException(f"cannot write {target}: {exc.strerror or exc}") from None
    click.echo(f"wrote {target} ({len(body)} bytes)", err=True)
