"""Contract A: build_request and dry_run build exactly the real request and send nothing."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from baijiayun import AsyncBaiJiaYunClient, BaiJiaYunClient, DryRunRequest, errors
from baijiayun._endpoints import GET_BASIC_INFO, UPDATE

from .sdk_helpers import BASE, KEY, PARTNER_ID, Recorder, wire


def _form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.read().decode(), keep_blank_values=True))


def _sync(recorder: Recorder, **options: Any) -> BaiJiaYunClient:
    http = httpx.Client(transport=httpx.MockTransport(recorder.handler))
    options.setdefault("partner_key", KEY)
    return BaiJiaYunClient(PARTNER_ID, base_url=BASE, http_client=http, **options)


def test_build_request_is_the_signed_request_a_call_sends() -> None:
    recorder = Recorder()
    client = _sync(recorder)
    request = client.build_request(UPDATE, {"room_id": 7, "name": "第1讲"})
    assert request.method == "POST"
    assert str(request.url) == BASE + "/openapi/playback/update"
    assert wire(_form(request)) == {"room_id": "7", "name": "第1讲"}
    client.playback.update(7, "第1讲")
    assert wire(recorder.form) == wire(_form(request))
    assert recorder.requests[0].url == request.url


def test_build_request_refuses_bad_arguments_naming_them() -> None:
    client = _sync(Recorder())
    with pytest.raises(errors.InvalidArgumentError) as caught:
        client.build_request(GET_BASIC_INFO, {"room_id": 0})
    assert caught.value.argument == "room_id"


def test_dry_run_sends_nothing_and_masks_the_secrets() -> None:
    recorder = Recorder()
    client = _sync(recorder, dry_run=True)
    with pytest.raises(DryRunRequest) as caught:
        client.playback.get_basic_info(17110879095169, 2)
    dry = caught.value
    assert isinstance(dry, errors.BaiJiaYunError)
    assert recorder.requests == []
    assert dry.form["sign"] == "***"
    assert {k: v for k, v in dry.form.items() if k not in ("sign", "timestamp")} == {
        "room_id": "17110879095169",
        "session_id": "2",
        "partner_id": str(PARTNER_ID),
    }
    wire(_form(dry.request))  # the request itself carries the real sign
    assert KEY not in str(dry)


def test_dry_run_validates_like_a_call() -> None:
    client = _sync(Recorder(), dry_run=True)
    with pytest.raises(errors.InvalidArgumentError) as caught:
        client.playback.set_publish_status(1, 3)
    assert caught.value.argument == "status"


def test_dry_run_with_only_a_secret_key_fetches_nothing() -> None:
    recorder = Recorder()
    client = _sync(recorder, partner_key=None, secret_key="s3cret", dry_run=True)
    with pytest.raises(DryRunRequest) as caught:
        client.playback.delete(5)
    assert recorder.requests == []
    assert caught.value.form["sign"] == "***"
    with pytest.raises(DryRunRequest) as key_call:
        client.fetch_partner_key()
    assert key_call.value.form["secret_key"] == "***"
    assert "s3cret" not in str(key_call.value.form)


def test_dry_run_paging_and_batches_raise_on_the_first_request() -> None:
    client = _sync(Recorder(), dry_run=True)
    with pytest.raises(DryRunRequest) as page:
        next(client.playback.iter_list(page_size=50))
    assert page.value.form["page"] == "1"
    ids = [10**13 + i for i in range(150)]
    with pytest.raises(DryRunRequest) as batch:
        client.playback.get_player_token_batch(ids, 60)
    assert batch.value.form["room_ids"].split(",") == [str(i) for i in ids[:100]]


@pytest.mark.anyio
async def test_async_dry_run_and_build_request() -> None:
    recorder = Recorder()
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder.async_handler))
    client = AsyncBaiJiaYunClient(PARTNER_ID, KEY, base_url=BASE, http_client=http, dry_run=True)
    request = client.build_request(GET_BASIC_INFO, {"room_id": 3})
    assert wire(_form(request)) == {"room_id": "3"}
    with pytest.raises(DryRunRequest) as caught:
        await client.playback.get_basic_info(3)
    assert recorder.requests == []
    assert caught.value.form["room_id"] == "3"
    with pytest.raises(DryRunRequest):
        async for _ in client.playback.iter_crop_list(3):
            pass
