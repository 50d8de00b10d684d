"""The analysts' video wall in headless Chromium: every drone's camera at once, and marking a moment.

Real `dfr serve` and `dfr-sim fleet --camera` processes with two drones; the analyst reaches the
wall from the console header, each drone's tile plays its stream over WHEP and its frame count
rises; a pilot flight puts D1 in the air and the tile's "Mark moment" stores a snapshot.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.dfr.console.conftest import ARTIFACTS, VIDEO_BROWSER_MARKS, signed_in_console
from tests.dfr.video_stack import SAND_CREEK, VideoStack

pytestmark = VIDEO_BROWSER_MARKS


async def _tiles(page: Any) -> dict[str, dict[str, Any]]:
    tiles: list[dict[str, Any]] = await page.evaluate("window.dfrWall.tiles()")
    return {t["droneId"]: t for t in tiles}


async def _wait_tiles(
    page: Any, at_least: dict[str, int], timeout_s: float = 120
) -> dict[str, Any]:
    """Wait until each named tile has shown at least that many frames."""
    async with asyncio.timeout(timeout_s):
        while True:
            tiles = await _tiles(page)
            if all(tiles.get(d, {}).get("frames", 0) >= n for d, n in at_least.items()):
                return tiles
            await asyncio.sleep(0.25)


async def test_the_wall_plays_every_drone_and_marks_a_moment(tmp_path: Path) -> None:
    async with (
        VideoStack(tmp_path, speedup=5.0, camera_fps=10, drones=2) as stack,
        signed_in_console(stack.base_url, stack.token("analyst")) as page,
    ):
        wall_link = page.locator("#wall-link")
        await wall_link.wait_for(state="visible")
        await wall_link.click()
        await page.wait_for_url("**/console/wall.html")
        # The console's sign-in carries over (sessionStorage): no second login.
        await page.wait_for_function("() => window.dfrWall && window.dfrWall.ready")
        assert await page.locator("#login").is_hidden()

        assert await page.locator(".tile").count() == 2
        first = await _wait_tiles(page, {"D1": 5, "D2": 5})
        later = await _wait_tiles(page, {d: first[d]["frames"] + 20 for d in ("D1", "D2")})
        for drone in ("D1", "D2"):
            assert later[drone]["state"] == "live", later
            assert later[drone]["frames"] > first[drone]["frames"]
        assert await page.locator(".tile video").count() == 2

        # No flight yet: nothing to mark.
        mark = page.locator('.tile[data-drone-id="D1"] .mark')
        assert await mark.is_disabled()

        lat, lon = SAND_CREEK
        async with stack.client("pilot") as pilot:
            created = await pilot.post(
                "/api/v1/flights",
                json={"drone_id": "D1", "target": {"lat": lat + 0.003, "lon": lon}},
            )
            assert created.status_code == 201, created.text
            flight_id = int(created.json()["id"])
        await page.wait_for_function(
            f"() => document.querySelector('.tile[data-drone-id=\"D1\"]')"
            f".dataset.flightId === '{flight_id}'"
        )
        note = "two people leaving by the north gate"
        page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept(note)))
        async with page.expect_response(
            lambda r: (
                r.url.endswith(f"/api/v1/flights/{flight_id}/snapshots")
                and r.request.method == "POST"
            )
        ) as response_info:
            await mark.click()
        # The wall's own viewers keep D1's stream received: its picture is there to grab.
        response = await response_info.value
        assert response.status == 201, await response.text()
        await page.wait_for_function(
            "() => document.querySelector('.tile[data-drone-id=\"D1\"]').dataset.snapshots === '1'"
        )
        result = await page.locator('.tile[data-drone-id="D1"] .result').inner_text()
        assert "sha256" in result, result
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "video_wall.png"))

        async with stack.client("analyst") as analyst:
            listing = (await analyst.get(f"/api/v1/flights/{flight_id}/snapshots")).json()
        assert listing["count"] == 1
        assert listing["data"][0]["note"] == note
        assert listing["data"][0]["author"] == "video-analyst"
