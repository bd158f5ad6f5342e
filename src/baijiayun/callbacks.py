"""Verify and parse the callbacks BaijiaYun posts to your server (docs/protocol.md#callbacks)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TypeVar
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from . import _signing
from .errors import CallbackVerificationError
from .models import parse_time

__all__ = [
    "SUCCESS_REPLY",
    "ClassCallback",
    "TranscodeCallback",
    "parse_class_callback",
    "parse_transcode_callback",
    "verify_callback",
]

SUCCESS_REPLY = {"code": 0}
"""The JSON body to answer a callback with once it was handled."""

DEFAULT_MAX_SKEW = 300

INT64_MAX = 2**63 - 1
TRANSCODE_STATUSES = (20, 30, 100)
"""A transcode callback's statuses: 20 uploaded, 30 transcode failed, 100 transcode succeeded."""


def _as_dict(body: Mapping[str, object] | str | bytes) -> dict[str, str]:
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CallbackVerificationError(
                f"callback body is not UTF-8 (byte {exc.start}: {body[exc.start : exc.end]!r})"
            ) from None
    if isinstance(body, str):
        return dict(parse_qsl(body, keep_blank_values=True))
    return {str(k): "" if v is None else str(v) for k, v in body.items()}


def verify_callback(
    body: Mapping[str, object] | str | bytes,
    partner_key: str,
    *,
    max_skew: int | None = DEFAULT_MAX_SKEW,
    now: float | None = None,
) -> dict[str, str]:
    """Check a callback's sign (constant time) and freshness; return its fields as strings.

    ``body`` is the form body (raw bytes/str) or its fields; values may be strings or ints.
    ``max_skew=None`` turns the timestamp check off. Raises :class:`CallbackVerificationError`.
    """
    fields = _as_dict(body)
    if not fields.get("sign"):
        raise CallbackVerificationError("callback has no sign")
    raw_ts = fields.get("timestamp", "")
    if not (raw_ts.isascii() and raw_ts.isdigit() and len(raw_ts) <= 18):
        raise CallbackVerificationError(
            f"callback timestamp is missing or not an integer: {raw_ts!r}"
        )
    if max_skew is not None:
        skew = abs((time.time() if now is None else now) - int(raw_ts))
        if skew > max_skew:
            raise CallbackVerificationError(
                f"callback timestamp is {skew:.0f} s off (limit {max_skew} s)"
            )
    if not _signing.verify(fields, partner_key):
        raise CallbackVerificationError(
            "callback sign does not match (wrong partner_key or altered body)"
        )
    return fields


class _Callback(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    qid: str
    timestamp: int


class TranscodeCallback(_Callback):
    """点播和回放转码回调: status 20 uploaded, 30 transcode failed, 100 transcode succeeded."""

    video_id: int
    status: int
    room_id: int | None = None
    session_id: int | None = None
    version: int | None = None
    total_size: int | None = None
    total_transcode_size: int | None = None
    length: int | None = None
    preface_url: str | None = None
    file_md5: str | None = None
    now_definition: str | None = None
    origin_definition: str | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator(
        "video_id",
        "room_id",
        "session_id",
        "version",
        "total_size",
        "total_transcode_size",
        "length",
    )
    @classmethod
    def _within_64_bits(cls, value: int | None) -> int | None:
        if value is not None and not 0 <= value <= INT64_MAX:
            raise ValueError(f"must be from 0 to {INT64_MAX}")
        return value

    @field_validator("status")
    @classmethod
    def _known_status(cls, value: int) -> int:
        if value not in TRANSCODE_STATUSES:
            raise ValueError(f"must be one of {', '.join(map(str, TRANSCODE_STATUSES))}")
        return value

    @property
    def is_playback(self) -> bool:
        """True for a playback (回放) callback, False for plain VOD (no room_id)."""
        return self.room_id is not None


class ClassCallback(_Callback):
    """上下课回调: ``op`` is ``start`` or ``end`` at ``op_time``."""

    room_id: int
    op: str
    op_time: object = None

    _op_time = field_validator("op_time", mode="before")(parse_time)


C = TypeVar("C", bound=_Callback)


def _parse(model: type[C], fields: Mapping[str, str]) -> C:
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CallbackVerificationError(f"callback field {where!r}: {first['msg']}") from None


def parse_transcode_callback(
    body: Mapping[str, object] | str | bytes,
    partner_key: str,
    *,
    max_skew: int | None = DEFAULT_MAX_SKEW,
) -> TranscodeCallback:
    """Verify and parse a transcode (playback generation) callback."""
    return _parse(TranscodeCallback, verify_callback(body, partner_key, max_skew=max_skew))


def parse_class_callback(
    body: Mapping[str, object] | str | bytes,
    partner_key: str,
    *,
    max_skew: int | None = DEFAULT_MAX_SKEW,
) -> ClassCallback:
    """Verify and parse a class start/end callback."""
    return _parse(ClassCallback, verify_callback(body, partner_key, max_skew=max_skew))
