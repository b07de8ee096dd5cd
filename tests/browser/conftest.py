"""Browser tests: a real uvicorn server in a background thread and Debian's Chromium driven by Playwright.

Chromium comes from the distribution (``apt-get install chromium fonts-noto-cjk``), never from
``playwright install``. Without ``/usr/bin/chromium`` the browser tests are skipped with the reason shown.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sunbid.platform.container import Platform

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT_DIR_ENV = "SUNBID_SCREENSHOTS"  # set to keep the screenshots (e.g. as CI artefacts)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} missing: apt-get install chromium fonts-noto-cjk (CI does)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def live_server(platform: Platform) -> Iterator[str]:
    """The app on 127.0.0.1 and a free port, served by uvicorn in a thread; yields its base URL."""
    import uvicorn

    from sunbid.app import create_app

    app = create_app(platform, start_worker=False)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the browser tests (the distribution's binary).

    Package-scoped: Playwright's sync API keeps an asyncio loop running in the main thread while it is started, so
    it must stop when the browser tests are done, before other tests call ``asyncio.run`` (pyHanko, SSE tests).
    """
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    """Where screenshots go: ``$SUNBID_SCREENSHOTS`` when set, else the test's temporary directory."""
    wanted = os.environ.get(SCREENSHOT_DIR_ENV)
    path = Path(wanted) if wanted else tmp_path / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Tab:
    """A page in a fresh browser context (Chinese browser locale) and the console errors it logged."""

    page: Page
    base: str
    errors: list[str] = field(default_factory=list)

    def goto(self, path: str) -> None:
        response = self.page.goto(self.base + path)
        assert response is not None and response.ok, f"GET {path}: {response and response.status}"


@pytest.fixture
def tab(browser: Browser, live_server: str) -> Iterator[Tab]:
    """A new context per test, so cookies never leak between tests; CSP violations show up as errors."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    t = Tab(page, live_server)

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            t.errors.append(msg.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: t.errors.append(str(exc)))
    try:
        yield t
    finally:
        context.close()
