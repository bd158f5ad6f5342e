"""The bulk operations as one table: each entry's columns, how to send a row, how to read it back."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .._endpoints import DELETE, SET_MAIN_VERSION, SET_PUBLISH_STATUS, UPDATE, Endpoint
from ..errors import APIError, BaiJiaYunError, RateLimitError, RoomDeletedError, RoomNotFoundError

__all__ = ["OPS", "Operation", "PlayBackLike", "Target"]


class PlayBackLike(Protocol):
    """The seed methods of ``PlayBack`` the runner uses."""

    def set_publish_status(self, room_id: int, status: int, session_id: int | None = None) -> Any:
        """Publish (1) or block (2)."""

    def update(self, room_id: int, name: str, session_id: int | None = None) -> Any:
        """Rename."""

    def set_main_version(self, room_id: int, version: int, session_id: int | None = None) -> Any:
        """Set the main version."""

    def delete(
        self, room_id: int, session_id: int | None = None, version: int | None = None
    ) -> Any:
        """Delete a playback or one version."""

    def get_basic_info(self, room_id: int, session_id: int | None = None) -> Any:
        """A playback's state."""

    def get_crop_list(
        self,
        room_id: int,
        product_type: int | None = None,
        session_id: int | None = None,
        page: int = 1,
        page_size: int = 100,
    ) -> Any:
        """The versions of a playback."""


@dataclass(frozen=True)
class Target:
    """A row's arguments, typed once: 教室号, 序列号, 版本, 名称 (room, session, version, name)."""

    room_id: int
    session_id: int | None = None
    version: int | None = None
    name: str | None = None

    @classmethod
    def of(cls, arguments: Mapping[str, int | str]) -> Target:
        """The target of checked arguments (``room_id`` and whichever others the op takes)."""

        def number(name: str) -> int | None:
            value = arguments.get(name)
            return None if value is None else int(value)

        name = arguments.get("name")
        return cls(
            int(arguments["room_id"]),
            number("session_id"),
            number("version"),
            None if name is None else str(name),
        )


Send = Callable[[PlayBackLike, Target], object]
Verify = Callable[[PlayBackLike, Target], bool]


@dataclass(frozen=True)
class Operation:
    """One bulk operation: its endpoint, the columns it reads, how to send and to verify a row.

    ``verify`` reads the service and says whether the row took effect (for a lost answer).
    ``once``: the write must never arrive twice (``delete``), so it is not sent again while an
    earlier send could still arrive; the others may simply be sent again.
    """

    endpoint: Endpoint
    columns: tuple[str, ...]
    send: Send
    verify: Verify
    fixed: Mapping[str, int]
    once: bool = False

    @property
    def required(self) -> tuple[str, ...]:
        """The columns every row must fill."""
        return tuple(c for c in self.columns if self.endpoint.by_name[c].required)


def _gone(error: BaiJiaYunError) -> bool:
    """The read says the playback or version is not there (not a refusal of the read itself)."""
    if isinstance(error, RoomNotFoundError | RoomDeletedError):
        return True
    return isinstance(error, APIError) and not isinstance(error, RateLimitError) and error.code == 1


def _versions(playback: PlayBackLike, t: Target) -> list[Any]:
    return list(playback.get_crop_list(t.room_id, session_id=t.session_id, page_size=1000).items)


def _publish_status(status: int) -> Operation:
    def send(playback: PlayBackLike, t: Target) -> object:
        return playback.set_publish_status(t.room_id, status, t.session_id)

    def verify(playback: PlayBackLike, t: Target) -> bool:
        return bool(playback.get_basic_info(t.room_id, t.session_id).publish_status == status)

    columns = ("room_id", "session_id")
    return Operation(SET_PUBLISH_STATUS, columns, send, verify, {"status": status})


def _rename_send(playback: PlayBackLike, t: Target) -> object:
    return playback.update(t.room_id, str(t.name), t.session_id)


def _rename_verify(playback: PlayBackLike, t: Target) -> bool:
    return bool(playback.get_basic_info(t.room_id, t.session_id).name == t.name)


def _set_main_send(playback: PlayBackLike, t: Target) -> object:
    return playback.set_main_version(t.room_id, int(t.version or 0), t.session_id)


def _set_main_verify(playback: PlayBackLike, t: Target) -> bool:
    return any(v.version == t.version and v.is_main for v in _versions(playback, t))


def _delete_send(playback: PlayBackLike, t: Target) -> object:
    return playback.delete(t.room_id, t.session_id, t.version)


def _delete_verify(playback: PlayBackLike, t: Target) -> bool:
    """Gone: the version is no longer listed, or the playback (or room) is not there."""
    try:
        if t.version is not None:
            return all(v.version != t.version for v in _versions(playback, t))
        playback.get_basic_info(t.room_id, t.session_id)
    except BaiJiaYunError as error:
        if _gone(error):
            return True
        raise
    return False


OPS: Mapping[str, Operation] = {
    "publish": _publish_status(1),
    "block": _publish_status(2),
    "rename": Operation(
        UPDATE, ("room_id", "session_id", "name"), _rename_send, _rename_verify, {}
    ),
    "set-main": Operation(
        SET_MAIN_VERSION,
        ("room_id", "session_id", "version"),
        _set_main_send,
        _set_main_verify,
        {},
    ),
    "delete": Operation(
        DELETE, ("room_id", "session_id", "version"), _delete_send, _delete_verify, {}, once=True
    ),
}
"""The bulk operations, each one endpoint; columns beyond those listed are ignored."""
