"""Hostile input at the edges: callback bodies, reply encodings and numbers, URLs, bulk files."""

from __future__ import annotations

import gzip
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from click.testing import CliRunner

from baijiayun import BaiJiaYunClient, InvalidArgumentError, _signing
from baijiayun.bulk import BulkInputError, BulkJournalError, load_rows, run_bulk
from baijiayun.callbacks import parse_transcode_callback
from baijiayun.cli.main import cli
from baijiayun.errors import CallbackVerificationError, ResponseDecodeError
from baijiayun.mirror import callback_app

from .sdk_helpers import BASE, KEY, PARTNER_ID

PARTNER_KEY = "k"


def _signed(**fields: Any) -> dict[str, str]:
    form = {"qid": "q1", "timestamp": str(int(time.time())), "video_id": "1", "status": "100"}
    form.update({k: str(v) for k, v in fields.items()})
    form["sign"] = _signing.sign(form, PARTNER_KEY)
    return form


HOSTILE_CALLBACKS: list[Any] = [
    b"qid=1&timestamp=1&sign=ab\xff",  # not UTF-8
    "qid=1&timestamp=%C2%B2&sign=ab&video_id=1&status=100",  # a superscript two as the time
    "qid=1&timestamp=" + "9" * 5000 + "&sign=ab",  # a time too long to be one
    _signed(room_id=10**25),
    _signed(length="9" * 5000),
    _signed(session_id=2**63),
    _signed(status=7),
    _signed(room_id=-5),
    _signed(version=-1),
]


@pytest.mark.parametrize("body", HOSTILE_CALLBACKS)
def test_a_hostile_callback_is_a_verification_error(body: Any) -> None:
    with pytest.raises(CallbackVerificationError):
        parse_transcode_callback(body, PARTNER_KEY)


def test_the_mirror_receiver_refuses_hostile_callbacks_with_400(tmp_path: Path) -> None:
    app = callback_app(PARTNER_KEY, f"sqlite:///{tmp_path / 'm.db'}", partner_id=1)

    async def post_all() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as web:
            codes = []
            for body in HOSTILE_CALLBACKS:
                content = body if isinstance(body, bytes | str) else None
                data = None if content is not None else body
                answer = await web.post(
                    "/",
                    content=content,
                    data=data,
                    headers={"content-type": "application/x-www-form-urlencoded"},
                )
                codes.append(answer.status_code)
            return codes

    assert anyio.run(post_all) == [400] * len(HOSTILE_CALLBACKS)


def _client(headers: dict[str, str], body: bytes) -> BaiJiaYunClient:
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=headers, stream=httpx.ByteStream(body))

    http = httpx.Client(transport=httpx.MockTransport(reply))
    return BaiJiaYunClient(PARTNER_ID, KEY, base_url=BASE, http_client=http, rate_limit=None)


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"content-encoding": "gzip"}, b"not gzip at all"),
        ({}, b'{"code": 0, "data": {"status": 100, "length": 1' + b"0" * 400 + b"}}"),
        ({}, b'{"code": 0, "data": {"status": 100, "length": Infinity}}'),
        ({}, b'{"code": 0, "data": {"status": NaN}}'),
    ],
    ids=["bad-gzip", "huge-int", "infinity", "nan"],
)
def test_undecodable_or_out_of_range_replies_are_decode_errors(
    headers: dict[str, str], body: bytes
) -> None:
    with _client(headers, body) as client, pytest.raises(ResponseDecodeError):
        client.playback.get_basic_info(1)


def test_a_real_gzip_reply_still_decodes() -> None:
    body = gzip.compress(b'{"code": 0, "data": {"status": 0}, "msg": ""}')
    with _client({"content-encoding": "gzip"}, body) as client:
        assert client.playback.get_basic_info(1).status == 0


def test_a_port_out_of_range_is_refused_when_the_client_is_built() -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        BaiJiaYunClient(1, "k", base_url="http://127.0.0.1:99999")
    assert raised.value.argument == "base_url"


def test_a_bulk_file_that_is_not_utf8_is_bad_input(tmp_path: Path) -> None:
    source = tmp_path / "rows.csv"
    source.write_bytes(b"room_id,name\n26010100000003,\xff\xfe\n")
    with pytest.raises(BulkInputError, match="not UTF-8"):
        load_rows("rename", source)
    done = CliRunner().invoke(
        cli,
        ["playback", "bulk", "rename", "--from", str(source), "--yes"],
        env={"BAIJIAYUN_PARTNER_ID": "1", "BAIJIAYUN_PARTNER_KEY": "k", "BAIJIAYUN_BASE_URL": BASE},
    )
    assert done.exit_code == 2 and "not UTF-8" in done.output


def test_a_journal_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    journal = tmp_path / "j.db"
    journal.write_bytes(b"garbage, not a database" * 100)
    rows = load_rows("rename", _csv(tmp_path))
    with _client({}, b'{"code": 0}') as client, pytest.raises(BulkJournalError):
        run_bulk(client.playback, rows, journal)


def _csv(tmp_path: Path) -> Path:
    source = tmp_path / "ok.csv"
    source.write_text("room_id,name\n26010100000003,x\n", encoding="utf-8")
    return source


def test_serve_callbacks_refuses_a_port_out_of_range() -> None:
    done = CliRunner().invoke(cli, ["mirror", "serve-callbacks", "--port", "99999"])
    assert done.exit_code == 2 and "--port" in done.output


def test_the_cli_refuses_digits_the_service_refuses() -> None:
    done = CliRunner().invoke(
        cli,
        [
            "--partner-id",
            "1",
            "--partner-key",
            "k",
            "--base-url",
            BASE,
            "playback",
            "info",
            "１２３",
        ],
    )
    assert done.exit_code == 2 and "ASCII digits" in done.output
