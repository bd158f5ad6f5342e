"""Debian's Chromium driven by Playwright: one browser per test session, in a thread of its own,
loopback traffic only."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest

__all__ = ["LOCAL_HOSTS", "BrowserThread", "LocalOnly", "browser", "screenshot"]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
SCREENSHOTS_ENV = "BAIJIAYUN_SCREENSHOTS"
"""Set to ``docs`` to (re)write the docs pages' screenshots under docs/img/ (the README shows one of them)."""
DOCS_IMG = Path(__file__).resolve().parents[1] / "docs" / "img"
WORK_TIMEOUT = 120.0
"""Seconds one submitted piece of browser work may take before the test fails."""

T = TypeVar("T")


def _unavailable(why: str) -> None:
    if IN_CI:
        pytest.fail(f"the browser tests need Chromium in CI: {why}")
    pytest.skip(why)


class BrowserThread:
    """The session's Chromium, owned by one dedicated thread.

    Playwright's sync API runs an asyncio loop (in a greenlet) in the thread that starts it,
    and that thread then looks as if a loop were running in it for as long as Playwright lives.
    Started in the main thread, it broke every later test that runs a loop of its own
    (``asyncio.run``, anyio's pytest plugin: "Cannot run the event loop while another loop is
    running"). Here Playwright lives in its own thread; a test hands it work with
    :meth:`run`, which calls ``work(browser, *args)`` there and returns its result (or raises
    what it raised, assertion failures included).
    """

    def __init__(self, executable: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bjy-playwright")
        self._playwright: Any = None
        self._browser: Any = None
        self._pool.submit(self._start, executable).result(timeout=WORK_TIMEOUT)

    def _start(self, executable: str) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=executable, args=LAUNCH_ARGS
            )
        except BaseException:
            self._playwright.stop()
            raise

    def run(self, work: Callable[..., T], *args: Any) -> T:
        """``work(browser, *args)`` on the browser's thread; its result, or its exception."""
        return self._pool.submit(work, self._browser, *args).result(timeout=WORK_TIMEOUT)

    def _stop(self) -> None:
        try:
            if self._browser is not None:
                self._browser.close()
        finally:
            if self._playwright is not None:
                self._playwright.stop()

    def close(self) -> None:
        """Close the browser and Playwright (in their thread), then end the thread."""
        try:
            self._pool.submit(self._stop).result(timeout=WORK_TIMEOUT)
        finally:
            self._pool.shutdown(wait=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[BrowserThread]:
    """The system's Chromium (``chromium`` on PATH), headless, launched once per session in a
    thread of its own: tests pass their browser work to :meth:`BrowserThread.run`."""
    executable = shutil.which("chromium")
    if executable is None:
        _unavailable("no 'chromium' on PATH (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install playwright)")
    assert executable is not None
    thread = BrowserThread(executable)
    try:
        yield thread
    finally:
        thread.close()


class LocalOnly:
    """Route a browser context's requests: loopback ones go on, any other is aborted and kept
    in ``refused`` (a test asserts it stays empty: the pages make no outside request)."""

    def __init__(self, context: Any) -> None:
        self.refused: list[str] = []
        context.route("**/*", self._route)

    def _route(self, route: Any) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.refused.append(url)
            route.abort()


def screenshot(page: Any, name: str, *, full_page: bool = False) -> None:
    """Write ``docs/img/{name}.png`` when BAIJIAYUN_SCREENSHOTS=docs asks for it (a test run
    leaves the tree clean otherwise)."""
    if os.environ.get(SCREENSHOTS_ENV) == "docs":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_IMG / f"{name}.png"), full_page=full_page)
