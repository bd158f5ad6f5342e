"""baijiayun.callbacks: constant-time verification with a freshness window, typed parsing."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from baijiayun import _signing
from baijiayun.callbacks import (
    ClassCallback,
    TranscodeCallback,
    parse_class_callback,
    parse_transcode_callback,
    verify_callback,
)
from baijiayun.errors import CallbackVerificationError

KEY = "test_partner_key_ABC123+/=="
FIELDS = {
    "file_md5": "d41d8cd98f00b204e9800998ecf8427e",
    "length": "3600",
    "now_definition": "low,std,high",
    "origin_definition": "high",
    "preface_url": "https://img.example.com/p.jpg",
    "qid": "5f2b3c4d5e6f708192a3b4c5",
    "room_id": "17110879095169",
    "session_id": "201711281",
    "status": "100",
    "timestamp": "1700000000",
    "total_size": "1024000",
    "total_transcode_size": "2048000",
    "video_id": "153582",
    "sign": "3ac4229c6af74d017091c73660d04bed",
}


def test_protocol_vector_verifies_as_form_body_and_as_mapping() -> None:
    assert verify_callback(urlencode(FIELDS), KEY, now=1700000100) == FIELDS
    assert verify_callback(urlencode(FIELDS).encode(), KEY, now=1700000100) == FIELDS
    as_ints = {k: int(v) if v.isdigit() else v for k, v in FIELDS.items()}
    assert verify_callback(as_ints, KEY, now=1700000100) == FIELDS


def test_parse_transcode_callback() -> None:
    fresh = {**FIELDS, "timestamp": "1700000000"}
    callback = parse_transcode_callback(fresh, KEY, max_skew=None)
    assert isinstance(callback, TranscodeCallback)
    assert (callback.room_id, callback.session_id, callback.status, callback.length) == (
        17110879095169,
        201711281,
        100,
        3600,
    )
    assert callback.is_playback and callback.version is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": "30"}, "sign does not match"),
        ({"sign": "0" * 32}, "sign does not match"),
        ({"sign": ""}, "no sign"),
        ({"timestamp": "soon"}, "not an integer"),
    ],
)
def test_tampered_callbacks_are_refused(change: dict[str, str], reason: str) -> None:
    with pytest.raises(CallbackVerificationError, match=reason):
        verify_callback({**FIELDS, **change}, KEY, now=1700000000)


def test_stale_and_future_timestamps_are_refused() -> None:
    with pytest.raises(CallbackVerificationError, match="301 s off"):
        verify_callback(FIELDS, KEY, now=1700000301)
    with pytest.raises(CallbackVerificationError, match="off"):
        verify_callback(FIELDS, KEY, now=1699999000)
    assert verify_callback(FIELDS, KEY, now=1700000300)
    assert verify_callback(FIELDS, KEY, max_skew=None, now=0)


def test_wrong_key_is_refused() -> None:
    with pytest.raises(CallbackVerificationError):
        verify_callback(FIELDS, KEY + "x", now=1700000000)


def test_class_callback() -> None:
    fields = {
        "room_id": "17110879095169",
        "op": "start",
        "op_time": "2026-11-25 10:00:00",
        "qid": "q" * 24,
        "timestamp": "1700000000",
    }
    fields["sign"] = _signing.sign(fields, KEY)
    callback = parse_class_callback(fields, KEY, max_skew=None)
    assert isinstance(callback, ClassCallback)
    assert callback.op == "start" and callback.room_id == 17110879095169


def test_missing_field_is_named() -> None:
    fields = {"qid": "q", "timestamp": "1700000000", "status": "100"}
    fields["sign"] = _signing.sign(fields, KEY)
    with pytest.raises(CallbackVerificationError, match="video_id"):
        parse_transcode_callback(fields, KEY, max_skew=None)
