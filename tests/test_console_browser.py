"""The emulator's console in a real Chromium: log in, find, finish, watch callbacks, break calls
with a fault, rotate a key, page through a catalog; no page runs a name as script."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from baijiayun.emulator import Emulator, EmulatorConfig
from baijiayun.emulator.server import BackgroundServer

from .browser_helpers import BrowserThread, LocalOnly, browser, screenshot
from .emulator_helpers import md5_sign
from .test_console import XSS, Receiver

__all__ = ["browser"]  # the session's one Chromium (a fixture)

pytestmark = pytest.mark.server

TOKEN = "console-browser-token"
NAME = "线性代数 第7讲 · 浏览器测试"
CATALOG = 2000


@dataclass
class Served:
    emulator: Emulator
    base: str
    account: dict[str, Any]
    room: int
    xss_room: int
    receiver: Receiver

    def call(self, key: str | None = None) -> dict[str, Any]:
        """A signed getBasicInfo of the test room over HTTP."""
        params = {
            "room_id": str(self.room),
            "partner_id": str(self.account["partner_id"]),
            "timestamp": str(int(time.time())),
        }
        params["sign"] = md5_sign(params, key or self.account["partner_key"])
        reply = httpx.post(f"{self.base}/openapi/playback/getBasicInfo", data=params)
        body: dict[str, Any] = reply.json()
        return body


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    config = EmulatorConfig(
        admin_token=TOKEN, lifecycle_delays=(0.05, 0.05, 0.05), callback_backoff=0.05
    )
    receiver = Receiver()
    with Emulator("sqlite://", config) as emulator, BackgroundServer(emulator) as server:
        emulator.seed_large(CATALOG)
        account = emulator.create_account()
        emulator.set_callback_url(account["partner_id"], receiver.url)
        partner = account["partner_id"]
        room = emulator.create_room(partner, title=NAME, product_type=2)["room_id"]
        emulator.create_recording(room, name=NAME, length=2700)
        xss_room = emulator.create_room(partner, title=XSS)["room_id"]
        emulator.create_recording(xss_room, name=XSS, status=100)
        emulator.create_crop(xss_room, name=XSS)
        emulator.add_ppt(xss_room, name=XSS)
        now = int(time.time())
        emulator.add_views(
            [
                {
                    "room_id": room,
                    "user_name": ("王芳", "李小明", "", XSS)[n % 4],
                    "user_number": 20260000 + n % 7,
                    "play_begin_time": now - 86400 * (n % 23) - 600 * (n % 5),
                    "play_length": 300 + 37 * n,
                }
                for n in range(90)
            ]
        )
        emulator.add_views([{"room_id": xss_room, "user_name": XSS, "play_begin_time": now}])
        try:
            yield Served(emulator, server.base_url, account, room, xss_room, receiver)
        finally:
            receiver.close()


def _in_context(
    browser: Any,
    served: Served,
    work: Callable[[Any, Served, list[str]], None],
    bypass_csp: bool = False,
) -> None:
    """Run ``work(page, served, dialogs)`` in a fresh logged-in context; no request leaves the machine
    and no dialog opens. ``bypass_csp`` turns the pages' Content-Security-Policy off (so an
    injected script would run: escaping alone must stop it)."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, bypass_csp=bypass_csp)
    local = LocalOnly(context)
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    context.on("dialog", on_dialog)
    page = context.new_page()
    try:
        page.goto(f"{served.base}/_emulator/console")
        assert "/_emulator/console/login" in page.url
        page.fill("input[name=token]", TOKEN)
        with page.expect_navigation():
            page.click("button:has-text('Log in')")
        assert page.url == f"{served.base}/_emulator/console"
        work(page, served, dialogs)
    finally:
        context.close()
    assert dialogs == []
    assert local.refused == []


