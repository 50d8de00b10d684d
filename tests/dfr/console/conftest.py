"""A real service (uvicorn on a free loopback port, in a thread), a headless Chromium page, and a
signed-in console page for the video tests."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from dfr.auth import create_token
from dfr.console import leaflet_dir
from dfr.db import session_scope
from dfr.fleet import DEMO_FLEET_FILE
from dfr.main import create_app
from dfr.models import Role
from dfr.service import Run
from dfr.settings import Settings
from telemetry import Hub, StreamMessage
from tests.browser import CHROMIUM, CHROMIUM_ARGS, chromium_launch
from tests.conftest import free_tcp_port, no_collection_pauses

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "console"
#: The video tests' marks: real `dfr serve` and `dfr-sim` processes, Chromium playing WebRTC.
VIDEO_BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.sim,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium"),
]


@dataclass
class LiveService:
    """The running service: its URL, app, event loop, and helpers acting on it."""

    base_url: str
    app: FastAPI
    loop: asyncio.AbstractEventLoop

    def token(self, role: Role) -> str:
        with session_scope(self.app.state.service.engine) as session:
            _, secret = create_token(session, f"browser-{role.value}-{time.monotonic_ns()}", role)
        return secret

    def run(self, fn: Callable[[], Any]) -> Any:
        """Call `fn` on the service's event loop (the hub is not thread-safe) and return its result."""

        async def call() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout=30)

    def publish(self, message: StreamMessage) -> None:
        hub: Hub = self.app.state.service.hub
        self.run(lambda: hub.publish(message))

    def http(self, role: Role) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.token(role)}"},
            timeout=30,
        )


@contextmanager
def serving(app: FastAPI, thread_name: str) -> Iterator[LiveService]:
    """`app` under uvicorn on a free loopback port, in a thread, until the block ends."""
    port = free_tcp_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name=thread_name, daemon=True)
    with no_collection_pauses():
        thread.start()
        try:
            deadline = time.monotonic() + 60
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    pytest.fail("the service did not start")
                time.sleep(0.05)
            yield LiveService(
                base_url=f"http://127.0.0.1:{port}", app=app, loop=app.state.service.loop
            )
        finally:
            server.should_exit = True
            thread.join(timeout=30)


def require_leaflet() -> None:
    """Fail (not skip) when the console's map library is not installed."""
    if leaflet_dir() is None:
        pytest.fail("Leaflet is not installed: run scripts/setup.sh (npm ci)")


@pytest.fixture
def live_service(tmp_path: Path) -> Iterator[LiveService]:
    require_leaflet()
    settings = Settings(mode="test", data_dir=tmp_path / "data", fleet_file=DEMO_FLEET_FILE)
    with serving(create_app(settings, run=Run.NONE), "dfr-console-service") as service:
        yield service


@pytest.fixture
def browser_page() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: run scripts/setup-system.sh as root")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            browser.close()


@asynccontextmanager
async def signed_in_console(base_url: str, token: str) -> AsyncIterator[Any]:
    """A console page in headless Chromium (video flags), signed in with `token` and ready."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(**chromium_launch(video=True))
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(60_000)
            await page.goto(base_url + "/")
            await page.locator("#login-token").fill(token)
            await page.locator("#login-submit").click()
            await page.wait_for_function("() => window.dfrConsole && window.dfrConsole.ready")
            yield page
        finally:
            await browser.close()
