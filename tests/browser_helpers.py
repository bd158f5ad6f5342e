"""Debian's Chromium driven by Playwright: one browser per test session, loopback traffic only."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest

__all__ = ["LOCAL_HOSTS", "Chromium", "LocalOnly", "browser", "screenshot"]

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
"""Set to ``docs`` to (re)write the README's screenshots under docs/img/."""
DOCS_IMG = Path(__file__).resolve().parents[1] / "docs" / "img"


def _unavailable(why: str) -> None:
    if IN_CI:
        pytest.fail(f"the browser tests need Chromium in CI: {why}")
    pytest.skip(why)


T = TypeVar("T")


class Chromium:
    """The browser, living in a thread of its own: Playwright's sync API keeps an event loop
    running in the thread that started it, which would break ``asyncio.run`` in every later
    test of the session if that were the main thread. ``run(work)`` calls ``work(browser)``
    there and returns its result (or raises its exception)."""

    def __init__(self, executable: str) -> None:
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="chromium")
        self._playwright: Any = None
        self._browser: Any = self._thread.submit(self._launch, executable).result()

    def _launch(self, executable: str) -> Any:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        return self._playwright.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)

    def run(self, work: Callable[[Any], T]) -> T:
        """``work(browser)`` on the browser's thread."""
        return self._thread.submit(work, self._browser).result()

    def close(self) -> None:
        """Close the browser and stop Playwright and its thread."""

        def stop(browser: Any) -> None:
            browser.close()
            self._playwright.stop()

        try:
            self.run(stop)
        finally:
            self._thread.shutdown()


@pytest.fixture(scope="session")
def browser() -> Iterator[Chromium]:
    """The system's Chromium (``chromium`` on PATH), headless, launched once per session."""
    executable = shutil.which("chromium")
    if executable is None:
        _unavailable("no 'chromium' on PATH (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install playwright)")
    assert executable is not None
    chromium = Chromium(executable)
    try:
        yield chromium
    finally:
        chromium.close()


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


def screenshot(page: Any, name: str) -> None:
    """Write ``docs/img/{name}.png`` when BAIJIAYUN_SCREENSHOTS=docs asks for it (a test run
    leaves the tree clean otherwise)."""
    if os.environ.get(SCREENSHOTS_ENV) == "docs":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_IMG / f"{name}.png"))