def _submit(page: Any, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def _reload_until(page: Any, check: Callable[[], bool], seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, page.content()[-3000:]
        time.sleep(0.1)
        page.reload()


def _walk(page: Any, served: Served, dialogs: list[str]) -> None:
    emulator, partner = served.emulator, served.account["partner_id"]
    # Accounts: the key is masked until clicked
    card = f"#account-{partner}"
    assert served.account["partner_key"] not in page.inner_text(card)
    page.click(f"#key-{partner}")
    page.wait_for_selector(f"code#key-{partner}:not(.masked)")
    assert page.inner_text(f"#key-{partner}") == served.account["partner_key"]

    # Playbacks: find one by name (the search runs as one types), open it, finish it
    page.click("header nav >> text=Playbacks")
    page.fill("#q", "浏览器测试")
    page.wait_for_selector("#total:text-is('1')")
    assert "q=" in page.url  # the search is in the address: a reload keeps it
    _submit(page, f"a.name:has-text('{NAME}')")
    assert page.inner_text("h1") == NAME
    assert page.inner_text("#status") == "未录制 not recorded"
    _submit(page, "button:has-text('finish')")
    assert page.inner_text("#status") == "已生成 ready"
    assert "recording finished" in page.inner_text(".note")
    _reload_until(page, lambda: page.locator("#deliveries .attempts li.ok").count() == 2)
    states = page.locator("#deliveries .state").all_inner_texts()
    assert states == ["delivered", "delivered"]
    assert [g["status"] for g in served.receiver.got] == ["20", "100"]
    screenshot(page, "console-playback")
    with page.expect_popup() as opened:
        page.click("#play")
    player = opened.value
    player.wait_for_load_state()
    assert player.inner_text("h1") == NAME
    player.close()

    # Faults: one rule refuses the next call, and Calls says so
    page.click("header nav >> text=Faults")
    page.fill("input[name=endpoint]", "getBasicInfo")
    page.select_option("select[name=kind]", "error")
    page.fill("input[name=value]", "5004")
    page.fill("input[name=times]", "1")
    _submit(page, "button:has-text('add fault')")
    assert "getBasicInfo" in page.inner_text("#faults")
    screenshot(page, "console-faults")
    assert served.call()["code"] == 5004
    assert served.call()["code"] == 0
    page.click("header nav >> text=Calls")
    _reload_until(page, lambda: page.locator("#calls tr.call").count() >= 2)
    assert page.locator("#calls tr.call").nth(1).inner_text().split("\t")[3] == "fault"
    assert "injected fault: error 5004" in page.inner_text("#calls")

    # Accounts: rotate the key; the old one is refused, and Calls shows the canonical string
    page.click("header nav >> text=Accounts")
    _submit(page, f"{card} button:has-text('rotate key')")
    assert "rotated" in page.inner_text(".note")
    assert served.call()["code"] == 1002
    new_key = emulator.account(partner)["partner_key"]  # type: ignore[index]
    assert served.call(new_key)["code"] == 0
    page.click("header nav >> text=Calls")
    _reload_until(page, lambda: "partner_key=***" in page.inner_text("#calls"))
    assert served.account["partner_key"] not in page.content()
    assert new_key not in page.content()
    screenshot(page, "console-calls")
    page.click("header nav >> text=Accounts")
    for _ in range(3):  # while the page is open: its meter follows the window, live
        assert served.call(new_key)["code"] == 0
    meter = f"#meter-{partner} b"
    page.wait_for_selector(f"{meter}:not(:text-is('0')):not(:text-is('1')):not(:text-is('2'))")
    assert 3 <= int(page.inner_text(meter)) <= 5  # these 3, and 2 before if within 10 s
    assert page.inner_text(f"{card} td.auth") == "1"
    screenshot(page, "console-accounts")

    # Callbacks: every delivery; redeliver one with the same qid
    page.click("header nav >> text=Callbacks")
    first = page.locator("tr.delivery").first
    qid = first.get_attribute("data-qid")
    _submit(page, "tr.delivery >> nth=0 >> button:has-text('redeliver')")
    assert "sent again" in page.inner_text(".note")
    _reload_until(page, lambda: page.locator("tr.delivery >> nth=0 >> .attempts li").count() == 2)
    assert served.receiver.got[-1]["qid"] == qid
    screenshot(page, "console-callbacks")

    # Pages through the catalog, newest first, and to the oldest page
    page.click("header nav >> text=Playbacks")
    total = int(page.inner_text("#total").replace(",", ""))
    assert total == CATALOG + 2
    screenshot(page, "console-playbacks")
    links = "els => els.map(e => e.href)"
    seen = page.locator("a.name").evaluate_all(links)
    for _ in range(2):
        _submit(page, "a[rel=older]")
        hrefs = page.locator("a.name").evaluate_all(links)
        assert len(hrefs) == 50
        seen += hrefs
    _submit(page, "a[rel=oldest]")
    assert page.locator("span.off:has-text('older ›')").count() == 1
    oldest = page.locator("a.name").evaluate_all(links)
    assert len(oldest) == 50 and set(oldest).isdisjoint(seen)
    assert page.locator("a[rel=newest]").count() == 1
    assert len(seen) == len(set(seen)) == 150


def test_the_console_in_chromium(browser: BrowserThread, served: Served) -> None:
    browser.run(_in_context, served, _walk)


def _every_page(page: Any, served: Served, dialogs: list[str]) -> None:
    base = f"{served.base}/_emulator/console"
    pages = [
        base,
        f"{base}/playbacks",
        f"{base}/playbacks?q=%3Cscript%3E",
        f"{base}/playbacks/{served.xss_room}/0",
        f"{base}/callbacks",
        f"{base}/faults",
        f"{base}/calls",
    ]
    served.emulator.inject_fault(XSS, "latency", 0.001)
    try:
        for url in pages:
            page.goto(url)
            assert dialogs == [], url
        page.goto(f"{base}/playbacks/{served.xss_room}/0")
        assert page.inner_text("h1") == XSS  # shown as text
        assert page.locator("#versions td", has_text=XSS).count() == 2
        page.goto(f"{base}/playbacks?q=%3Cscript%3E")
        assert page.locator("a.name").all_inner_texts() == [XSS]
    finally:
        served.emulator.clear_faults()


def test_no_page_runs_a_name_as_script(browser: BrowserThread, served: Served) -> None:
    browser.run(_in_context, served, _every_page, True)
