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
    """观看记录: who watched a playback, or every play of the account (Beijing days).

    \b
    Examples:
      baijiayun views list 26010100000001
      baijiayun views export --since 2026-11-01 --until 2026-11-30 --to plays.csv
      baijiayun views report
    """


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
    """获取指定回放视频观看记录: the plays of one playback, one row per play (default: today).

    \b
    Example:
      baijiayun views list 26010100000001 --since 2026-11-25 --until 2026-12-01 -o csv
    """
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
    """获取账号所有视频观看记录: every play of the account, day by day (exportVideoReportBatch).

    \b
    Example:
      baijiayun views export --since 2026-11-25 --until 2026-12-01 --to plays.csv
    """
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


BAR_WIDTH = 10
"""Cells of the completion bar in a report table."""
REPORT_WIDTH = 160
"""The narrowest a report table is laid out (wider terminals get their width)."""


def completion_cell(value: float | None) -> str:
    """A completion as a table shows it: a bar of :data:`BAR_WIDTH` cells and the percentage."""
    if value is None:
        return "?"
    full = round(value * BAR_WIDTH)
    return "█" * full + "░" * (BAR_WIDTH - full) + f" {value * 100:5.1f}%"


def _duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


_REPORT_COLUMNS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "room_id": ("room", str),
    "session_id": ("session", str),
    "name": ("name", lambda v: v or ""),
    "user_number": ("user", lambda v: v or "(anonymous)"),
    "user_name": ("viewer", lambda v: v or ""),
    "uuid": ("client", lambda v: v or ""),
    "length": ("length", lambda v: "" if v is None else _duration(v)),
    "viewers": ("viewers", str),
    "plays": ("plays", str),
    "watched": ("watched", _duration),
    "completion": ("completion", completion_cell),
    "first_watch": ("first (UTC+8)", lambda v: "" if v is None else f"{v:%Y-%m-%d %H:%M}"),
    "last_watch": ("last (UTC+8)", lambda v: "" if v is None else f"{v:%Y-%m-%d %H:%M}"),
}
"""A report table's columns: header and cell of each field (JSON and CSV carry every field)."""


def _report_table(rows: list[dict[str, Any]], fields: list[str], caption: str) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0))
    for name in fields:
        numeric = name in {"viewers", "plays", "watched", "length"}
        header = _REPORT_COLUMNS[name][0]
        table.add_column(header, justify="right" if numeric else "left", no_wrap=True)
    for row in rows:
        table.add_row(*(_REPORT_COLUMNS[name][1](row[name]) for name in fields))
    # rows are never cut: a narrow terminal wraps the long lines rather than losing the bar
    Console(soft_wrap=False, width=max(Console().width, REPORT_WIDTH)).print(table)
    click.echo(caption)


@command("report")
@click.option(
    "--database",
    metavar="URL",
    envvar="BAIJIAYUN_MIRROR_DATABASE",
    default="sqlite:///baijiayun-mirror.db",
    show_default=True,
    help="The mirror to read (SQLAlchemy URL; 'baijiayun mirror sync' fills it).",
)
@click.option("--room", "room_id", type=ASCII_INT, help="Per viewer of this room's playbacks.")
@click.option("--session-id", type=ASCII_INT, help="序列号 (with --room: one long-term session).")
@click.option(
    "--not-started",
    "roster",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A roster (user numbers one per line, or a CSV with a user_number column): list "
    "those with no play (of --room, when given).",
)
@pass_settings
def report(
    settings: Settings,
    database: str,
    room_id: int | None,
    session_id: int | None,
    roster: Path | None,
) -> None:
    """Who watched, from the mirror (no API call): per playback, or per viewer with --room.

    Per playback: viewers (distinct user numbers; anonymous plays once per client), plays,
    time watched, average completion. Per viewer: plays, time watched, completion (time
    watched over the main version's length, at most 100%), first and last watch.

    \b
    Examples:
      baijiayun views report
      baijiayun views report --room 26010100000001 -o csv
      baijiayun views report --room 26010100000001 --not-started roster.csv
    """
    from ..mirror.report import not_started, playback_views, read_roster, viewer_views
    from .mirror import MirrorContext

    if session_id is not None and room_id is None:
        raise click.UsageError("--session-id needs --room")
    engine = MirrorContext(database, settings).engine(existing=True)
    partner_id = settings.resolve().partner_id
    fmt = settings.format()
    where = "" if room_id is None else f" of room {room_id}"
    if session_id is not None:
        where += f" session {session_id}"
    if roster is not None:
        try:
            numbers = read_roster(roster)
        except (ValueError, UnicodeDecodeError) as error:
            raise click.BadParameter(str(error), param_hint="'--not-started'") from None
        missing = not_started(engine, partner_id, numbers, room_id, session_id)
        caption = f"{len(missing)} of {len(set(numbers))} on the roster have not started{where}"
        emit([{"user_number": n} for n in missing], fmt, caption=caption)
        return
    if room_id is None:
        rows: list[Any] = playback_views(engine, partner_id)
        fields = ["room_id", "session_id", "name", "length", "viewers", "plays", "watched"]
        caption = f"{len(rows)} playback{'' if len(rows) == 1 else 's'} watched (from the mirror)"
    else:
        rows = viewer_views(engine, partner_id, room_id, session_id)
        fields = ["session_id", "user_number", "user_name", "plays", "watched"]
        caption = f"{len(rows)} viewer{'' if len(rows) == 1 else 's'}{where} (from the mirror)"
    data = [row.to_dict() for row in rows]
    if fmt != "table":
        emit(data, fmt)
        return
    fields.append("completion")
    if room_id is not None:
        fields += ["first_watch", "last_watch"]
    _report_table(data, fields, caption)
