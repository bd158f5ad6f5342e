"""Debian's Chromium driven by Playwright: one browser per test session, loopback traffic only."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

__all__ = ["LOCAL_HOSTS", "LocalOnly", "browser", "screenshot"]

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


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """The system's Chromium (``chromium`` on PATH), headless, launched once per session."""
    executable = shutil.which("chromium")
    if executable is None:
        _unavailable("no 'chromium' on PATH (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            launched.close()


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
