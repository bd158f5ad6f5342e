"""The OpenAPI fast path reads forms exactly as the standard library's parser does."""

from __future__ import annotations

from urllib.parse import parse_qsl

from hypothesis import given
from hypothesis import strategies as st

from baijiayun.emulator.wire import form_fields

_FORM_TEXT = st.text(alphabet=st.sampled_from("ab=&+%20zé%C3%A9%ZZ \x00;"), max_size=40) | st.text(
    max_size=40
)


@given(_FORM_TEXT)
def test_form_fields_decode_like_parse_qsl(text: str) -> None:
    assert form_fields(text) == dict(parse_qsl(text, keep_blank_values=True))


def test_form_fields_of_a_signed_body() -> None:
    body = "partner_id=1&room_id=2&name=a+b%E4%B8%AD&flag&empty=&sign=x&room_id=3"
    assert form_fields(body) == {
        "partner_id": "1",
        "room_id": "3",
        "name": "a b中",
        "flag": "",
        "empty": "",
        "sign": "x",
    }
