"""``baijiayun views …``: who watched; each command is one SDK walk plus its output."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .context import ASCII_INT, AsciiIntRange, Group, Settings, global_options, pass_settings
from .output import RECORD_WORDS, emit

if TYPE_CHECKING:
    from .._days import DayWindow
    from ..models import PlayRecord

__all__ = ["views"]

FILE_FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
"""The format ``--to FILE`` gets from its suffix when ``-o`` is not given (otherwise JSON)."""


@click.group(cls=Group)
def views() -> None:
    """观看记录: who watched a playback, or every play of the account (Beijing days)."""


def command(name: str | None = None) -> Callable[[Callable[..., Any]], click.Command]:
    """A views subcommand that also takes the global options."""

    def decorate(function: Callable[..., Any]) -> click.Command:
        return global_options(views.command(name)(function))

    return decorate


_SPAN_HELP = "YYYY-MM-DD (the whole day) or 'YYYY-MM-DD HH:MM:SS', Beijing time"


def _walk(
    settings: Settings,
    label: str,
    since: str,
    until: str,
    walk: Callable[[Callable[[DayWindow], None]], Iterator[PlayRecord]],
) -> list[PlayRecord]:
    """Run one walker under a progress bar that moves a step per Beijing day."""
    from .._days import span_bounds

    start, end = span_bounds(since, until)  # refuses a bad span before the bar shows
    days = (end.date() - start.date()).days + 1
    with settings.status().bar(label, days) as advance:
        return list(walk(lambda window: advance(1)))


def _caption(records: list[PlayRecord], whose: str, since: str, until: str) -> str:
    plays = f"{len(records)} play{'' if len(records) == 1 else 's'}"
    span = since if since == until else f"{since} .. {until}"
    return f"{plays} of {whose}, {span} (UTC+8)"


@command("list")
@click.argument("room_id", type=ASCII_INT)
@click.option("--session-id", type=ASCII_INT, help="序列号 (long-term rooms; default: every one).")
@click.option("--since", metavar="WHEN", help=f"First moment, inclusive: {_SPAN_HELP} [today].")
@click.option("--until", metavar="WHEN", help=f"Last moment, inclusive: {_SPAN_HELP} [today].")
@pass_settings
def list_(
    settings: Settings,
    room_id: int,
    session_id: int | None,
    since: str | None,
    until: str | None,
) -> None:
    """获取指定回放视频观看记录: the plays of one playback, one row per play (default: today)."""
    from .._days import beijing_today

    today = beijing_today().isoformat()
    since, until = since or today, until or today
    records = _walk(
        settings,
        f"plays of room {room_id}",
        since,
        until,
        lambda on_day: settings.client().video_data.iter_playback_play_records(
            room_id, since, until, session_id, on_day=on_day
        ),
    )
    caption = _caption(records, f"room {room_id}", since, until)
    emit(records, settings.format(), caption=caption, words=RECORD_WORDS)


@command("export")
@click.option("--since", metavar="WHEN", required=True, help=f"First moment: {_SPAN_HELP}.")
@click.option("--until", metavar="WHEN", required=True, help=f"Last moment: {_SPAN_HELP}.")
@click.option(
    "--product-type",
    type=AsciiIntRange(1, 5),
    help="1 教育直播, 2 小班课, 3 双师, 4 企业直播, 5 点播 (default: every line).",
)
@click.option(
    "--to",
    "target",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to this file (format from -o, else its suffix .csv/.json/.jsonl, else JSON).",
)
@pass_settings
def export(
    settings: Settings,
    since: str,
    until: str,
    product_type: int | None,
    target: Path | None,
) -> None:
    """获取账号所有视频观看记录: every play of the account, day by day (exportVideoReportBatch)."""
    fmt = settings.format()
    if target is not None:
        fmt = settings.resolve().output or FILE_FORMATS.get(target.suffix.lower(), "json")
        if fmt == "table":
            raise click.BadParameter(
                "a file gets json, jsonl or csv, not a table", param_hint="'-o' / '--output'"
            )
    records = _walk(
        settings,
        "plays of the account",
        since,
        until,
        lambda on_day: settings.client().video_data.iter_play_records(
            since, until, product_type, on_day=on_day
        ),
    )
    caption = _caption(records, "the account", since, until)
    if target is None:
        emit(records, fmt, caption=caption, words=RECORD_WORDS)
        return
    with target.open("w", encoding="utf-8", newline="") as file:
        emit(records, fmt, file=file)
    click.echo(f"{caption}: written to {target} ({fmt})", err=True)
