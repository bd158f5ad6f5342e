"""No log record, exception text or repr ever holds the partner_key, the secret_key or a sign."""

from __future__ import annotations

import logging

import httpx
import pytest

from baijiayun import BaiJiaYunClient, RetryPolicy, errors

from .sdk_helpers import BASE, PARTNER_ID, Recorder, envelope

PARTNER_KEY = "PK-very-secret-partner-key+/=="
SECRET_KEY = "SK-very-secret-console-secret"


def test_full_sequence_leaks_nothing(caplog: pytest.LogCaptureFixture) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("createkey"):
            return envelope({"partner_key": PARTNER_KEY})
        if path.endswith("getBasicInfo"):
            return envelope(code=1002, msg="签名错误")
        if path.endswith("delete"):
            raise httpx.ReadTimeout("slow")
        if path.endswith("update"):
            return httpx.Response(500, text="oops")
        return envelope({"token": "t"})

    recorder = Recorder(answer)
    http = httpx.Client(transport=httpx.MockTransport(recorder.handler))
    texts: list[str] = []
    caplog.set_level(logging.DEBUG)
    with BaiJiaYunClient(
        PARTNER_ID,
        secret_key=SECRET_KEY,
        base_url=BASE,
        http_client=http,
        retry_policy=RetryPolicy(0, 0),
        rate_limit=None,
    ) as client:
        texts.append(repr(client))
        texts.append(repr(client.playback))
        client.playback.get_player_token(1, 0)
        for call in (
            lambda: client.playback.get_basic_info(1),
            lambda: client.playback.delete(1),
            lambda: client.playback.update(1, "x"),
        ):
            with pytest.raises(errors.BaiJiaYunError) as caught:
                call()
            texts += [str(caught.value), repr(caught.value)]
    signs = [form["sign"] for form in recorder.forms if "sign" in form]
    assert signs, "the sequence must have produced signed requests"
    records = [r.getMessage() for r in caplog.records if r.name.startswith("baijiayun")]
    assert any("attempt=" in r and "elapsed_ms=" in r for r in records)
    everything = "\n".join(texts + records + [str(r.args) for r in caplog.records])
    for secret in (PARTNER_KEY, SECRET_KEY, *signs):
        assert secret not in everything


def test_one_debug_line_per_attempt(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder(httpx.ConnectError("refused"), {"status": 100})
    http = httpx.Client(transport=httpx.MockTransport(recorder.handler))
    caplog.set_level(logging.DEBUG, logger="baijiayun")
    with BaiJiaYunClient(
        PARTNER_ID, "k", base_url=BASE, http_client=http, retry_policy=RetryPolicy(0, 0)
    ) as c:
        c.playback.get_basic_info(1)
    lines = [r.getMessage() for r in caplog.records if r.name == "baijiayun"]
    assert len(lines) == 3
    assert lines[0].startswith("/openapi/playback/getBasicInfo attempt=1 code=APIConnectionError")
    assert lines[1] == "/openapi/playback/getBasicInfo waiting 0.00 s (backoff)"
    assert lines[2].startswith("/openapi/playback/getBasicInfo attempt=2 code=0 elapsed_ms=")


def test_a_refused_secret_key_is_described_never_shown() -> None:
    secret = "SK-very-secret-" + "x" * 200  # longer than the 128 characters allowed
    http = httpx.Client(transport=httpx.MockTransport(Recorder().handler))
    with (
        BaiJiaYunClient(
            PARTNER_ID, secret_key=secret, base_url=BASE, http_client=http, rate_limit=None
        ) as client,
        pytest.raises(errors.InvalidArgumentError) as caught,
    ):
        client.playback.get_basic_info(1)
    assert caught.value.argument == "secret_key"
    assert "SK-very-secret" not in str(caught.value)
    assert caught.value.problem.startswith("got a value of 215 characters; expected")
