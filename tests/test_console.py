"""The emulator's console over HTTP (no browser): pages, actions, CSRF, the login cookie, escaping,
the Calls log, keyset pages, and two real workers on PostgreSQL."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from baijiayun.emulator import Emulator, EmulatorConfig, create_app
from baijiayun.emulator.admin import AdminGuard
from baijiayun.emulator.console import CSRF_COOKIE, SESSION_COOKIE

from .emulator_helpers import Raw, md5_sign

with warnings.catch_warnings():  # Starlette's notice about its test client's future
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

BASE = "/_emulator/console"
XSS = "<script>alert(1)</script>"
CSRF_FIELD = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


def csrf_of(page: str) -> str:
    """The CSRF token a console page put in its forms."""
    found = CSRF_FIELD.search(page)
    assert found is not None, page[:500]
    return found.group(1)


class Receiver:
    """A transcode callback receiver on a loopback port: answers ``{"code": 0}`` and keeps
    every form it got."""

    def __init__(self) -> None:
        self.got: list[dict[str, str]] = []
        got = self.got

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length).decode()
                got.append(dict(httpx.QueryParams(body)))
                reply = b'{"code": 0}'
                self.send_response(200)
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    try:
        yield found
    finally:
        found.close()


def _guarded(emulator: Emulator, token: str | None = None) -> TestClient:
    """The app as ``serve`` on 127.0.0.1:8000 guards it."""
    guard = AdminGuard.for_server("127.0.0.1", 8000, (), token)
    app = create_app(emulator, admin_guard=guard)
    return TestClient(app, base_url="http://127.0.0.1:8000", follow_redirects=False)


@pytest.fixture
def emulator(database_url: str) -> Iterator[Emulator]:
    config = EmulatorConfig(lifecycle_delays=(0.05, 0.05, 0.05), callback_backoff=0.05)
    found = Emulator(database_url, config)
    found.reset()
    try:
        yield found
    finally:
        found.close()


def _playback(emulator: Emulator, name: str = "高等数学 第1讲", status: int = 0) -> dict[str, Any]:
    account = emulator.create_account()
    room = emulator.create_room(account["partner_id"], title=name)["room_id"]
    emulator.create_recording(room, name=name, status=status)
    return {"account": account, "room": room}


def test_every_page_renders_and_escapes_names(emulator: Emulator) -> None:
    made = _playback(emulator, XSS, status=100)
    room = made["room"]
    emulator.create_crop(room, name=XSS + " crop")
    emulator.add_ppt(room, name=XSS + ".pdf")
    emulator.add_views([{"room_id": room, "user_name": XSS, "play_begin_time": int(time.time())}])
    emulator.inject_fault(XSS, "error", 5000)
    with _guarded(emulator) as http:
        pages = ["", "/playbacks", f"/playbacks?q={XSS}", f"/playbacks/{room}/0"]
        pages += ["/callbacks", "/faults", "/calls"]
        for page in pages:
            response = http.get(BASE + page)
            assert response.status_code == 200, (page, response.text[:300])
            assert response.headers["content-type"].startswith("text/html")
            assert "<script>alert" not in response.text, page
            assert "default-src 'self'" in response.headers["content-security-policy"]
        detail = http.get(f"{BASE}/playbacks/{room}/0").text
        assert detail.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4  # name, crop, pdf, viewer
        assert '<span class="tag main">main</span>' in detail
        assert "<svg" in detail and "1 plays" in detail  # today's bar of the chart
        found = http.get(f"{BASE}/playbacks", params={"q": "script>ALERT"}).text
        assert '<b id="total">1</b>' in found  # a name search ignores case


def test_actions_need_the_csrf_token_of_the_page(emulator: Emulator) -> None:
    room = _playback(emulator)["room"]
    here = f"{BASE}/playbacks/{room}/0"
    with _guarded(emulator) as http:
        page = http.get(here)
        token = csrf_of(page.text)
        assert "httponly" in page.headers["set-cookie"].lower()
        assert "samesite=strict" in page.headers["set-cookie"].lower()
        refused = http.post(f"{here}/advance", data={})
        assert refused.status_code == 403 and "CSRF check failed" in refused.text
        refused = http.post(f"{here}/advance", data={"csrf": "0" * 64})
        assert refused.status_code == 403
        assert emulator.playback_rows(room)[0]["status"] == 0  # nothing happened
        done = http.post(f"{here}/advance", data={"csrf": token})
        assert done.status_code == 303 and done.headers["location"].startswith(here + "?note=")
        assert emulator.playback_rows(room)[0]["status"] == 10
        # a token made for another browser's cookie does not pass with this one
        http.cookies.set(CSRF_COOKIE, "f" * 32, path=BASE)
        assert http.post(f"{here}/advance", data={"csrf": token}).status_code == 403
        assert emulator.playback_rows(room)[0]["status"] == 10


def test_a_foreign_origin_or_host_is_refused(emulator: Emulator) -> None:
    room = _playback(emulator)["room"]
    here = f"{BASE}/playbacks/{room}/0"
    with _guarded(emulator) as http:
        token = csrf_of(http.get(here).text)
        evil = http.post(
            f"{here}/delete", data={"csrf": token}, headers={"origin": "http://evil.example"}
        )
        assert evil.status_code == 403 and "cross-origin requests are not allowed" in evil.text
        other_port = http.post(
            f"{here}/delete", data={"csrf": token}, headers={"origin": "http://127.0.0.1:3000"}
        )
        assert other_port.status_code == 403
        rebound = http.get(here, headers={"host": "attacker.example:8000"})
        assert rebound.status_code == 403 and "Host not allowed" in rebound.text
        assert emulator.playback_rows(room)  # not deleted
        same = http.post(
            f"{here}/delete", data={"csrf": token}, headers={"origin": "http://127.0.0.1:8000"}
        )
        assert same.status_code == 303
        assert emulator.playback_rows(room) == []


def test_the_admin_token_opens_the_console_by_a_cookie_any_worker_accepts(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'emu.sqlite3'}"
    with (
        Emulator(url) as first,
        Emulator(url) as second,
        _guarded(first, "s3cret-token") as http,
        _guarded(second, "s3cret-token") as other,
    ):
        moved = http.get(f"{BASE}/faults")
        assert moved.status_code == 303
        assert moved.headers["location"].startswith(f"{BASE}/login?next=")
        login = http.get(moved.headers["location"])
        assert login.status_code == 200 and 'type="password"' in login.text
        token = csrf_of(login.text)
        wrong = http.post(
            f"{BASE}/login", data={"csrf": token, "token": "nope", "next": f"{BASE}/faults"}
        )
        assert wrong.status_code == 303 and "wrong+admin+token" in wrong.headers["location"]
        assert SESSION_COOKIE not in http.cookies
        right = http.post(
            f"{BASE}/login",
            data={"csrf": token, "token": "s3cret-token", "next": f"{BASE}/faults"},
        )
        assert right.status_code == 303 and right.headers["location"] == f"{BASE}/faults"
        cookie = right.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert f"path={BASE}" in cookie and "s3cret" not in cookie
        assert http.get(f"{BASE}/faults").status_code == 200
        # the same cookies on another process of the same service
        for name in (SESSION_COOKIE, CSRF_COOKIE):
            other.cookies.set(name, http.cookies[name], path=BASE)
        page = other.get(f"{BASE}/faults")
        assert page.status_code == 200
        added = other.post(
            f"{BASE}/faults",
            data={"csrf": csrf_of(page.text), "endpoint": "getBasicInfo", "kind": "http"},
        )
        assert added.status_code == 303 and "error=" in added.headers["location"]
        added = other.post(
            f"{BASE}/faults",
            data={
                "csrf": csrf_of(page.text),
                "endpoint": "getBasicInfo",
                "kind": "http",
                "value": "503",
                "times": "2",
            },
        )
        assert added.status_code == 303 and "note=" in added.headers["location"]
        assert [(f.endpoint, f.value, f.times) for f in first.fault_rules()] == [
            ("getBasicInfo", 503, 2)
        ]
        # the cookie opens the console only: the JSON admin API keeps its bearer token
        assert http.get("/_emulator/faults").status_code == 403
        bearer = {"authorization": "Bearer s3cret-token"}
        assert http.get("/_emulator/faults", headers=bearer).status_code == 200
        # a forged cookie opens nothing
        other.cookies.set(SESSION_COOKIE, "0" * 64, path=BASE)
        assert other.get(f"{BASE}/faults").status_code == 303


def test_calls_show_why_a_call_was_refused_with_the_key_masked(emulator: Emulator) -> None:
    made = _playback(emulator, status=100)
    account, room = made["account"], made["room"]
    raw = Raw(emulator, account)
    assert raw.post("getBasicInfo", {"room_id": room})["code"] == 0
    assert raw.post("getBasicInfo", {"room_id": room}, key="wrong-key")["code"] == 1002
    emulator.inject_fault("getBasicInfo", "error", 5001, times=1)
    assert raw.post("getBasicInfo", {"room_id": room})["code"] == 5001
    assert raw.post("getBasicInfo", {"room_id": 42})["code"] == 3001
    calls = emulator.recent_calls()
    assert [(c["outcome"], c["code"]) for c in calls] == [
        ("served", 3001),
        ("fault", 5001),
        ("auth", 1002),
        ("served", 0),
    ]
    assert calls[2]["why"].startswith("签名错误; the server signed: ")
    assert calls[2]["why"].endswith("&partner_key=***")
    assert account["partner_key"] not in calls[2]["why"]
    assert f"room_id={room}" in calls[2]["why"]
    with _guarded(emulator) as http:
        page = http.get(f"{BASE}/calls").text
        assert page.count('<tr class="call ') == 4
        assert "partner_key=***" in page and account["partner_key"] not in page
        # the console's own reads are no OpenAPI calls: no statistics, no rate window
        http.get(f"{BASE}/playbacks")
        accounts = http.get(BASE).text
        # refusals are drawn in red only when there are some: none were refused by the limit
        assert '<td class="auth" data-outcome="auth">1</td>' in accounts
        assert '<td class="rate_limited zero" data-outcome="rate_limited">0</td>' in accounts
    assert len(emulator.recent_calls()) == 4
    assert emulator.rate_usage(account["partner_id"]) == 2  # served calls only


def test_a_refused_call_carrying_a_nul_is_kept_and_shown_escaped(emulator: Emulator) -> None:
    # its canonical string holds the NUL, which PostgreSQL text cannot: the statistics flush
    # failed there and GET /_emulator/stats answered 500 (found by Schemathesis)
    made = _playback(emulator, status=100)
    raw = Raw(emulator, made["account"])
    answer = raw.post("getBasicInfo", {"room_id": made["room"], "note": "a\x00b"}, key="wrong")
    assert answer["code"] == 1002
    calls = emulator.recent_calls()
    assert [(c["outcome"], c["code"]) for c in calls] == [("auth", 1002)]
    assert "note=a\\x00b" in calls[0]["why"]
    assert emulator.stats()[0]["auth"] == 1


def test_the_calls_kept_are_the_newest_thousand(emulator: Emulator) -> None:
    stats = emulator.call_stats
    for n in range(1200):
        stats.count(7, "getBasicInfo", "served", float(n))
        if n % 400 == 399:
            stats.flush()
    kept = emulator.recent_calls()
    assert len(kept) == 1000
    assert [c["at"] for c in kept[:2]] == [1199.0, 1198.0] and kept[-1]["at"] == 200.0


def test_rotating_a_key_refuses_the_old_one(emulator: Emulator) -> None:
    made = _playback(emulator, status=100)
    account, room = made["account"], made["room"]
    raw = Raw(emulator, account)
    with _guarded(emulator) as http:
        page = http.get(BASE)
        masked = account["partner_key"][:4] + "•" * 8 + account["partner_key"][-4:]
        assert masked in page.text and account["partner_key"] not in page.text
        shown = http.get(f"{BASE}/accounts/{account['partner_id']}/key").text
        assert account["partner_key"] in shown
        done = http.post(
            f"{BASE}/accounts/{account['partner_id']}/rotate", data={"csrf": csrf_of(page.text)}
        )
        assert done.status_code == 303
    new_key = emulator.account(account["partner_id"])["partner_key"]  # type: ignore[index]
    assert new_key != account["partner_key"]
    assert raw.post("getBasicInfo", {"room_id": room})["code"] == 1002
    assert raw.post("getBasicInfo", {"room_id": room}, key=new_key)["code"] == 0


def test_playback_actions(emulator: Emulator, receiver: Receiver) -> None:
    made = _playback(emulator)
    account, room = made["account"], made["room"]
    emulator.set_callback_url(account["partner_id"], receiver.url)
    here = f"{BASE}/playbacks/{room}/0"
    with _guarded(emulator) as http:
        token = csrf_of(http.get(here).text)

        def act(action: str, **form: str) -> str:
            done = http.post(f"{here}/{action}", data={"csrf": token, **form})
            assert done.status_code == 303, done.text[:300]
            return str(done.headers["location"])

        assert "note=" in act("finish")
        assert emulator.wait_idle()
        assert [g["status"] for g in receiver.got] == ["20", "100"]
        assert "error=" in act("advance")  # a ready recording has no next step
        assert "note=" in act("crop", length="60", name="片段")
        assert "note=" in act("main", version="1")
        assert "note=" in act("rename", name=XSS)
        assert "note=" in act("block")
        rows = emulator.playback_rows(room)
        assert [(r["version"], r["is_main"], r["name"], r["publish_status"]) for r in rows] == [
            (0, False, XSS, 2),
            (1, True, XSS, 2),
        ]
        assert "error=" in act("rename", name="")  # 400-style: the field is required
        played = http.post(f"{here}/play", data={"csrf": token})
        assert played.status_code == 303
        assert played.headers["location"].startswith(f"/web/playback/index?classid={room}&token=")
        assert http.get(f"{here}/nothing").json()["code"] == 404  # the OpenAPI's answer
        assert http.post(f"{here}/nothing", data={"csrf": token}).status_code == 404
        assert "note=" in act("publish")
        assert http.get(played.headers["location"]).status_code == 200  # the player plays it
        # callbacks: redeliver the last one, same payload and qid
        deliveries = emulator.deliveries()
        last = deliveries[-1]
        page = http.get(f"{BASE}/callbacks").text
        assert last["payload"]["qid"] in page
        again = http.post(
            f"{BASE}/callbacks/{last['id']}/redeliver", data={"csrf": token, "back": here}
        )
        assert again.status_code == 303 and again.headers["location"].startswith(here)
        assert emulator.wait_idle()
        assert receiver.got[-1] == receiver.got[1]  # same qid, same sign
        assert [a["attempt"] for a in emulator.deliveries()[-1]["attempts"]] == [1, 2]
        assert "note=" in act("delete", version="1")
        assert "note=" in act("delete")
        assert emulator.playback_rows(room) == []
        assert http.get(here).status_code == 200  # a deleted playback still shows
        assert http.get(f"{BASE}/playbacks/{room}/5").status_code == 404
        assert http.get(f"{BASE}/playbacks/{2**64}/0").status_code == 404
    bad = {"csrf": token, "kind": "boom", "endpoint": "*"}
    with _guarded(emulator) as http:
        http.cookies.set(CSRF_COOKIE, http.get(BASE).cookies[CSRF_COOKIE], path=BASE)
        token = csrf_of(http.get(f"{BASE}/faults").text)
        bad["csrf"] = token
        refused = http.post(f"{BASE}/faults", data=bad)
        assert "kind+must+be+one+of" in refused.headers["location"]
        assert emulator.fault_rules() == []


def test_catalog_pages_by_keyset(emulator: Emulator) -> None:
    emulator.seed_large(230)
    with _guarded(emulator) as http:
        first = http.get(f"{BASE}/playbacks").text
        assert '<b id="total">230</b>' in first
        seen: list[str] = []
        page, pages = first, 0
        while True:
            pages += 1
            seen += re.findall(r'class="name" href="[^"]+/playbacks/(\d+/\d+)"', page)
            older = re.search(r'href="([^"]+)" rel="older"', page)
            if older is None:
                break
            page = http.get(older.group(1).replace("&amp;", "&")).text
        assert pages == 5 and len(seen) == len(set(seen)) == 230
        oldest = http.get(f"{BASE}/playbacks?oldest=1").text
        assert re.findall(r'class="name" href="[^"]+/playbacks/(\d+/\d+)"', oldest) == seen[-50:]
        newer = re.search(r'href="([^"]+)" rel="newer"', oldest)
        assert newer is not None
        back = http.get(newer.group(1).replace("&amp;", "&")).text
        assert re.findall(r'class="name" href="[^"]+/playbacks/(\d+/\d+)"', back) == seen[130:180]
        bad = http.get(f"{BASE}/playbacks?status=7&older=x")
        assert bad.status_code == 200
        assert "status must be one of 0, 10, 20, 30, 100" in bad.text
        assert "older must be TIME.ID" in bad.text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.postgres
@pytest.mark.server
def test_two_workers_on_postgresql_show_one_console(postgres_url: str) -> None:
    """``serve --workers 2``: the login cookie, CSRF tokens, fault rules and the Calls list
    hold on whichever worker answers."""
    with Emulator(postgres_url) as emulator:
        emulator.reset()
        account = emulator.create_account()
    port = _free_port()
    binary = Path(sys.executable).parent / "baijiayun"
    process = subprocess.Popen(
        [
            *(str(binary), "emulator", "serve", "--port", str(port), "--workers", "2"),
            *("--database", postgres_url, "--admin-token", "tok-2-workers"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                if httpx.get(f"{base}{BASE}/login", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the emulator did not start"
            time.sleep(0.1)
        with httpx.Client(base_url=base, follow_redirects=False, timeout=10) as http:
            login = http.get(f"{BASE}/login")
            http.post(
                f"{BASE}/login",
                data={"csrf": csrf_of(login.text), "token": "tok-2-workers", "next": BASE},
            )
            token = ""
            for _ in range(12):  # both workers answer some of these
                page = http.get(f"{BASE}/faults")
                assert page.status_code == 200
                token = token or csrf_of(page.text)
                assert csrf_of(page.text) == token
            added = http.post(
                f"{BASE}/faults",
                data={"csrf": token, "endpoint": "getBasicInfo", "kind": "error", "value": "5003"},
            )
            assert added.status_code == 303 and "note=" in added.headers["location"]
            for _ in range(6):
                assert "5003" in http.get(f"{BASE}/faults").text
            for _ in range(4):
                signed = {
                    "room_id": "1",
                    "partner_id": str(account["partner_id"]),
                    "timestamp": str(int(time.time())),
                }
                signed["sign"] = md5_sign(signed, account["partner_key"])
                body = httpx.post(f"{base}/openapi/playback/getBasicInfo", data=signed).json()
                assert body["code"] == 5003
            deadline = time.monotonic() + 5
            while True:  # each worker stores its calls within a second
                pages = [http.get(f"{BASE}/calls").text for _ in range(4)]
                if all(p.count('<tr class="call fault">') == 4 for p in pages):
                    break
                assert time.monotonic() < deadline, pages[-1][-2000:]
                time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=20)
    with Emulator(postgres_url) as emulator:
        emulator.reset()


def test_the_start_up_message_links_the_console() -> None:
    port = _free_port()
    binary = Path(sys.executable).parent / "baijiayun"
    process = subprocess.Popen(
        [str(binary), "emulator", "serve", "--port", str(port), "--database", "sqlite://"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        lines = [process.stderr.readline() for _ in range(2)]
        assert lines[1].strip() == f"console: http://127.0.0.1:{port}/_emulator/console"
    finally:
        process.terminate()
        process.wait(timeout=20)
