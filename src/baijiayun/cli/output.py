"""Render results as a table (terminal), JSON, JSON lines or CSV (pipes); times in Beijing time."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Collection, Mapping
from typing import IO, Any

import click

__all__ = [
    "FORMATS",
    "PLAYBACK_WORDS",
    "PUBLISH_WORDS",
    "RECORD_WORDS",
    "display",
    "emit",
    "fit_columns",
    "pick_format",
    "to_rows",
]

FORMATS = ("table", "json", "jsonl", "csv")

PLAYBACK_WORDS = {"status": "PlaybackStatus", "publish_status": "PublishStatus"}
"""Which fields hold which status codes (enums of ``baijiayun.models``), for a playback or session."""

PUBLISH_WORDS = {"status": "PublishStatus"}
"""setPublishStatus answers with ``status``, a publish status."""

RECORD_WORDS = {"client_type": "ClientType"}
"""A play record's ``client_type`` is a device (``pc web (5)``)."""


def pick_format(requested: str | None) -> str:
    """The requested format, or a table on a terminal and JSON when piped."""
    if requested:
        return requested
    return "table" if sys.stdout.isatty() else "json"


def _plain(value: Any) -> Any:
    from ..models import BEIJING  # the models load pydantic: not needed for --help

    if isinstance(value, dt.datetime):
        return value.astimezone(BEIJING) if value.tzinfo else value.replace(tzinfo=BEIJING)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def to_rows(value: Any) -> Any:
    """Plain data from models, lists of models and mappings; datetimes in Beijing time."""
    if hasattr(value, "model_dump"):
        return _plain(value.model_dump(mode="python"))
    if isinstance(value, list):
        return [to_rows(v) for v in value]
    return _plain(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def _dumps(value: Any, indent: int | None = None) -> str:
    import json  # here, like csv below: not needed for --help

    return json.dumps(value, ensure_ascii=False, indent=indent, default=_json_default)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, dict | list):
        return _dumps(value)
    return str(value)


def _word(value: Any, kind: str | None) -> str:
    from .. import models

    if kind is None or isinstance(value, bool) or not isinstance(value, int):
        return _cell(value)
    try:
        name = getattr(models, kind)(value).name.lower().replace("_", " ")
    except ValueError:
        return str(value)
    return f"{name} ({value})"


def display(field: str, value: Any, words: Mapping[str, str] = PLAYBACK_WORDS) -> str:
    """One value as a table shows it: status words with the code, times in Beijing time."""
    return _word(_plain(value), words.get(field))


def emit(
    data: Any,
    fmt: str,
    *,
    caption: str | None = None,
    hint: str | None = None,
    words: Mapping[str, str] = PLAYBACK_WORDS,
    keep: Collection[str] = (),
    file: IO[str] | None = None,
) -> None:
    """Write ``data`` (a mapping or a list of mappings) to stdout (or ``file``) in ``fmt``.

    A table shows status codes as words (``ready (100)``), then ``caption`` and ``hint``;
    ``keep`` names this command's own key columns, never cut or dropped on a narrow terminal.
    A table goes to stdout only.
    """
    data = to_rows(data)
    rows: list[dict[str, Any]] = data if isinstance(data, list) else [data]
    if fmt == "json":
        click.echo(_dumps(data, indent=2), file=file)
    elif fmt == "jsonl":
        for row in rows:
            click.echo(_dumps(row), file=file)
    elif fmt == "csv":
        import csv
        import io

        buffer = io.StringIO()
        fields = list(dict.fromkeys(k for row in rows for k in row))
        writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: _csv_cell(v) for k, v in row.items()} for row in rows)
        click.echo(buffer.getvalue(), nl=False, file=file)
    else:
        _table(rows, words, data if isinstance(data, list) else None, frozenset(keep))
        for line in (caption, hint):
            if line:
                click.echo(line)


def _csv_cell(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value)
    return _cell(value)


TABLE_COLUMNS = (
    "id",
    "play_begin_time",
    "room_id",
    "session_id",
    "version",
    "user_number",
    "user_name",
    "play_length",
    "client_type",
    "is_main",
    "name",
    "status",
    "publish_status",
    "length",
    "play_times",
    "create_time",
    "date",
    "token",
    "url",
)
"""Columns a table shows for a list (every field is in json/jsonl/csv)."""

_HEADERS = {
    "session_id": "session",
    "publish_status": "publish",
    "is_main": "main",
    "play_times": "plays",
    "create_time": "created (UTC+8)",
    "play_begin_time": "began (UTC+8)",
    "user_number": "user",
    "user_name": "viewer",
    "play_length": "watched (s)",
    "client_type": "client",
}

KEY_COLUMNS = {"id", "room_id", "session_id", "version", "status", "token", "url"}
"""Columns a table never cuts or drops: ids are copied from it, and the status is the point."""

_DROP_ORDER = (
    "client_type",
    "user_name",
    "date",
    "play_times",
    "length",
    "is_main",
    "publish_status",
    "create_time",
    "name",
)
"""Optional columns, the first to go first, when the name at its narrowest still does not fit."""

NAME_MIN = 8
"""The narrowest the name column gets before whole columns are dropped."""


def _flat(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted fields (``last_run.mode``), so a field/value table reads them."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flat(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def fit_columns(
    fields: list[str], widths: dict[str, int], space: int, keep: Collection[str] = ()
) -> dict[str, int]:
    """The columns a listing shows within ``space`` cells, and their widths.

    Key columns (:data:`KEY_COLUMNS`, and the command's own ``keep``) keep their full width; the
    name shrinks to :data:`NAME_MIN`, then the optional columns are dropped whole
    (:data:`_DROP_ORDER`). Key columns that alone do not fit are kept anyway: a long line beats a
    cut id.
    """
    shown = {name: widths[name] for name in fields}
    name_gives = "name" in shown and "name" not in keep

    def total() -> int:
        return sum(shown.values()) + len(shown) - 1  # one space between columns

    if name_gives and total() > space:
        shown["name"] = max(min(NAME_MIN, widths["name"]), shown["name"] - (total() - space))
    for name in _DROP_ORDER:
        if total() <= space:
            break
        if name in shown and name not in keep and len(shown) > 1:
            del shown[name]
    if name_gives and "name" in shown and total() < space:  # a dropped column left room
        shown["name"] = min(widths["name"], shown["name"] + space - total())
    return shown


def _table(
    rows: list[dict[str, Any]],
    words: Mapping[str, str],
    listing: list[Any] | None,
    keep: frozenset[str],
) -> None:
    from rich import box
    from rich.cells import cell_len
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=False)
    if listing is None:
        table = Table("field", "value", box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0))
        for key, value in _flat(rows[0]).items():
            table.add_row(key, _word(value, words.get(key.rpartition(".")[2])))
        console.print(table)
        return
    present = {k for row in rows for k in row}
    fields = [c for c in TABLE_COLUMNS if c in present] or sorted(present)
    cells = [{name: _word(row.get(name), words.get(name)) for name in fields} for row in rows]
    widths = {
        name: max([cell_len(_HEADERS.get(name, name)), *(cell_len(row[name]) for row in cells)])
        for name in fields
    }
    shown = fit_columns(fields, widths, console.width, keep)
    console = Console(soft_wrap=False, width=max(console.width, sum(shown.values()) + len(shown)))
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=0, pad_edge=False)
    for name, width in shown.items():
        table.add_column(_HEADERS.get(name, name), no_wrap=True, overflow="ellipsis", width=width)
    for row in cells:
        table.add_row(*(row[name] for name in shown))
    console.print(table)
