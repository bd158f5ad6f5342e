"""The OpenAPI wire reads forms exactly as the standard library's parser does."""

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


def test_a_scope_whose_server_is_a_list_is_answered() -> None:
    # ASGI lets a server give `server` as a list (Schemathesis' ASGI client does); the emulator
    # answered such a call with a 500
    import asyncio
    import json
    import time
    from urllib.parse import urlencode

    from baijiayun._signing import sign
    from baijiayun.emulator import Emulator, create_app

    async def call() -> dict[str, object]:
        sent: list[dict[str, object]] = []
        emulator = Emulator()
        account = emulator.create_account()
        room = emulator.create_room(account["partner_id"], title="第1讲")["room_id"]
        emulator.create_recording(room, status=100)
        params = {
            "partner_id": str(account["partner_id"]),
            "room_id": str(room),
            "timestamp": str(int(time.time())),
        }
        params["sign"] = sign(params, account["partner_key"])
        body = urlencode(params).encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/openapi/playback/getBasicInfo",
            "raw_path": b"/openapi/playback/getBasicInfo",
            "query_string": b"",
            "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
            "client": ["127.0.0.1", 5000],
            "server": ["127.0.0.1", 8000],
        }
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, object]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, object]) -> None:
            sent.append(message)

        with emulator:
            await create_app(emulator)(scope, receive, send)  # type: ignore[arg-type]
        start = next(m for m in sent if m["type"] == "http.response.start")
        reply = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")  # type: ignore[misc]
        return {"status": start["status"], **json.loads(reply)}

    answer = asyncio.run(call())
    assert answer["status"] == 200
    assert answer["code"] == 0
