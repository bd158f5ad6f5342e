"""Every PlayBack method, sync and async, through httpx.MockTransport: exact form, sign, result."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import httpx
import pytest

import baijiayun
from baijiayun import AsyncBaiJiaYunClient, BaiJiaYunClient, errors, models

from .sdk_helpers import BASE, KEY, PARTNER_ID, Recorder, envelope, wire

ITEM = {
    "playback_id": 88001,
    "room_id": "17110879095169",
    "session_id": 0,
    "video_id": 153582,
    "name": "第1讲",
    "status": 100,
    "create_time": "2023-11-14 22:13:20",
    "length": 3600,
    "total_transcode_size": 3072000,
    "play_times": 12,
    "play_url": "https://x/p",
    "preface_url": "https://x/c.jpg",
    "publish_status": 1,
    "version": 0,
    "brand_new_field": "kept",
}
INFO = {
    "video_id": 153582,
    "status": 100,
    "name": "第1讲",
    "length": 3600,
    "total_size": 1024000,
    "total_transcode_size": 3072000,
    "total_ext_media_size": 0,
    "preface_url": "https://img/c.jpg",
    "publish_status": 1,
    "create_time": 1700000000,
}

# (method, args, kwargs, wire params expected, data answered, check of the result)
CASES: list[tuple[str, tuple[Any, ...], dict[str, Any], dict[str, str], Any, Any]] = [
    (
        "get_basic_info",
        (17110879095169,),
        {},
        {"room_id": "17110879095169"},
        INFO,
        lambda r: (
            isinstance(r, models.PlaybackInfo)
            and r.video_id == 153582
            and r.is_ready
            and r.create_time == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.timezone.utc)
        ),
    ),
    (
        "get_basic_info",
        (17110879095169, 201711281),
        {},
        {"room_id": "17110879095169", "session_id": "201711281"},
        {"status": 20},
        lambda r: r.status == 20 and r.video_id is None and not r.is_ready,
    ),
    (
        "get_list",
        (1, 1, 20),
        {},
        {"product_type": "1", "page": "1", "page_size": "20", "crop_video": "0"},
        {"total": 1, "list": [ITEM]},
        lambda r: (
            r.total == 1
            and r.items[0].room_id == 17110879095169
            and r.items[0].brand_new_field == "kept"
            and r.items[0].create_time.utcoffset() == dt.timedelta(hours=8)
        ),
    ),
    (
        "get_list",
        (None, 2, 50),
        {"crop_video": 1, "room_id": 5},
        {"page": "2", "page_size": "50", "crop_video": "1", "room_id": "5"},
        {"total": 0, "list": []},
        lambda r: r.total == 0 and r.items == [],
    ),
    (
        "get_player_token",
        (17110879095169, 3600, 201711281),
        {},
        {"room_id": "17110879095169", "expires_in": "3600", "session_id": "201711281"},
        {"token": "tok"},
        lambda r: r == models.PlayerToken(token="tok"),
    ),
    (
        "get_player_token_batch",
        ("17110879095169,17110879095170-201711281", 0),
        {},
        {"room_ids": "17110879095169,17110879095170-201711281", "expires_in": "0"},
        {"17110879095169": "a", "17110879095170-201711281": "b"},
        lambda r: r == {"17110879095169": "a", "17110879095170-201711281": "b"},
    ),
    (
        "get_player_token_batch",
        ([17110879095169, (17110879095170, 201711281)], 0),
        {},
        {"room_ids": "17110879095169,17110879095170-201711281", "expires_in": "0"},
        [
            {"room_id": 17110879095169, "token": "a"},
            {"room_id": 17110879095170, "session_id": 201711281, "token": "b"},
        ],
        lambda r: r == {"17110879095169": "a", "17110879095170-201711281": "b"},
    ),
    (
        "get_session_list",
        (17110879095169,),
        {},
        {"room_id": "17110879095169"},
        {
            "list": [
                {
                    "session_id": 201711281,
                    "name": "a",
                    "status": 100,
                    "create_time": "2017-11-28 10:00:00",
                }
            ]
        },
        lambda r: [s.session_id for s in r.items] == [201711281],
    ),
    (
        "get_session_list",
        (17110879095169,),
        {},
        {"room_id": "17110879095169"},
        [{"session_id": 1}],
        lambda r: [s.session_id for s in r.items] == [1],
    ),
    (
        "set_publish_status",
        (17110879095169, 2),
        {},
        {"room_id": "17110879095169", "status": "2"},
        {"status": 2},
        lambda r: r.status == models.PublishStatus.BLOCKED,
    ),
    (
        "delete",
        (17110879095169,),
        {"version": 2},
        {"room_id": "17110879095169", "version": "2"},
        None,
        lambda r: r is None,
    ),
    (
        "update",
        (17110879095169, "第1讲 回放"),
        {},
        {"room_id": "17110879095169", "name": "第1讲 回放"},
        None,
        lambda r: r is None,
    ),
    (
        "get_crop_list",
        (17110879095169,),
        {},
        {"room_id": "17110879095169", "page": "1", "page_size": "100"},
        {"total": 2, "list": [{**ITEM, "is_main": 1}, {**ITEM, "version": 1, "is_main": 0}]},
        lambda r: [(i.version, i.is_main) for i in r.items] == [(0, True), (1, False)],
    ),
    (
        "get_crop_list",
        (17110879095169, 2, 201711281, 3, 10),
        {},
        {
            "room_id": "17110879095169",
            "product_type": "2",
            "session_id": "201711281",
            "page": "3",
            "page_size": "10",
        },
        {"total": 0, "list": []},
        lambda r: r.total == 0,
    ),
    (
        "set_main_version",
        (17110879095169, 1),
        {"session_id": 201711281},
        {"room_id": "17110879095169", "version": "1", "session_id": "201711281"},
        None,
        lambda r: r is None,
    ),
    (
        "get_playback_ppt_url_list",
        (17110879095169, dt.date(2026, 11, 25)),
        {},
        {"room_id": "17110879095169", "date": "2026-11-25"},
        {
            "list": [
                {"session_id": 1, "date": "2026-11-25", "name": "a.pdf", "url": "https://d/a.pdf"}
            ]
        },
        lambda r: r.items[0].url == "https://d/a.pdf" and r.items[0].session_id == 1,
    ),
    (
        "get_playback_ppt_url",
        (17110879095169,),
        {},
        {"room_id": "17110879095169"},
        {"list": [{"name": "a.pdf", "url": "https://d/a.pdf"}]},
        lambda r: r.items[0].name == "a.pdf",
    ),
    (
        "replace_playback",
        (1, 111, 222),
        {"source_version": 1, "is_replace_main": True, "target_session_id": 3},
        {
            "type": "1",
            "source_room_id": "111",
            "target_room_id": "222",
            "source_version": "1",
            "is_replace_main": "1",
            "target_session_id": "3",
        },
        None,
        lambda r: r is None,
    ),
]


def _sync(recorder: Recorder, **options: Any) -> BaiJiaYunClient:
    http = httpx.Client(transport=httpx.MockTransport(recorder.handler))
    options.setdefault("rate_limit", None)
    return BaiJiaYunClient(
        PARTNER_ID, options.pop("key", KEY), private_domain="e12345678", http_client=http, **options
    )


def _async(recorder: Recorder, **options: Any) -> AsyncBaiJiaYunClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder.async_handler))
    options.setdefault("rate_limit", None)
    return AsyncBaiJiaYunClient(
        PARTNER_ID, options.pop("key", KEY), private_domain="e12345678", http_client=http, **options
    )


@pytest.mark.parametrize(("method", "args", "kwargs", "sent", "data", "check"), CASES)
def test_sync_method_wire_and_result(
    method: str, args: Any, kwargs: Any, sent: Any, data: Any, check: Any
) -> None:
    recorder = Recorder(data)
    result = getattr(_sync(recorder).playback, method)(*args, **kwargs)
    assert recorder.requests[0].method == "POST"
    assert recorder.requests[0].headers["content-type"] == "application/x-www-form-urlencoded"
    assert str(recorder.requests[0].url).startswith(BASE + "/openapi/playback/")
    assert wire(recorder.form) == sent
    assert check(result)


@pytest.mark.anyio
@pytest.mark.parametrize(("method", "args", "kwargs", "sent", "data", "check"), CASES)
async def test_async_method_wire_and_result(
    method: str, args: Any, kwargs: Any, sent: Any, data: Any, check: Any
) -> None:
    recorder = Recorder(data)
    async with _async(recorder) as client:
        result = await getattr(client.playback, method)(*args, **kwargs)
    assert wire(recorder.form) == sent
    assert check(result)


def test_paths_follow_the_protocol() -> None:
    recorder = Recorder({"status": 0}, {"token": "t"})
    pb = _sync(recorder).playback
    pb.get_basic_info(1)
    pb.get_player_token(1, 0)
    assert recorder.paths == ["/openapi/playback/getBasicInfo", "/openapi/playback/getPlayerToken"]


def test_get_list_never_sends_the_placeholder_room() -> None:
    recorder = Recorder({"total": 0, "list": []})
    _sync(recorder).playback.get_list(1, 1, 20)
    assert "room_id" not in recorder.form
    assert "room_id=" not in recorder.requests[0].content.decode()


def test_get_crop_list_never_sends_product_type_zero() -> None:
    recorder = Recorder({"total": 0, "list": []})
    _sync(recorder).playback.get_crop_list(1)
    assert "product_type" not in recorder.form


BAD_CALLS = [
    ("get_list", (1, 0, 20), "page", "got 0; expected an integer from 1 to 9223372036854775807"),
    (
        "get_basic_info",
        (2**63,),
        "room_id",
        f"got {2**63}; expected an integer from 1 to {2**63 - 1}",
    ),
    ("get_basic_info", (7, -1), "session_id", "an integer from 0 to 9223372036854775807"),
    ("get_list", (1, 1, 1001), "page_size", "from 1 to 1000"),
    ("get_list", (5, 1, 10), "product_type", "one of 1, 2, 3, 4"),
    ("get_list", (1, 1, 10, 2), "crop_video", "one of 0, 1"),
    ("set_publish_status", (1, 3), "status", "one of 1, 2"),
    ("replace_playback", (3, 1, 2), "type", "one of 1, 2"),
    ("get_player_token", (1, -1), "expires_in", "from 0 to 9223372036854775807"),
    ("get_player_token", ("1711087909516x", 0), "room_id", "an integer"),
    ("get_player_token_batch", ("1,abc", 0), "room_ids", "abc"),
    ("get_player_token_batch", ([], 0), "room_ids", "at least one"),
    ("get_playback_ppt_url_list", (1, "25/11/2026"), "date", "YYYY-MM-DD"),
    ("update", (1, "   "), "name", "non-empty"),
    ("get_basic_info", (None,), "room_id", "required"),
    ("get_basic_info", ([1, 2],), "room_id", "list"),
    ("get_basic_info", (1.5,), "room_id", "float"),
]


@pytest.mark.parametrize(("method", "args", "argument", "words"), BAD_CALLS)
def test_bad_arguments_are_refused_before_sending(
    method: str, args: Any, argument: str, words: str
) -> None:
    recorder = Recorder()
    with pytest.raises(errors.InvalidArgumentError) as caught:
        getattr(_sync(recorder).playback, method)(*args)
    assert caught.value.argument == argument
    assert words in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert recorder.requests == []


def test_digit_strings_are_accepted_for_integers() -> None:
    recorder = Recorder({"token": "t"})
    _sync(recorder).playback.get_player_token("17110879095169", 0)
    assert recorder.form["room_id"] == "17110879095169"


def test_booleans_become_0_and_1() -> None:
    recorder = Recorder({"total": 0, "list": []})
    _sync(recorder).playback.get_list(1, 1, 10, crop_video=True)
    assert recorder.form["crop_video"] == "1"


def test_batch_of_250_ids_is_split_into_three_calls_and_merged() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        ids = dict(httpx.QueryParams(request.content.decode()))["room_ids"].split(",")
        return envelope({i: f"t{i}" for i in ids})

    recorder = Recorder(answer)
    ids = [*range(10_000_000_000_001, 10_000_000_000_251), 10_000_000_000_001]
    tokens = _sync(recorder).playback.get_player_token_batch(ids, 60)
    sizes = [len(f["room_ids"].split(",")) for f in recorder.forms]
    assert sizes == [100, 100, 50]
    assert len(tokens) == 250
    assert tokens["10000000000250"] == "t10000000000250"


CODES = [
    (1001, errors.ParameterError),
    (1002, errors.SignatureError),
    (2001, errors.AccountNotFoundError),
    (2002, errors.PermissionDeniedError),
    (2003, errors.AccountDisabledError),
    (3001, errors.RoomNotFoundError),
    (3002, errors.RoomDeletedError),
    (404, errors.PathNotFoundError),
    (429, errors.RateLimitError),
    (1, errors.APIError),
    (9999, errors.APIError),
]


@pytest.mark.parametrize(("code", "cls"), CODES)
def test_each_code_raises_its_class(code: int, cls: type[errors.APIError]) -> None:
    recorder = Recorder(envelope(code=code, msg="服务端信息"))
    with pytest.raises(cls) as caught:
        _sync(recorder, max_retries=0).playback.get_basic_info(1)
    error = caught.value
    assert type(error) is cls
    assert (error.code, error.msg, error.endpoint) == (
        code,
        "服务端信息",
        "/openapi/playback/getBasicInfo",
    )
    assert "服务端信息" in str(error) and str(code) in str(error)
    assert isinstance(error, baijiayun.BaiJiaYunError)


def test_code_1_about_frequency_is_a_rate_limit() -> None:
    with pytest.raises(errors.RateLimitError):
        _sync(
            Recorder(envelope(code=1, msg="请求过于频繁")), max_retries=0
        ).playback.get_basic_info(1)


@pytest.mark.parametrize(
    ("reply", "cls"),
    [
        (httpx.Response(502, text="bad gateway"), errors.APIStatusError),
        (httpx.Response(429, text="slow down"), errors.RateLimitError),
        (httpx.Response(200, text="<html>"), errors.ResponseDecodeError),
        (httpx.Response(200, json={"no": "code"}), errors.ResponseDecodeError),
        (envelope({"unexpected": True}), errors.ResponseDecodeError),
        (httpx.ConnectError("refused"), errors.APIConnectionError),
        (httpx.ReadTimeout("slow"), errors.APITimeoutError),
    ],
)
def test_transport_and_decoding_failures(reply: Any, cls: type[Exception]) -> None:
    with pytest.raises(cls):
        _sync(Recorder(reply), max_retries=0).playback.get_player_token(1, 0)


def test_secret_key_fetches_partner_key_once_under_concurrency() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/openapi/partner/createkey":
            return envelope({"partner_key": KEY})
        return envelope({"status": 0})

    recorder = Recorder(answer)
    http = httpx.Client(transport=httpx.MockTransport(recorder.handler))
    client = BaiJiaYunClient(
        PARTNER_ID, secret_key="s3cret", base_url=BASE, http_client=http, rate_limit=None
    )
    threads = [threading.Thread(target=client.playback.get_basic_info, args=(1,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert recorder.paths.count("/openapi/partner/createkey") == 1
    key_form = recorder.forms[recorder.paths.index("/openapi/partner/createkey")]
    assert set(key_form) == {"partner_id", "secret_key", "regenerate", "timestamp"}
    assert key_form["regenerate"] == "0"
    for form in (
        f for p, f in zip(recorder.paths, recorder.forms, strict=True) if p.endswith("getBasicInfo")
    ):
        wire(form)


@pytest.mark.anyio
async def test_async_secret_key_fetches_partner_key_once_under_concurrency() -> None:
    import asyncio

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/openapi/partner/createkey":
            return envelope({"partner_key": KEY})
        return envelope({"status": 0})

    recorder = Recorder(answer)
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder.async_handler))
    async with AsyncBaiJiaYunClient(
        PARTNER_ID, secret_key="s3cret", base_url=BASE, http_client=http, rate_limit=None
    ) as client:
        await asyncio.gather(*(client.playback.get_basic_info(1) for _ in range(8)))
    assert recorder.paths.count("/openapi/partner/createkey") == 1
    assert recorder.paths.count("/openapi/playback/getBasicInfo") == 8


def test_signature_error_refetches_the_key_once() -> None:
    keys = iter(["old-key", KEY])

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("createkey"):
            return envelope({"partner_key": next(keys)})
        form = dict(httpx.QueryParams(request.content.decode()))
        from .sdk_helpers import independent_sign

        if form["sign"] != independent_sign(form, KEY):
            return envelope(code=1002, msg="签名错误")
        return envelope({"status": 100})

    recorder = Recorder(answer)
    http = httpx.Client(transport=httpx.MockTransport(recorder.handler))
    client = BaiJiaYunClient(
        PARTNER_ID, secret_key="s", base_url=BASE, http_client=http, rate_limit=None
    )
    assert client.playback.get_basic_info(1).status == 100
    assert [p.rsplit("/", 1)[-1] for p in recorder.paths] == [
        "createkey",
        "getBasicInfo",
        "createkey",
        "getBasicInfo",
    ]


def test_signature_error_without_secret_is_raised_at_once() -> None:
    recorder = Recorder(envelope(code=1002, msg="签名错误"))
    with pytest.raises(errors.SignatureError):
        _sync(recorder).playback.get_basic_info(1)
    assert len(recorder.requests) == 1


def test_configuration_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAIJIAYUN_PARTNER_ID", "42")
    monkeypatch.setenv("BAIJIAYUN_PARTNER_KEY", "k")
    monkeypatch.setenv("BAIJIAYUN_PRIVATE_DOMAIN", "e42")
    monkeypatch.delenv("BAIJIAYUN_BASE_URL", raising=False)
    with BaiJiaYunClient() as client:
        assert (client.partner_id, client.base_url) == (42, "https://e42.at.baijiayun.com")
    monkeypatch.setenv("BAIJIAYUN_BASE_URL", "http://127.0.0.1:8000/")
    with BaiJiaYunClient() as client:
        assert client.base_url == "http://127.0.0.1:8000"


def test_trust_env_false_reads_no_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from baijiayun import config

    monkeypatch.setenv("BAIJIAYUN_PARTNER_ID", "42")
    monkeypatch.setenv("BAIJIAYUN_PARTNER_KEY", "k")
    monkeypatch.setenv("BAIJIAYUN_BASE_URL", "http://127.0.0.1:8000/")
    monkeypatch.setenv("BAIJIAYUN_SECRET_KEY", "")  # set empty: unset
    assert config.from_environment(names=config.CLIENT_SETTINGS) == {
        "partner_id": "42",
        "partner_key": "k",
        "base_url": "http://127.0.0.1:8000/",
    }
    # the environment's base_url no longer beats a private_domain given as an argument
    with BaiJiaYunClient(7, "own", private_domain="e7", trust_env=False) as client:
        assert (client.partner_id, client.base_url) == (7, "https://e7.at.baijiayun.com")
    with BaiJiaYunClient(7, "own", private_domain="e7") as client:
        assert client.base_url == "http://127.0.0.1:8000"
    with pytest.raises(errors.InvalidArgumentError) as caught:
        BaiJiaYunClient(partner_key="k", base_url="http://x", trust_env=False)
    assert caught.value.argument == "partner_id"


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"partner_key": "k", "private_domain": "e1"}, "partner_id"),
        ({"partner_id": 1, "private_domain": "e1"}, "partner_key"),
        ({"partner_id": 1, "partner_key": "k"}, "private_domain"),
        ({"partner_id": 1, "partner_key": "k", "base_url": "ftp://x"}, "base_url"),
        # malformed: refused when the client is built, not by httpx at the first call
        ({"partner_id": 1, "partner_key": "k", "base_url": "http://[::1"}, "base_url"),
        ({"partner_id": 1, "partner_key": "k", "base_url": "http://a\x00b/"}, "base_url"),
        ({"partner_id": 1, "partner_key": "k", "base_url": "http:///openapi"}, "base_url"),
    ],
)
def test_missing_configuration_names_the_argument(
    monkeypatch: pytest.MonkeyPatch, kwargs: dict[str, Any], argument: str
) -> None:
    for name in ("ID", "KEY", "PRIVATE_DOMAIN", "BASE_URL", "SECRET_KEY"):
        monkeypatch.delenv(f"BAIJIAYUN_{name}", raising=False)
    with pytest.raises(errors.InvalidArgumentError) as caught:
        BaiJiaYunClient(**kwargs)
    assert caught.value.argument == argument


def test_playback_without_client_reads_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAIJIAYUN_PARTNER_ID", "7")
    monkeypatch.setenv("BAIJIAYUN_PARTNER_KEY", "k")
    monkeypatch.setenv("BAIJIAYUN_BASE_URL", "http://127.0.0.1:9")
    with baijiayun.PlayBack() as pb:
        assert pb.client.partner_id == 7
    with pytest.raises(errors.APIConnectionError, match="closed"):
        pb.get_basic_info(1)  # the client it built was closed with it


def test_playback_leaves_a_given_client_open() -> None:
    recorder = Recorder({"status": 0})
    client = _sync(recorder)
    with baijiayun.PlayBack(client) as pb:
        assert pb is not client.playback
    assert client.playback is client.playback  # built once per client
    assert client.playback.get_basic_info(1).status == 0


def test_clients_share_nothing() -> None:
    first, second = Recorder({"status": 1}), Recorder({"status": 2})
    a, b = _sync(first), _sync(second)
    assert (a.playback.get_basic_info(1).status, b.playback.get_basic_info(1).status) == (1, 2)
    assert len(first.requests) == len(second.requests) == 1
    c, d = BaiJiaYunClient(1, "k", base_url=BASE), BaiJiaYunClient(1, "k", base_url=BASE)
    assert c.rate_governor is not d.rate_governor
    c.close()
    d.close()


def test_close_only_closes_what_it_owns() -> None:
    http = httpx.Client(transport=httpx.MockTransport(Recorder().handler))
    with BaiJiaYunClient(1, "k", base_url=BASE, http_client=http):
        pass
    assert not http.is_closed
    with BaiJiaYunClient(1, "k", base_url=BASE, http_client=http, owns_http_client=True):
        pass
    assert http.is_closed
    owned = BaiJiaYunClient(1, "k", base_url=BASE)
    owned.close()
    with pytest.raises(errors.APIConnectionError, match="closed"):
        owned.playback.get_basic_info(1)


def test_iter_list_pages_until_total() -> None:
    pages = [
        {"total": 5, "list": [{**ITEM, "playback_id": i} for i in range(2)]},
        {"total": 5, "list": [{**ITEM, "playback_id": i} for i in range(2, 4)]},
        {"total": 5, "list": [{**ITEM, "playback_id": 4}]},
    ]
    recorder = Recorder(*pages)
    ids = [i.playback_id for i in _sync(recorder).playback.iter_list(page_size=2)]
    assert ids == [0, 1, 2, 3, 4]
    assert [f["page"] for f in recorder.forms] == ["1", "2", "3"]


@pytest.mark.anyio
async def test_async_iter_crop_list() -> None:
    recorder = Recorder(
        {"total": 3, "list": [{**ITEM, "version": 0}, {**ITEM, "version": 1}]},
        {"total": 3, "list": [{**ITEM, "version": 2}]},
    )
    async with _async(recorder) as client:
        versions = [i.version async for i in client.playback.iter_crop_list(1, page_size=2)]
    assert versions == [0, 1, 2]


def test_player_url() -> None:
    pb = _sync(Recorder()).playback
    assert pb.player_url(17110879095169, "tok") == (
        f"{BASE}/web/playback/index?classid=17110879095169&token=tok"
    )
    assert baijiayun.player_url(
        BASE + "/", 1, "t k", 201711281, user_number=5, user_name="张三"
    ) == (
        f"{BASE}/web/playback/index?classid=1&session_id=201711281&token=t+k&user_number=5"
        "&user_name=%E5%BC%A0%E4%B8%89"
    )


def test_wrong_secret_key_fails_after_one_createkey_call() -> None:
    recorder = Recorder(envelope(code=1002, msg="secret_key 错误"))
    http = httpx.Client(transport=httpx.MockTransport(recorder.handler))
    client = BaiJiaYunClient(
        PARTNER_ID, secret_key="bad", base_url=BASE, http_client=http, rate_limit=None
    )
    with pytest.raises(errors.SignatureError):
        client.playback.get_basic_info(1)
    assert recorder.paths == ["/openapi/partner/createkey"]


def test_with_options_shares_key_and_connections_and_closes_nothing() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("createkey"):
            return envelope({"partner_key": KEY})
        return envelope({"status": 100})

    recorder = Recorder(answer)
    http = httpx.Client(transport=httpx.MockTransport(recorder.handler))
    client = BaiJiaYunClient(
        PARTNER_ID, secret_key="s3cret", base_url=BASE, http_client=http, rate_limit=None
    )
    with client.with_options(timeout=5, max_retries=0) as quick:
        assert quick.playback.get_basic_info(1).status == 100
        assert (quick.timeout, quick.max_retries) == (5.0, 0)
    assert (client.timeout, client.max_retries) == (30.0, 2)
    assert client.playback.get_basic_info(1).status == 100  # still open, key already known
    assert recorder.paths.count("/openapi/partner/createkey") == 1
    with pytest.raises(errors.InvalidArgumentError) as caught:
        client.with_options(timeout=0)
    assert caught.value.argument == "timeout"


@pytest.mark.anyio
async def test_async_playback_owns_the_client_it_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAIJIAYUN_PARTNER_ID", "7")
    monkeypatch.setenv("BAIJIAYUN_PARTNER_KEY", "k")
    monkeypatch.setenv("BAIJIAYUN_BASE_URL", "http://127.0.0.1:9")
    async with baijiayun.AsyncPlayBack() as pb:
        assert pb.client.partner_id == 7
    with pytest.raises(errors.APIConnectionError, match="closed"):
        await pb.get_basic_info(1)
