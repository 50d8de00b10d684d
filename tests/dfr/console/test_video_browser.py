"""An analyst opens a drone's live video in the console: WHEP over real HTTP, frames decode in Chromium.

Real `dfr serve` and `dfr-sim fleet --camera` processes; the page signs in with a token, clicks the
drone on the map and its Video button, and the panel's WebRTC player shows the drone's camera.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.dfr.console.conftest import VIDEO_BROWSER_MARKS, signed_in_console
from tests.dfr.video_stack import VideoStack

pytestmark = VIDEO_BROWSER_MARKS


async def _frames(page: Any) -> int:
    return int(await page.evaluate("Number(document.getElementById('video-slot').dataset.frames)"))


async def _wait_frames(page: Any, at_least: int, timeout_s: float = 90) -> int:
    async with asyncio.timeout(timeout_s):
        while (frames := await _frames(page)) < at_least:  # noqa: ASYNC110 - state is in the page
            await asyncio.sleep(0.2)
    return frames


async def test_analyst_opens_a_drones_video_and_frames_decode(tmp_path: Path) -> None:
    async with (
        VideoStack(tmp_path, speedup=2.0) as stack,
        signed_in_console(stack.base_url, stack.token("analyst")) as page,
    ):
        me = await page.evaluate(
            "() => fetch('/api/v1/me', {headers: {Authorization: 'Bearer ' +"
            " sessionStorage.getItem('dfr.token')}}).then(r => r.json())"
        )
        assert me["may"]["video"] is True

        await page.locator(".drone-icon", has_text="D1").click()
        video_button = page.locator('#flight-commands [data-action="video"]')
        async with page.expect_response(
            lambda r: r.url.endswith("/api/v1/drones/D1/video/whep") and r.request.method == "POST"
        ) as offer:
            await video_button.click()
        response = await offer.value
        assert response.status == 201
        assert response.headers["content-type"].startswith("application/sdp")
        assert "/api/v1/drones/D1/video/whep/" in response.headers["location"]
        assert (await response.request.header_value("authorization") or "").startswith("Bearer ")

        first = await _wait_frames(page, 5)
        later = await _wait_frames(page, first + 20)
        assert later > first
        assert await page.locator("#video-slot video").count() == 1

        # The picture is the drone's camera: its frame stamps are readable after decoding.
        stamps = await page.evaluate(
            """async () => {
                const track = window.dfrVideo.current().track.clone();
                const got = [];
                const done = new Promise((resolve) => dfrStampProbe(track, (s) => {
                    if (s.stampMs !== null) got.push(s.stampMs);
                    if (got.length >= 10) resolve();
                }));
                await Promise.race([done, new Promise((r) => setTimeout(r, 30000))]);
                track.stop();
                return got;
            }"""
        )
        assert len(stamps) >= 10 and stamps == sorted(stamps)

        async with page.expect_response(
            lambda r: "/video/whep/" in r.url and r.request.method == "DELETE"
        ) as ended:
            await page.locator("#video-close").click()
        assert (await ended.value).status == 200
        assert await page.locator("#video-panel").is_hidden()
