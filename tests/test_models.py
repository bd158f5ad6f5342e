"""Models accept what the wire varies on and keep what they do not know."""

from __future__ import annotations

import datetime as dt

from baijiayun import models


def test_room_id_as_string_or_int() -> None:
    assert (
        models.PlaybackItem.model_validate({"room_id": "17110879095169"}).room_id == 17110879095169
    )
    assert models.PlaybackItem.model_validate({"room_id": 17110879095169}).room_id == 17110879095169


def test_create_time_int_string_or_absent() -> None:
    as_int = models.PlaybackInfo.model_validate({"status": 100, "create_time": 1700000000})
    as_str = models.PlaybackInfo.model_validate(
        {"status": 100, "create_time": "2023-11-15 06:13:20"}
    )
    as_digits = models.PlaybackInfo.model_validate({"status": 100, "create_time": "1700000000"})
    assert as_int.create_time == as_str.create_time == as_digits.create_time
    assert as_int.create_time == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.timezone.utc)
    assert models.PlaybackInfo.model_validate({"status": 0}).create_time is None
    assert models.PlaybackInfo.model_validate({"status": 0, "create_time": ""}).create_time is None


def test_unknown_fields_are_kept() -> None:
    info = models.PlaybackInfo.model_validate({"status": 100, "new_field": [1, 2]})
    assert info.model_extra == {"new_field": [1, 2]}


def test_session_id_absent_or_null_is_zero() -> None:
    assert models.PlaybackItem.model_validate({"room_id": 1, "session_id": None}).session_id == 0
    assert models.PlaybackItem.model_validate({"room_id": 1}).version == 0


def test_lists_accept_bare_arrays() -> None:
    assert len(models.SessionList.model_validate([{"session_id": 1}]).items) == 1
    assert models.PlaybackPage.model_validate({"total": 3, "list": []}).total == 3
