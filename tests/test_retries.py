"""Retries: what is re-sent, how often, with which delays (the governor: test_ratelimit.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from baijiayun import AsyncBaiJiaYunClient, BaiJiaYunClient, RetryPolicy, errors

from .sdk_helpers import BASE, KEY, PARTNER_ID, FakeClock, Recorder, envelope

NO_WAIT = RetryPolicy(initial_delay=0.0, max_delay=0.0)


def _client(recorder: Recorder, clock: FakeClock | None = None, **options: Any) -> BaiJiaYunClient:
    http = httpx.Client(transport=httpx.MockTransport(recorder.handler))
    clock = clock or FakeClock()
    options.setdefault("retry_policy", NO_WAIT)
    options.setdefault("rate_limit", None)
    return BaiJiaYunClient(
        PARTNER_ID, KEY, base_url=BASE, http_client=http, clock=clock, sleep=clock.sleep, **options
    )


CONNECT = httpx.ConnectError("refused")
READ_TIMEOUT = httpx.ReadTimeout("slow")
BROKEN = httpx.RemoteProtocolError("peer closed connection")


@pytest.mark.parametrize(
    ("call", "failure", "attempts"),
    [
        (lambda pb: pb.get_basic_info(1), CONNECT, 3),
        (lambda pb: pb.delete(1), CONNECT, 3),  # nothing was sent: safe for every endpoint
        (lambda pb: pb.replace_playback(1, 1, 2), CONNECT, 3),
        (lambda pb: pb.get_basic_info(1), READ_TIMEOUT, 3),
        (lambda pb: pb.set_publish_status(1, 2), READ_TIMEOUT, 3),
        (lambda pb: pb.delete(1), READ_TIMEOUT, 1),  # may have been applied: never re-sent
        (lambda pb: pb.replace_playback(1, 1, 2), READ_TIMEOUT, 1),
        (lambda pb: pb.delete(1), BROKEN, 1),
        (lambda pb: pb.update(1, "n"), BROKEN, 3),
        (lambda pb: pb.get_basic_info(1), httpx.Response(503), 3),
        (lambda pb: pb.delete(1), httpx.Response(503), 1),
        (lambda pb: pb.get_basic_info(1), httpx.Response(400), 1),
        (lambda pb: pb.get_basic_info(1), envelope(code=429, msg="请求过于频繁"), 3),
        (lambda pb: pb.delete(1), envelope(code=429, msg="请求过于频繁"), 1),
        (lambda pb: pb.get_basic_info(1), envelope(code=3001, msg="no room"), 1),
    ],
)
def test_attempts_per_failure(call: Any, failure: Any, attempts: int) -> None:
    recorder = Recorder(failure)
    with pytest.raises(errors.BaiJiaYunError):
        call(_client(recorder, max_retries=2).playback)
    assert len(recorder.requests) == attempts


def test_success_after_failures_resigns_each_attempt() -> None:
    recorder = Recorder(httpx.Response(502), CONNECT, {"status": 100})
    assert _client(recorder).playback.get_basic_info(1).status == 100
    assert len(recorder.requests) == 3
    from .sdk_helpers import wire

    for form in recorder.forms:
        wire(form)  # each attempt carries its own valid sign


def test_max_retries_per_call_overrides_the_client() -> None:
    recorder = Recorder(CONNECT)
    client = _client(recorder, max_retries=5)
    from baijiayun._endpoints import GET_BASIC_INFO

    with pytest.raises(errors.APIConnectionError):
        client.request(GET_BASIC_INFO, {"room_id": 1}, max_retries=1)
    assert len(recorder.requests) == 2


def test_retry_after_is_honoured() -> None:
    clock = FakeClock()
    recorder = Recorder(httpx.Response(503, headers={"Retry-After": "7"}), {"status": 0})
    _client(recorder, clock, retry_policy=RetryPolicy()).playback.get_basic_info(1)
    assert clock.sleeps == [7.0]


def test_backoff_grows_exponentially_with_jitter() -> None:
    from baijiayun._endpoints import GET_BASIC_INFO

    policy = RetryPolicy(initial_delay=0.5, max_delay=8.0)
    error = errors.APIConnectionError("x", "refused")
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (6, 8.0)]:
        delays = {policy.delay(GET_BASIC_INFO, error, attempt) for _ in range(50)}
        assert all(d is not None and ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1


@pytest.mark.anyio
async def test_async_client_does_not_resend_delete_after_timeout() -> None:
    recorder = Recorder(READ_TIMEOUT)
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder.async_handler))
    clock = FakeClock()
    async with AsyncBaiJiaYunClient(
        PARTNER_ID,
        KEY,
        base_url=BASE,
        http_client=http,
        retry_policy=NO_WAIT,
        rate_limit=None,
        clock=clock,
        sleep=clock.async_sleep,
    ) as client:
        with pytest.raises(errors.APITimeoutError):
            await client.playback.delete(1)
        assert len(recorder.requests) == 1
        with pytest.raises(errors.APITimeoutError):
            await client.playback.get_basic_info(1)
        assert len(recorder.requests) == 4


class QueueingGovernor:
    """A Contract B governor that makes every caller queue ``wait`` seconds on the fake clock."""

    def __init__(self, clock: FakeClock, wait: float) -> None:
        self.clock, self.wait = clock, wait
        self.granted: list[SimpleNamespace] = []
        self.completed: list[SimpleNamespace] = []

    def acquire(self, hold: float, on_wait: Any = None) -> SimpleNamespace:
        if self.wait and on_wait is not None:
            on_wait(self.wait)
        self.clock.now += self.wait
        slot = SimpleNamespace(waited=self.wait, hold=hold, number=len(self.granted))
        self.granted.append(slot)
        return slot

    async def acquire_async(self, hold: float, on_wait: Any = None) -> SimpleNamespace:
        return self.acquire(hold, on_wait)

    def complete(self, slot: SimpleNamespace) -> None:
        self.completed.append(slot)

    async def complete_async(self, slot: SimpleNamespace) -> None:
        self.complete(slot)


def test_client_completes_only_the_slots_whose_response_came_back() -> None:
    clock = FakeClock()
    governor = QueueingGovernor(clock, 0.0)
    client = _client(Recorder(CONNECT, {"status": 0}), clock, rate_limit=governor, timeout=5)
    client.playback.get_basic_info(1)
    assert [slot.number for slot in governor.granted] == [0, 1]
    # the failed connection's slot lapses at grant + hold; the answered one ends now
    assert [slot.number for slot in governor.completed] == [1]
    assert all(slot.hold >= 5 for slot in governor.granted)


def test_governor_queueing_is_not_part_of_the_call_timeout_and_is_announced() -> None:
    clock = FakeClock()
    waits: list[tuple[str, float]] = []
    governor = QueueingGovernor(clock, 100.0)  # far longer than the call's own timeout
    client = _client(
        Recorder(CONNECT, {"status": 0}),
        clock,
        rate_limit=governor,
        timeout=2,
        on_wait=lambda why, seconds: waits.append((why, seconds)),
    )
    assert client.playback.get_basic_info(1).status == 0
    assert len(governor.granted) == 2
    assert ("governor", 100.0) in waits


def test_rate_limit_can_be_turned_off() -> None:
    assert _client(Recorder(), rate_limit=None).rate_governor is None
    default = BaiJiaYunClient(1, "k", base_url=BASE)
    assert default.rate_governor is not None
    assert (default.rate_governor.calls, default.rate_governor.period) == (200, 10.0)
    default.close()


def test_retry_after_formats() -> None:
    import email.utils
    import time as _time

    from baijiayun.client._core import parse_retry_after

    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = email.utils.formatdate(_time.time() + 30, usegmt=True)
    assert 25 <= (parse_retry_after(later) or 0) <= 31


TOO_MANY = envelope(code=429, msg="请求过于频繁")


def test_rate_limit_answer_waits_one_full_period_then_resends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    waits: list[tuple[str, float]] = []
    recorder = Recorder(TOO_MANY, {"status": 100})
    client = _client(
        recorder, clock, retry_policy=RetryPolicy(), on_wait=lambda w, s: waits.append((w, s))
    )
    caplog.set_level("DEBUG", logger="baijiayun")
    assert client.playback.get_basic_info(1).status == 100
    assert waits == [("rate_limit", 10.0)]
    assert clock.sleeps == [10.0]
    assert "/openapi/playback/getBasicInfo waiting 10.00 s (rate_limit)" in caplog.messages


def test_rate_limit_wait_uses_retry_after_when_given() -> None:
    clock = FakeClock()
    limited = envelope(code=429, msg="请求过于频繁", **{"Retry-After": "3"})
    _client(Recorder(limited, {"status": 1}), clock).playback.get_basic_info(1)
    assert clock.sleeps == [3.0]


def test_rate_limit_wait_never_passes_the_call_timeout() -> None:
    clock = FakeClock()
    recorder = Recorder(TOO_MANY)
    client = _client(recorder, clock, retry_policy=RetryPolicy(), timeout=5)
    with pytest.raises(errors.RateLimitError, match="would pass the call's timeout"):
        client.playback.get_basic_info(1)
    assert clock.sleeps == []
    assert len(recorder.requests) == 1


def test_unsafe_write_is_not_resent_after_a_rate_limit_and_says_why() -> None:
    clock = FakeClock()
    recorder = Recorder(TOO_MANY)
    with pytest.raises(errors.RateLimitError, match="not re-sent: delete is not safe to repeat"):
        _client(recorder, clock, retry_policy=RetryPolicy()).playback.delete(1)
    assert len(recorder.requests) == 1
    assert clock.sleeps == []


def test_backoff_waits_are_announced() -> None:
    clock = FakeClock()
    waits: list[tuple[str, float]] = []
    client = _client(
        Recorder(CONNECT, {"status": 0}),
        clock,
        retry_policy=RetryPolicy(initial_delay=0.5, max_delay=0.5),
        on_wait=lambda w, s: waits.append((w, s)),
    )
    client.playback.get_basic_info(1)
    assert [w for w, _ in waits] == ["backoff"]
    assert 0.25 <= waits[0][1] <= 0.5 and clock.sleeps == [waits[0][1]]


@pytest.mark.parametrize(
    ("failure", "sent"),
    [(httpx.PoolTimeout, False), (httpx.ConnectTimeout, False), (httpx.ReadTimeout, True)],
)
def test_a_timeout_at_the_deadline_says_whether_the_request_left(
    failure: type[httpx.TimeoutException], sent: bool
) -> None:
    clock = FakeClock()

    def handler(request: httpx.Request) -> httpx.Response:
        clock.now += 60  # the whole call's time went waiting for this phase
        raise failure("too slow", request=request)

    http = httpx.Client(transport=httpx.MockTransport(handler))
    client = BaiJiaYunClient(
        PARTNER_ID, KEY, base_url=BASE, http_client=http, clock=clock, rate_limit=None
    )
    with client, pytest.raises(errors.APITimeoutError) as caught:
        client.playback.delete(1)
    assert caught.value.request_sent is sent
