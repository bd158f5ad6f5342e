"""Render results as a table (terminal), JSON, JSON lines or CSV (pipes)."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Mapping
from typing import Any

import click

__all__ = ["FORMATS", "emit", "pick_format", "to_rows"]

FORMATS = ("table", "json", "jsonl", "csv")


def pick_format(requested: str | None) -> str:
    """The requested format, or a table on a terminal and JSON when piped."""
    if requested:
        return requested
    return "table" if sys.stdout.isatty() else "json"


def to_rows(value: Any) -> Any:
    """Plain JSON-ready data from models, lists of models and mappings."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [to_rows(v) for v in value]
    if isinstance(value, Mapping):
        return {k: to_rows(v) for k, v in value.items()}
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def emit(data: Any, fmt: str, *, title: str | None = None) -> None:
    """Write ``data`` (a mapping or a list of mappings) to stdout in ``fmt``."""
    data = to_rows(data)
    rows: list[dict[str, Any]] = data if isinstance(data, list) else [data]
    if fmt == "json":
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    elif fmt == "jsonl":
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
    elif fmt == "csv":
        buffer = io.StringIO()
        fields = list(dict.fromkeys(k for row in rows for k in row))
        writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
        click.echo(buffer.getvalue(), nl=False)
    else:
        _table(rows, title)


TABLE_COLUMNS = (
    "id",
    "room_id",
    "session_id",
    "version",
    "name",
    "status",
    "publish_status",
    "is_main",
    "length",
    "play_times",
    "create_time",
    "date",
    "token",
    "url",
)
"""Columns a table shows for a list (every field is in json/jsonl/csv)."""


def _table(rows: list[dict[str, Any]], title: str | None) -> None:
    from rich.console import Console
    from rich.table import Table

    if len(rows) == 1:
        table = Table("field", "value", title=title)
        for key, value in rows[0].items():
            table.add_row(key, _cell(value))
    else:
        present = {k for row in rows for k in row}
        fields = [c for c in TABLE_COLUMNS if c in present] or sorted(present)
        table = Table(title=title)
        for field in fields:
            table.add_column(field, min_width=len(field), overflow="fold")
        for row in rows:
            table.add_row(*(_cell(row.get(f)) for f in fields))
    Console().print(table)
