"""Signatures: the official and project golden vectors of docs/protocol.md#signing, and property tests."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from baijiayun import _signing

KEY = "test_partner_key_ABC123+/=="
OFFICIAL_KEY = (
    "rLkIPaQjxSwRQmC/ITnHh8i2rifmmbFIVsYw03SSi24zAnkrAd0ZNb2rcTzI2avy7+AmNJDdLmzU89zKUAP3Xg=="
)


def test_official_example_sign() -> None:
    params = {
        "partner_id": "12345678",
        "title": "测试教室",
        "start_time": "1501575608",
        "end_time": "1501579208",
        "type": "2",
        "timestamp": "1501572288",
    }
    assert _signing.canonical_string(params, OFFICIAL_KEY) == (
        "end_time=1501579208&partner_id=12345678&start_time=1501575608&timestamp=1501572288"
        f"&title=测试教室&type=2&partner_key={OFFICIAL_KEY}"
    )
    assert _signing.sign(params, OFFICIAL_KEY) == "5b78486597c679b0c6256da014af1260"


def test_get_player_token_vector() -> None:
    params = {
        "partner_id": "12345678",
        "room_id": "17110879095169",
        "session_id": "201711281",
        "expires_in": "3600",
        "timestamp": "1700000000",
    }
    assert _signing.sign(params, KEY) == "ad49721f757a46cf68fd19dfa617c36d"


def test_batch_vector_signs_raw_commas_and_dashes() -> None:
    params = {
        "partner_id": "12345678",
        "room_ids": "17110879095169,17110879095170-201711281",
        "expires_in": "0",
        "timestamp": "1700000000",
    }
    assert _signing.sign(params, KEY) == "c7a205e90748e1108495dfaae8b73023"


def test_empty_value_is_signed_as_k_equals() -> None:
    base = {
        "name": "第1讲 回放",
        "partner_id": "12345678",
        "room_id": "17110879095169",
        "timestamp": "1700000000",
    }
    assert _signing.sign({**base, "session_id": ""}, KEY) == "c5472ab58628016cd83168facb8021d3"
    assert _signing.sign(base, KEY) == "40b5129ea21ea868f26ca99b8627260a"


def test_transcode_callback_vector() -> None:
    from .test_callbacks import FIELDS

    fields = {k: v for k, v in FIELDS.items() if k != "sign"}
    assert _signing.sign(fields, KEY) == "3ac4229c6af74d017091c73660d04bed"
    assert _signing.verify({**fields, "sign": "3ac4229c6af74d017091c73660d04bed"}, KEY)


def test_sign_field_is_ignored_and_keys_sort_not_strings() -> None:
    # Sorting 'k=v' strings (the old SDK) would put a1=… before a=…; key order puts a first.
    assert (
        _signing.canonical_string({"a1": "y", "a": "x", "sign": "zzz"}, "K")
        == "a=x&a1=y&partner_key=K"
    )


def test_mask_canonical_hides_the_key() -> None:
    masked = _signing.mask_canonical(_signing.canonical_string({"a": "1"}, "SECRET"))
    assert masked == "a=1&partner_key=***"


def test_verify_accepts_uppercase_and_rejects_missing_sign() -> None:
    params = {"a": "1"}
    signed = {**params, "sign": _signing.sign(params, KEY).upper()}
    assert _signing.verify(signed, KEY)
    assert not _signing.verify(params, KEY)


_keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(
    lambda k: k != "sign"
)
_params = st.dictionaries(_keys, st.text(max_size=30), min_size=1, max_size=8)


@given(_params, st.text(min_size=1, max_size=40))
def test_any_unicode_round_trips(params: dict[str, str], key: str) -> None:
    signed = {**params, "sign": _signing.sign(params, key)}
    assert _signing.verify(signed, key)
    assert (
        signed["sign"] == hashlib.md5(_signing.canonical_string(params, key).encode()).hexdigest()
    )


@given(_params, st.text(min_size=1, max_size=40), st.data())
def test_any_change_breaks_the_sign(params: dict[str, str], key: str, data: st.DataObject) -> None:
    signed = {**params, "sign": _signing.sign(params, key)}
    target = data.draw(st.sampled_from(sorted(params)))
    change = data.draw(st.sampled_from(["value", "key", "sign", "partner_key"]))
    tampered = dict(signed)
    used_key = key
    if change == "value":
        tampered[target] = params[target] + "x"
    elif change == "key":
        tampered[target + "x"] = tampered.pop(target)
        if target + "x" in params:
            return  # renaming onto an existing key is not a distinct message
    elif change == "sign":
        tampered["sign"] = ("0" if signed["sign"][0] != "0" else "1") + signed["sign"][1:]
    else:
        used_key = key + "x"
    assert not _signing.verify(tampered, used_key)
