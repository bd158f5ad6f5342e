"""VideoData, sync and async: exact wire params and sign, the window rule, PlayRecord, walkers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from baijiayun import (
    AsyncBaiJiaYunClient,
    BaiJiaYunClient,
    ClientType,
    DryRunRequest,
    InvalidArgumentError,
    PlayRecord,
    PlayRecordPage,
    ResponseDecodeError,
)
from baijiayun.client.api import AsyncVideoData, VideoData

from .sdk_helpers import BASE, KEY, PARTNER_ID, Recorder, wire
from .views_helpers import EXPORT, PLAY_RECORD, FakeVideoData, record

BJ = dt.timezone(dt.timedelta(hours=8))
ROOM = 26010100000001
EMPTY = {"total": 0, "list": []}


def _sync(handler: Any, **options: Any) -> BaiJiaYunClient:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    options.setdefault("rate_limit", None)
    return BaiJiaYunClient(PARTNER_ID, KEY, private_domain="e12345678", http_client=http, **options)


def _async(handler: Any) -> AsyncBaiJiaYunClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return AsyncBaiJiaYunClient(
        PARTNER_ID, KEY, private_domain="e12345678", http_client=http, rate_limit=None
    )


# (method, args, kwargs, path, wire params expected)
CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any], str, dict[str, str]]] = [
    (
        "get_playback_play_record",
        (ROOM, "2026-12-01 00:00:00", "2026-12-01 23:59:59"),
        {},
        PLAY_RECORD,
        {
            "room_id": str(ROOM),
            "start_time": "2026-12-01 00:00:00",
            "end_time": "2026-12-01 23:59:59",
            "page": "1",
            "page_size": "100",
        },
    ),
    (
        "get_playback_play_record",
        # naive = Beijing time; an aware UTC time is converted (16:30 UTC = 00:30 next day +08)
        (
            ROOM,
            dt.datetime(2026, 12, 2, 0, 0),
            dt.datetime(2026, 12, 1, 16, 30, tzinfo=dt.timezone.utc),
        ),
        {"session_id": 202612011, "page": 3, "page_size": 1000},
        PLAY_RECORD,
        {
            "room_id": str(ROOM),
            "session_id": "202612011",
            "start_time": "2026-12-02 00:00:00",
            "end_time": "2026-12-02 00:30:00",
            "page": "3",
            "page_size": "1000",
        },
    ),
    (
        "export_video_report_batch",
        (dt.datetime(2026, 12, 1, 8, 0, 0, 999), "2026-12-01 09:00:00"),
        {},
        EXPORT,
        {
            "start_time": "2026-12-01 08:00:00",
            "end_time": "2026-12-01 09:00:00",
            "page": "1",
            "page_size": "100",
        },
    ),
    (
        "export_video_report_batch",
        ("2026-12-01 08:00:00", "2026-12-01 09:00:00", 5, 2, 10),
        {},
        EXPORT,
        {
            "product_type": "5",
            "start_time": "2026-12-01 08:00:00",
            "end_time": "2026-12-01 09:00:00",
            "page": "2",
            "page_size": "10",
        },
    ),
]


@pytest.mark.parametrize(("method", "args", "kwargs", "path", "sent"), CALLS)
def test_sync_wire_params_and_sign(
    method: str, args: Any, kwargs: Any, path: str, sent: dict[str, str]
) -> None:
    recorder = Recorder({"total": 1, "list": [record(1, "2026-12-01 08:30:00")]})
    page = getattr(_sync(recorder.handler).video_data, method)(*args, **kwargs)
    assert str(recorder.requests[0].url) == BASE + path
    assert recorder.requests[0].method == "POST"
    assert wire(recorder.form) == sent
    assert isinstance(page, PlayRecordPage) and page.total == 1
    assert page.items[0].guid == f"{1:032x}"


@pytest.mark.anyio
@pytest.mark.parametrize(("method", "args", "kwargs", "path", "sent"), CALLS)
async def test_async_wire_params_and_sign(
    method: str, args: Any, kwargs: Any, path: str, sent: dict[str, str]
) -> None:
    recorder = Recorder(EMPTY)
    async with _async(recorder.async_handler) as client:
        page = await getattr(client.video_data, method)(*args, **kwargs)
    assert recorder.paths == [path]
    assert wire(recorder.form) == sent
    assert page.total == 0 and page.items == []


def test_product_type_zero_is_not_sent() -> None:
    recorder = Recorder(EMPTY)
    video_data = _sync(recorder.handler).video_data
    video_data.export_video_report_batch("2026-12-01 00:00:00", "2026-12-01 01:00:00", 0)
    video_data.export_video_report_batch("2026-12-01 00:00:00", "2026-12-01 01:00:00", None)
    assert [("product_type" in form) for form in recorder.forms] == [False, False]
    assert "product_type" not in recorder.requests[0].content.decode()


WINDOW_REFUSALS = [
    # crossing Beijing midnight
    (("2026-12-01 23:30:00", "2026-12-02 00:10:00"), "end_time", "may not cross a day"),
    # same UTC day, but 23:00 and 00:30 in Beijing
    (
        (
            dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.timezone.utc),
            dt.datetime(2026, 12, 1, 16, 30, tzinfo=dt.timezone.utc),
        ),
        "end_time",
        "2026-12-02 00:30:00 is not on the day of start_time 2026-12-01 23:00:00",
    ),
    (("2026-12-01 10:00:00", "2026-12-01 09:59:59"), "end_time", "before start_time"),
    (("2026-12-01", "2026-12-01 09:59:59"), "start_time", "YYYY-MM-DD HH:MM:SS"),
    ((dt.date(2026, 12, 1), "2026-12-01 09:59:59"), "start_time", "got date"),
    ((None, "2026-12-01 09:59:59"), "start_time", "required"),
]


@pytest.mark.parametrize(("times", "argument", "words"), WINDOW_REFUSALS)
@pytest.mark.parametrize("method", ["get_playback_play_record", "export_video_report_batch"])
def test_a_bad_window_is_refused_before_sending(
    method: str, times: tuple[Any, Any], argument: str, words: str
) -> None:
    recorder = Recorder(EMPTY)
    video_data = _sync(recorder.handler).video_data
    args = (ROOM, *times) if method == "get_playback_play_record" else times
    with pytest.raises(InvalidArgumentError) as caught:
        getattr(video_data, method)(*args)
    assert caught.value.argument == argument
    assert words in str(caught.value)
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("kwargs", "argument", "words"),
    [
        ({"page_size": 1001}, "page_size", "from 1 to 1000"),
        ({"page": 0}, "page", "from 1"),
    ],
)
def test_bad_pages_are_refused_before_sending(kwargs: Any, argument: str, words: str) -> None:
    recorder = Recorder(EMPTY)
    with pytest.raises(InvalidArgumentError) as caught:
        _sync(recorder.handler).video_data.get_playback_play_record(
            ROOM, "2026-12-01 00:00:00", "2026-12-01 01:00:00", **kwargs
        )
    assert (caught.value.argument, recorder.requests) == (argument, [])
    assert words in str(caught.value)


def test_export_refuses_product_type_outside_the_enum() -> None:
    recorder = Recorder(EMPTY)
    with pytest.raises(InvalidArgumentError, match="one of 1, 2, 3, 4, 5") as caught:
        _sync(recorder.handler).video_data.export_video_report_batch(
            "2026-12-01 00:00:00", "2026-12-01 01:00:00", 6
        )
    assert (caught.value.argument, recorder.requests) == ("product_type", [])


def test_play_record_tolerates_vod_records_and_keeps_new_fields() -> None:
    vod = record(7, "2026-12-01 08:00:00", room_id=None, brand_new_field="kept")
    playback = record(8, "2026-12-01 23:59:59", session_id=202612011, version=2)
    playback.update(user_number="", play_end_time=1796227200)  # unix seconds: 2026-12-03 00:00 +08
    page = PlayRecordPage.model_validate({"total": 2, "list": [vod, playback]})
    first, second = page.items
    assert (first.room_id, first.session_id, first.version) == (None, None, None)
    assert first.brand_new_field == "kept"  # type: ignore[attr-defined]
    assert first.user_number == "1007"  # numbers are kept as text
    assert first.play_begin_time == dt.datetime(2026, 12, 1, 8, 0, tzinfo=BJ)
    assert first.play_begin_time is not None and first.play_begin_time.utcoffset() == dt.timedelta(
        hours=8
    )
    assert first.client_type == ClientType.PC_WEB
    assert (second.room_id, second.session_id, second.version) == (ROOM, 202612011, 2)
    assert second.user_number is None
    assert second.play_end_time == dt.datetime(2026, 12, 3, 0, 0, tzinfo=BJ)
    assert second.play_end_time is not None and second.play_end_time.utcoffset() == dt.timedelta(
        hours=8
    )


def test_a_minimal_record_and_a_bare_list_are_accepted() -> None:
    page = PlayRecordPage.model_validate([{"guid": "g", "play_length": None}])
    assert page.items == [PlayRecord(guid="g")]
    assert page.items[0].play_length == 0 and page.items[0].client_type == 0


def test_a_record_without_guid_is_a_decode_error() -> None:
    recorder = Recorder({"total": 1, "list": [{"user_name": "x"}]})
    with pytest.raises(ResponseDecodeError, match=r"list\.0\.guid"):
        _sync(recorder.handler).video_data.export_video_report_batch(
            "2026-12-01 00:00:00", "2026-12-01 01:00:00"
        )


def test_walker_splits_the_span_at_beijing_midnight() -> None:
    fake = FakeVideoData(
        [
            record(1, "2026-11-30 23:29:59"),  # before since
            record(2, "2026-11-30 23:30:00"),
            record(3, "2026-12-01 00:00:00"),
            record(4, "2026-12-01 12:00:00", room_id=ROOM + 1),  # another room
            record(5, "2026-12-02 00:10:00"),
            record(6, "2026-12-02 00:10:01"),  # after until
        ]
    )
    video_data = _sync(fake.handler).video_data
    since = dt.datetime(2026, 11, 30, 23, 30, tzinfo=BJ)
    until = dt.datetime(2026, 12, 2, 0, 10)  # naive: Beijing time
    got = [r.guid for r in video_data.iter_playback_play_records(ROOM, since, until)]
    assert fake.windows == [
        ("2026-11-30 23:30:00", "2026-11-30 23:59:59"),
        ("2026-12-01 00:00:00", "2026-12-01 23:59:59"),
        ("2026-12-02 00:00:00", "2026-12-02 00:10:00"),
    ]
    assert got == [f"{n:032x}" for n in (2, 3, 5)]
    assert all(form["page_size"] == "1000" and form["page"] == "1" for _, form in fake.forms)


def test_account_walker_takes_dates_as_whole_days_and_converts_aware_times() -> None:
    fake = FakeVideoData([record(1, "2026-12-01 00:00:00"), record(2, "2026-12-02 23:59:59")])
    video_data = _sync(fake.handler).video_data
    got = list(video_data.iter_play_records(dt.date(2026, 12, 1), dt.date(2026, 12, 2)))
    assert [r.guid for r in got] == [f"{1:032x}", f"{2:032x}"]
    assert fake.windows == [
        ("2026-12-01 00:00:00", "2026-12-01 23:59:59"),
        ("2026-12-02 00:00:00", "2026-12-02 23:59:59"),
    ]
    assert [path for path, _ in fake.forms] == [EXPORT, EXPORT]
    assert all("product_type" not in form for _, form in fake.forms)
    fake.forms.clear()
    # 16:00 UTC is midnight in Beijing: one window of the next Beijing day
    start = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.timezone.utc)
    list(video_data.iter_play_records(start, start + dt.timedelta(hours=1), product_type=2))
    assert fake.windows == [("2026-12-02 00:00:00", "2026-12-02 01:00:00")]
    assert fake.forms[0][1]["product_type"] == "2"


def test_walker_text_bounds_and_a_second_fraction_rounds_inwards() -> None:
    fake = FakeVideoData([])
    video_data = _sync(fake.handler).video_data
    list(video_data.iter_play_records("2026-12-01", "2026-12-01 10:00:00"))
    list(
        video_data.iter_play_records(
            dt.datetime(2026, 12, 1, 9, 0, 0, 500), dt.datetime(2026, 12, 1, 9, 0, 5, 500)
        )
    )
    assert fake.windows == [
        ("2026-12-01 00:00:00", "2026-12-01 10:00:00"),
        ("2026-12-01 09:00:01", "2026-12-01 09:00:05"),
    ]


def test_walker_pages_each_day_until_the_total_and_reports_days() -> None:
    # plays of one video: only the guid tells them apart
    day1 = [record(n, f"2026-12-01 10:00:{n:02d}", video_id=777) for n in range(25)]
    day2 = [record(100 + n, "2026-12-02 10:00:00", video_id=777) for n in range(10)]
    fake = FakeVideoData(day1 + day2)
    done: list[dt.date] = []
    walker = _sync(fake.handler).video_data.iter_playback_play_records(
        ROOM,
        dt.date(2026, 12, 1),
        dt.date(2026, 12, 2),
        page_size=10,
        on_day=lambda w: done.append(w.day),
    )
    got = [r.guid for r in walker]
    assert len(got) == len(set(got)) == 35  # every play
    assert [(form["start_time"][:10], form["page"]) for _, form in fake.forms] == [
        ("2026-12-01", "1"),
        ("2026-12-01", "2"),
        ("2026-12-01", "3"),
        ("2026-12-02", "1"),  # 10 of 10 after one page: no empty page asked for
    ]
    assert done == [dt.date(2026, 12, 1), dt.date(2026, 12, 2)]


def test_walker_stops_on_repeats_and_on_an_empty_page() -> None:
    # a service that always answers the same page and claims a million records
    same = Recorder({"total": 1_000_000, "list": [record(1, "2026-12-01 10:00:00")]})
    got = list(
        _sync(same.handler).video_data.iter_play_records(dt.date(2026, 12, 1), dt.date(2026, 12, 1))
    )
    assert len(got) == 1 and len(same.requests) == 2
    # a service that claims more than it has: the empty page ends the day
    short = Recorder(
        {"total": 50, "list": [record(1, "2026-12-01 10:00:00")]}, {"total": 50, "list": []}
    )
    got = list(
        _sync(short.handler).video_data.iter_play_records(
            dt.date(2026, 12, 1), dt.date(2026, 12, 1), page_size=1
        )
    )
    assert len(got) == 1 and [f["page"] for f in short.forms] == ["1", "2"]


@pytest.mark.parametrize(
    ("since", "until", "argument", "words"),
    [
        (dt.date(2026, 12, 2), dt.date(2026, 12, 1), "until", "ends (2026-12-01 23:59:59) before"),
        ("yesterday", dt.date(2026, 12, 1), "since", "expected a date YYYY-MM-DD"),
        (dt.date(2026, 12, 1), 20261201, "until", "got int"),
    ],
)
def test_walker_refuses_a_bad_span_before_sending(
    since: Any, until: Any, argument: str, words: str
) -> None:
    recorder = Recorder(EMPTY)
    with pytest.raises(InvalidArgumentError) as caught:
        list(_sync(recorder.handler).video_data.iter_playback_play_records(ROOM, since, until))
    assert caught.value.argument == argument and words in str(caught.value)
    assert recorder.requests == []


@pytest.mark.anyio
async def test_async_walker_splits_days_like_the_sync_one() -> None:
    fake = FakeVideoData([record(1, "2026-11-30 23:45:00"), record(2, "2026-12-01 00:05:00")])
    async with _async(fake.handler) as client:
        got = [
            r.guid
            async for r in client.video_data.iter_play_records(
                "2026-11-30 23:30:00", "2026-12-01 00:10:00"
            )
        ]
    assert got == [f"{1:032x}", f"{2:032x}"]
    assert fake.windows == [
        ("2026-11-30 23:30:00", "2026-11-30 23:59:59"),
        ("2026-12-01 00:00:00", "2026-12-01 00:10:00"),
    ]


def test_dry_run_shows_the_first_day_call() -> None:
    recorder = Recorder(EMPTY)
    walker = _sync(recorder.handler, dry_run=True).video_data.iter_playback_play_records(
        ROOM, dt.date(2026, 12, 1), dt.date(2026, 12, 3)
    )
    with pytest.raises(DryRunRequest) as caught:
        next(iter(walker))
    assert caught.value.form["start_time"] == "2026-12-01 00:00:00"
    assert caught.value.form["end_time"] == "2026-12-01 23:59:59"
    assert recorder.requests == []


def test_seed_spelling_video_data_of_a_client() -> None:
    recorder = Recorder(EMPTY)
    client = _sync(recorder.handler)
    seed = VideoData(client)
    assert seed.client is client and client.video_data is client.video_data
    seed.get_playback_play_record(ROOM, "2026-12-01 00:00:00", "2026-12-01 00:00:00")
    assert wire(recorder.form)["end_time"] == "2026-12-01 00:00:00"
    assert repr(seed).startswith("VideoData(")
    assert isinstance(AsyncVideoData(_async(recorder.async_handler)).client, AsyncBaiJiaYunClient)
