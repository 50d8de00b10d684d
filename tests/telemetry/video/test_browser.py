"""A real headless Chromium joins a drone's stream over WebRTC (WHEP offer/answer) and decodes it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import telemetry.video
from telemetry.video import RtpIngest, StreamState, WhepSessions

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
CLIENT_JS = Path(telemetry.video.__file__).parent / "static" / "whep_client.js"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="needs Debian chromium (scripts/setup-system.sh)"
    ),
]


async def test_headless_chromium_decodes_the_drone_stream_with_readable_timestamps(
    ingest: RtpIngest,
) -> None:
    from playwright.async_api import async_playwright

    await ingest.wait_state(StreamState.LIVE, 20)
    sessions = WhepSessions()

    async def offer(sdp: str) -> str:
        return (await sessions.answer(ingest, sdp, viewer="chromium")).sdp

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.expose_function("whepOffer", offer)
            await page.add_script_tag(content=CLIENT_JS.read_text())
            await page.evaluate(
                """async () => {
                    window.samples = [];
                    const s = await dfrWhepPlay({signal: (sdp) => window.whepOffer(sdp)});
                    dfrStampProbe(s.track, (x) => window.samples.push(x));
                }"""
            )
            async with asyncio.timeout(90):
                while await page.evaluate("window.samples.length") < 30:  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
            samples = await page.evaluate("window.samples")
        finally:
            await browser.close()
            await sessions.aclose()
    stamps = [s["stampMs"] for s in samples if s["stampMs"] is not None]
    assert len(stamps) >= 0.9 * len(samples)
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert {(s["width"], s["height"]) for s in samples} == {(320, 180)}
