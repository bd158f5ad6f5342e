"""Bulk input: CSV or JSON lines read and validated whole, every bad row listed with its line."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO

from ..errors import BaiJiaYunError, InvalidArgumentError
from ._ops import OPS, Operation, Target

__all__ = ["BulkInputError", "BulkRow", "Format", "RowProblem", "load_rows", "operation"]

Format = Literal["csv", "jsonl"]


@dataclass(frozen=True)
class RowProblem:
    """Why one input row cannot be sent."""

    line: int
    message: str

    def __str__(self) -> str:
        return self.message if self.line == 0 else f"line {self.line}: {self.message}"


class BulkInputError(BaiJiaYunError, ValueError):
    """The input has bad rows (all listed in ``problems``); nothing was sent."""

    def __init__(self, problems: Sequence[RowProblem]) -> None:
        self.problems = list(problems)
        shown = "\n".join(str(p) for p in self.problems[:20])
        more = len(self.problems) - 20
        super().__init__(
            f"{len(self.problems)} bad row(s), nothing sent:\n{shown}"
            + (f"\n… and {more} more" if more > 0 else "")
        )


@dataclass(frozen=True)
class BulkRow:
    """One validated row: its line in the input, the op, and the arguments to send."""

    line: int
    op: str
    arguments: Mapping[str, int | str]
    target: Target = field(init=False, repr=False, compare=False)
    """The arguments typed once, as the op's send and verify take them."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", Target.of(self.arguments))

    @property
    def key(self) -> str:
        """The row's identity in the journal: a digest of the op and its arguments."""
        content = json.dumps([self.op, sorted(self.arguments.items())], ensure_ascii=False)
        return hashlib.sha256(content.encode()).hexdigest()

    def describe(self) -> str:
        """``rename room_id=1 name=…`` for messages."""
        args = " ".join(f"{k}={v}" for k, v in self.arguments.items())
        return f"{self.op} {args}"


def operation(op: str) -> Operation:
    """The entry of ``op`` in :data:`OPS`; an unknown op is an :class:`InvalidArgumentError`."""
    try:
        return OPS[op]
    except KeyError:
        raise InvalidArgumentError("op", f"one of {', '.join(OPS)}, got {op!r}") from None


def _check_row(op: str, line: int, raw: Mapping[str, object]) -> BulkRow | list[RowProblem]:
    spec = operation(op)
    problems: list[RowProblem] = []
    arguments: dict[str, int | str] = {}
    for column in spec.columns:
        value = raw.get(column)
        if value is None or (isinstance(value, str) and value.strip() == ""):
            if column in spec.required:
                problems.append(RowProblem(line, f"{column} is required for {op}"))
            continue
        param = spec.endpoint.by_name[column]
        if isinstance(value, bool) or not isinstance(value, int | str):
            problems.append(RowProblem(line, f"{column} must be {param.describe_rule()}"))
            continue
        text = value if isinstance(value, str) else str(value)
        if param.kind == "int":
            text = text.strip()
        try:
            arguments[column] = param.check_wire(text)
        except ValueError as exc:
            problems.append(RowProblem(line, f"{column} must be {exc}, got {text!r}"))
    return problems or BulkRow(line, op, arguments)


def _sniff(text: str) -> Format:
    first = text.lstrip()[:1]
    return "jsonl" if first == "{" else "csv"


def _records(
    text: str, fmt: Format, op: str = ""
) -> Iterator[tuple[int, Mapping[str, object] | str]]:
    if fmt == "jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, f"not valid JSON: {exc.msg}"
                continue
            yield number, value if isinstance(value, dict) else "not a JSON object"
        return
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        return
    reader.fieldnames = [name.strip().lower() for name in reader.fieldnames]
    missing = [c for c in (operation(op).required if op else ()) if c not in reader.fieldnames]
    if missing:  # one message about the header, not "required" on every row
        columns = ", ".join(missing)
        found = ", ".join(name for name in reader.fieldnames if name) or "nothing"
        yield (
            reader.line_num,
            f"the header has no {columns} column, which {op} needs (it has {found})",
        )
        return
    for record in reader:
        if not any((v or "").strip() for v in record.values() if isinstance(v, str)):
            continue
        yield reader.line_num, record


def load_rows(
    op: str, source: str | os.PathLike[str] | TextIO, *, format: Format | None = None
) -> list[BulkRow]:
    """Read and validate every row of ``source`` (a path, ``"-"`` for stdin, or an open file).

    ``format`` is ``"csv"`` (a header row: room_id, session_id, version, name as the op needs) or
    ``"jsonl"`` (one JSON object a line); by default the file suffix decides, else the content.
    Raises :class:`BulkInputError` with every bad row if any row is bad.
    """
    operation(op)
    if isinstance(source, str | os.PathLike):
        if str(source) == "-":
            text = sys.stdin.read().removeprefix("\ufeff")
        else:
            path = Path(source)
            try:
                text = path.read_text(encoding="utf-8-sig")
            except UnicodeDecodeError as exc:
                raise BulkInputError(
                    [
                        RowProblem(
                            0, f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
                        )
                    ]
                ) from None
            if format is None and path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
                format = "jsonl"
            elif format is None and path.suffix.lower() == ".csv":
                format = "csv"
    else:
        text = source.read().removeprefix("\ufeff")  # a BOM, as Excel writes UTF-8 CSV
    rows: list[BulkRow] = []
    problems: list[RowProblem] = []
    for line, record in _records(text, format or _sniff(text), op):
        checked = (
            [RowProblem(line, record)] if isinstance(record, str) else _check_row(op, line, record)
        )
        if isinstance(checked, BulkRow):
            rows.append(checked)
        else:
            problems.extend(checked)
    if problems:
        raise BulkInputError(problems)
    return rows
