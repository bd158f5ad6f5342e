"""Typed rows of the emulator's tables, as the backends read and write them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

__all__ = ["Account", "Caller", "PlayRecord", "Playback", "PptFile", "Room", "Token", "as_dict"]


def as_dict(row: Any) -> dict[str, Any]:
    """A row as a plain dict (for the facade's callers and the admin API's JSON)."""
    return dataclasses.asdict(row)


@dataclass
class Account:
    """A partner account: its keys, player domain and transcode callback URL."""

    partner_id: int
    partner_key: str
    secret_key: str
    private_domain: str
    transcode_callback_url: str
    created_at: int


@dataclass(frozen=True)
class Caller:
    """What an OpenAPI request reads first: the account it names (None if there is none) and
    whether any fault rule exists (True when unknown), so a call costs no read for faults
    while there are none."""

    account: Account | None
    faults: bool


@dataclass
class Room:
    """A classroom; long-term rooms hold one playback per session."""

    room_id: int
    partner_id: int
    title: str
    product_type: int
    is_long_term: bool
    deleted: bool
    created_at: int


@dataclass
class Playback:
    """One version of a playback: version 0 is the original recording, 1, 2, … its crops."""

    id: int
    partner_id: int
    room_id: int
    session_id: int
    version: int
    video_id: int
    name: str
    status: int
    length: int
    total_size: int
    total_transcode_size: int
    total_ext_media_size: int
    preface_url: str
    file_md5: str
    publish_status: int
    is_main: bool
    play_times: int
    create_time: int
    deleted: bool

    def values(self) -> dict[str, Any]:
        """The columns to insert (the database assigns ``id``)."""
        values = dataclasses.asdict(self)
        del values["id"]
        return values


@dataclass
class Token:
    """A player token for one room/session."""

    token: str
    partner_id: int
    room_id: int
    session_id: int
    expires_at: int | None
    created_at: int


@dataclass
class PptFile:
    """A PDF made from the slides of a room/session."""

    room_id: int
    session_id: int
    date: str
    name: str
    url: str


@dataclass
class PlayRecord:
    """One play of a playback (docs/protocol.md#viewing-records): who, when, how long; times in unix seconds."""

    guid: str
    partner_id: int
    room_id: int
    session_id: int
    version: int
    video_id: int
    product_type: int
    uuid: str
    user_number: str
    user_name: str
    play_begin_time: int
    play_end_time: int
    play_length: int
    duration_ms: int
    position_ms: int
    client_type: int
    user_ip: str
    area: str
    last_beacon: float
    ended: bool
