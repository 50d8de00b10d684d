"""A responding officer's phone opens a view-only link to a call: video, position, and the cut-off.

Real `dfr serve` and `dfr-sim fleet --camera` processes; a dispatcher launches D1 to a call and makes
a link with a PIN; Chromium at phone size (390x844) opens it, is refused a wrong PIN, then plays the
drone's video and shows its position; revoking the link ends the view (and the server-side video
session) within 5 s. An expired link is refused.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import async_playwright
from sqlmodel import Session

from dfr.db import make_engine
from dfr.models import CallShareLink, utcnow
from dfr.settings import Settings
from tests.browser import chromium_launch
from tests.dfr.console.conftest import ARTIFACTS, VIDEO_BROWSER_MARKS
from tests.dfr.video_stack import SAND_CREEK, VideoStack

pytestmark = VIDEO_BROWSER_MARKS
PHONE = {"width": 390, "height": 844}
#: The acceptance bound: a revoked link's viewer is cut off within this.
CUT_OFF_S = 5.0


def _call(lat: float, lon: float) -> dict[str, Any]:
    # A call type the policy flies but never auto-launches: the test launches it itself.
    return {
        "cad_incident_id": "SHARE-1",
        "agency": "cspd",
        "call_type": "SUSP",
        "call_type_text": "Suspicious person",
        "priority": 2,
        "location": {"lat": lat, "lon": lon, "address": "4120 Sand Creek Dr"},
        "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "status": "Active",
        "notes": [],
        "flags": {"in_progress": False, "weapons": False, "outdoor": True},
    }


async def _phone(browser: Any, url: str, violations: list[str]) -> Any:
    context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = await context.new_page()
    page.set_default_timeout(60_000)
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    await page.goto(url)
    return page


async def test_an_officers_phone_sees_video_and_position_and_is_cut_off_when_revoked(
    tmp_path: Path,
) -> None:
    lat, lon = SAND_CREEK
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with VideoStack(tmp_path, speedup=2.0) as stack:
        async with (
            stack.client("cad") as cad,
            stack.client("dispatcher") as desk,
            stack.client("admin") as admin,
        ):
            posted = await cad.post("/api/v1/cad/incidents", json=_call(lat + 0.004, lon))
            assert posted.status_code == 202, posted.text
            call_id = int(posted.json()["id"])
            async with asyncio.timeout(60):
                while (  # noqa: ASYNC110 - the decision is in the service
                    await desk.get(f"/api/v1/calls/{call_id}/decision")
                ).status_code != 200:
                    await asyncio.sleep(0.25)
            launched = await desk.post(f"/api/v1/calls/{call_id}/launch", json={"drone_id": "D1"})
            assert launched.status_code == 202, launched.text

            made = await desk.post(
                f"/api/v1/calls/{call_id}/share", json={"pin": "2468", "max_viewers": 2}
            )
            assert made.status_code == 201, made.text
            link = made.json()
            expiring = (await desk.post(f"/api/v1/calls/{call_id}/share", json={})).json()

            async with async_playwright() as pw:
                browser = await pw.chromium.launch(**chromium_launch(video=True))
                try:
                    violations: list[str] = []
                    phone = await _phone(browser, stack.base_url + link["path"], violations)
                    await phone.locator("#pin-form").wait_for()
                    await phone.locator("#pin").fill("1111")
                    await phone.locator("#pin-submit").click()
                    await phone.locator("#pin-error", has_text="Wrong PIN.").wait_for()
                    assert await phone.locator("#view").is_hidden()
                    await phone.screenshot(path=str(ARTIFACTS / "share-01-wrong-pin.png"))

                    await phone.locator("#pin").fill("2468")
                    await phone.locator("#pin-submit").click()
                    await phone.locator("#view").wait_for()
                    await phone.wait_for_function(
                        "() => Number(document.getElementById('video').dataset.frames) >= 5",
                        timeout=90_000,
                    )
                    await phone.wait_for_function(
                        "() => document.getElementById('drone-line').dataset.lat !== undefined"
                    )
                    shown_lat = float(
                        await phone.locator("#drone-line").get_attribute("data-lat") or 0
                    )
                    assert abs(shown_lat - lat) < 0.02
                    assert "Suspicious person" in await phone.locator("#scene-title").inner_text()
                    assert "D1" in await phone.locator("#drone-line").inner_text()
                    width = await phone.evaluate("document.documentElement.scrollWidth")
                    assert width <= PHONE["width"], (
                        "the page fits the phone without sideways scroll"
                    )
                    await phone.screenshot(path=str(ARTIFACTS / "share-02-phone-live.png"))

                    # A reload keeps the phone's place: no PIN again, still one viewer.
                    await phone.reload()
                    await phone.locator("#view").wait_for()
                    assert await phone.locator("#pin-form").is_hidden()
                    await phone.wait_for_function(
                        "() => Number(document.getElementById('video').dataset.frames) >= 5",
                        timeout=90_000,
                    )
                    listed = (await desk.get(f"/api/v1/calls/{call_id}/shares")).json()["data"]
                    mine = next(x for x in listed if x["id"] == link["id"])
                    assert (mine["opens"], mine["viewers_now"]) == (1, 1)

                    revoked = await desk.delete(f"/api/v1/calls/{call_id}/shares/{link['id']}")
                    assert revoked.status_code == 200
                    started = time.monotonic()
                    await phone.locator('#state[data-state="ended"]').wait_for(
                        timeout=CUT_OFF_S * 1000
                    )
                    assert time.monotonic() - started < CUT_OFF_S
                    assert "revoked" in await phone.locator("#message").inner_text()
                    assert await phone.locator("#view").is_hidden()
                    await phone.screenshot(path=str(ARTIFACTS / "share-03-revoked.png"))
                    # The service itself cut the video session, whatever the page does.
                    async with asyncio.timeout(CUT_OFF_S):
                        while True:
                            ended = (
                                await admin.get(
                                    "/api/v1/audit", params={"action": "video.watch.end"}
                                )
                            ).json()["data"]
                            if any("revoked by video-dispatcher" in e["detail"] for e in ended):
                                break
                            await asyncio.sleep(0.2)
                    opens = (
                        await admin.get("/api/v1/audit", params={"action": "share.open"})
                    ).json()
                    assert opens["count"] == 1
                    wrong = await admin.get(
                        "/api/v1/audit", params={"action": "share.open.wrong_pin"}
                    )
                    assert wrong.json()["count"] == 1

                    # An expired link is refused.
                    engine = make_engine(Settings(data_dir=stack.data_dir).database_url)
                    try:
                        with Session(engine) as session:
                            row = session.get(CallShareLink, expiring["id"])
                            assert row is not None
                            row.expires_at = utcnow() - timedelta(seconds=1)
                            session.add(row)
                            session.commit()
                    finally:
                        engine.dispose()
                    late = await _phone(browser, stack.base_url + expiring["path"], violations)
                    await late.locator('#state[data-state="ended"]').wait_for()
                    assert "expired" in await late.locator("#message").inner_text()
                    assert await late.locator("#view").is_hidden()
                    await late.screenshot(path=str(ARTIFACTS / "share-04-expired.png"))
                    assert violations == [], "the page runs under the service's CSP untouched"
                finally:
                    await browser.close()
