"""What PlayBack and AsyncPlayBack share and does no I/O: parsing results and batching ids."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ... import _endpoints as ep
from ...errors import InvalidArgumentError, ResponseDecodeError

__all__ = ["RoomIds", "batch_entries", "chunks", "merge_token_batch", "parse"]

M = TypeVar("M", bound=BaseModel)

RoomIds = str | Iterable[int | str | tuple[int, int]]
"""``"1,2-3"``, or an iterable of room ids, ``"room-session"`` strings or (room, session) pairs."""


def parse(endpoint: ep.Endpoint, model: type[M], data: Any) -> M:
    """Validate ``data`` into ``model``; any shape or value problem is a ResponseDecodeError."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "data"
        raise ResponseDecodeError(endpoint.path, f"{where}: {first['msg']}") from None
    except (ValueError, TypeError, ArithmeticError, RecursionError) as exc:
        raise ResponseDecodeError(endpoint.path, f"{type(exc).__name__}: {exc}") from None


def batch_entries(room_ids: RoomIds) -> list[str]:
    """Normalise room ids into unique ``room`` / ``room-session`` strings, in the order given."""
    if isinstance(room_ids, str):
        raw = [part.strip() for part in room_ids.split(",")]
    else:
        raw = []
        for item in room_ids:
            if isinstance(item, tuple):
                room, session = item
                raw.append(f"{room}-{session}" if session else str(room))
            elif isinstance(item, bool) or not isinstance(item, int | str):
                raise InvalidArgumentError("room_ids", f"bad entry {item!r}")
            else:
                raw.append(str(item).strip())
    entries = list(dict.fromkeys(raw))
    if not entries:
        raise InvalidArgumentError("room_ids", "at least one room id is required")
    for entry in entries:
        try:
            ep.parse_room_ids(entry)
        except ValueError as exc:
            raise InvalidArgumentError("room_ids", str(exc)) from None
    return entries


def _id_text(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        return str(int(value))
    return None


def merge_token_batch(data: Any, into: dict[str, str]) -> None:
    """Add one getPlayerTokenBatch answer (a mapping, or a list of objects) to ``into``."""
    path = ep.GET_PLAYER_TOKEN_BATCH.path
    if isinstance(data, dict):
        for key, token in data.items():
            if not isinstance(token, str):
                raise ResponseDecodeError(path, f"token of {key!r} is not a string")
            into[str(key)] = token
        return
    if isinstance(data, list):
        for row in data:
            if not isinstance(row, dict):
                raise ResponseDecodeError(path, "a row is not an object")
            room = _id_text(row.get("room_id"))
            session = _id_text(row.get("session_id") or 0)
            token = row.get("token")
            if room is None or session is None or not isinstance(token, str):
                raise ResponseDecodeError(path, "a row lacks a room_id, session_id or token")
            into[f"{room}-{session}" if session != "0" else room] = token
        return
    raise ResponseDecodeError(path, "data is neither object nor list")


def chunks(entries: list[str]) -> Iterator[str]:
    """Comma-joined groups of at most ``MAX_BATCH_IDS`` entries, one per call."""
    for start in range(0, len(entries), ep.MAX_BATCH_IDS):
        yield ",".join(entries[start : start + ep.MAX_BATCH_IDS])
