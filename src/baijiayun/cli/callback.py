"""``baijiayun callback …``: check the callbacks BaijiaYun posts to your server."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from .context import (
    EXIT_API_ERROR,
    AsciiIntRange,
    Group,
    LocalCommand,
    Settings,
    pass_settings,
)
from .output import emit

__all__ = ["callback"]


@click.group(cls=Group)
def callback() -> None:
    """Callbacks BaijiaYun posts to your server.

    \b
    Example:
      baijiayun callback verify body.txt --partner-key "$KEY"
    """


@callback.command(cls=LocalCommand)
@click.argument("source", type=click.File("rb"), default="-")
@click.option(
    "--max-skew",
    type=AsciiIntRange(min=0),
    default=300,
    show_default=True,
    help="Allowed timestamp age in seconds; 0 turns the check off.",
)
@pass_settings
def verify(settings: Settings, source: Any, max_skew: int) -> None:
    """Check a callback body (form-encoded or a JSON object) from SOURCE, a file or stdin.

    \b
    Examples:
      baijiayun callback verify body.txt
      pbpaste | baijiayun callback verify --max-skew 0
    """
    from ..callbacks import parse_transcode_callback, verify_callback
    from ..errors import CallbackVerificationError

    partner_key = settings.resolve().partner_key
    if not partner_key:
        raise click.UsageError("missing --partner-key (or BAIJIAYUN_PARTNER_KEY, or a profile)")
    raw = source.read()
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise click.BadParameter(
            f"not a callback body: byte {raw[exc.start]:#04x} at offset {exc.start} is not UTF-8 "
            "(BaijiaYun posts UTF-8 form fields or JSON)",
            param_hint="'SOURCE'",
        ) from None
    body: Any = text
    if text.startswith("{"):
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise click.BadParameter(
                f"the body looks like JSON but is not: {exc}", param_hint="SOURCE"
            ) from None
    try:
        fields = verify_callback(body, partner_key, max_skew=max_skew or None)
    except CallbackVerificationError as error:
        click.echo(f"invalid: {error}")
        sys.exit(EXIT_API_ERROR)
    kind = "transcode" if "video_id" in fields else "class" if "op" in fields else "unknown"
    click.echo(f"valid {kind} callback (qid {fields.get('qid', '?')})")
    if kind == "transcode":
        parsed = parse_transcode_callback(fields, partner_key, max_skew=None)
        emit(parsed.model_dump(exclude={"sign"}), settings.format())
