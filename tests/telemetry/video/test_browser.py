"""A real headless Chromium joins a drone's stream over WebRTC (WHEP offer/answer) and decodes it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from telemetry.video import RtpIngest, StreamState, WhepSessions
from tests.browser import CHROMIUM, chromium_launch, open_whep_viewer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian chromium (scripts/setup-system.sh)"
    ),
]


async def test_headless_chromium_decodes_the_drone_stream_with_readable_timestamps(
    ingest: RtpIngest, whep: Callable[..., WhepSessions]
) -> None:
    from playwright.async_api import async_playwright

    await ingest.wait_state(StreamState.LIVE, 20)
    sessions = whep()

    async def offer(sdp: str) -> str:
        return (await sessions.answer(ingest, sdp, viewer="chromium")).sdp

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(**chromium_launch(video=True))
        try:
            page = await open_whep_viewer(browser, offer)
            async with asyncio.timeout(90):
                while await page.evaluate("window.samples.length") < 30:  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
            samples = await page.evaluate("window.samples")
        finally:
            await browser.close()
    stamps = [s["stampMs"] for s in samples if s["stampMs"] is not None]
    assert len(stamps) >= 0.9 * len(samples)
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert {(s["width"], s["height"]) for s in samples} == {(320, 180)}
