"""Acceptance in real Chromium: a resident registers a camera and confirms it by the emailed link,
an analyst sees it on the map and requests footage for a call nearby, the owner uploads a clip
through the emailed link, and the analyst downloads it with the same SHA-256. The link refuses a
second case, and refuses after revocation or expiry. A business's integrated camera plays on the
video wall while the calls are open nearby, until its owner's unplug link takes it off. Every email
is read from the real SMTP sink.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from dfr.fleet import DEMO_FLEET_FILE
from dfr.main import create_app
from dfr.models import AuditEntry, FootageLink, Role
from dfr.service import Run
from dfr.settings import Settings, SmtpSettings
from geofence import GeoPoint, destination
from simulator.vehicle.camera import CameraConfig, SimCamera
from simulator.vehicle.camera_render import CameraPose
from tests.cameras.clips import tiny_mp4
from tests.conftest import free_udp_ports
from tests.dfr.console.conftest import ARTIFACTS, LiveService, require_leaflet, serving

pytestmark = [pytest.mark.browser, pytest.mark.integration]

SCENE = GeoPoint(38.8420, -104.7600)
RESIDENT = "rita@example.org"
SHOP_OWNER = "shop@example.org"


@pytest.fixture
def mail_service(tmp_path: Path) -> Iterator[LiveService]:
    require_leaflet()
    settings = Settings(
        mode="test",
        data_dir=tmp_path / "data",
        fleet_file=DEMO_FLEET_FILE,
        smtp=SmtpSettings(sink=True),
    )
    with serving(create_app(settings, run=Run.NONE), "dfr-cameras-service") as service:
        yield service


def _mail(service: LiveService) -> list[dict[str, Any]]:
    with service.http(Role.TESTER) as tester:
        return list(tester.get("/api/v1/demo/mail").json()["data"])


def _link(service: LiveService, email: str, pattern: str) -> str:
    """The newest emailed link to `email` whose URL matches `pattern`."""
    for mail in _mail(service):
        if email in mail["to"]:
            found = re.search(pattern, mail["body"])
            if found:
                return found.group(0)
    raise AssertionError(f"no link {pattern!r} emailed to {email}")


def _register_by_api(service: LiveService, email: str, at: GeoPoint) -> None:
    with httpx.Client(base_url=service.base_url) as client:
        created = client.post(
            "/api/v1/public/camera-registrations",
            json={"owner_name": "Neighbour", "email": email, "lat": at.lat_deg, "lon": at.lon_deg},
        )
        assert created.status_code == 202, created.text
        token = _link(service, email, r"confirm=(dfrl_[\w-]+)").removeprefix("confirm=")
        confirmed = client.post(
            "/api/v1/public/camera-registration/confirm", headers={"X-Link-Token": token}
        )
        assert confirmed.status_code == 200, confirmed.text


def _call(service: LiveService, incident: str, at: GeoPoint) -> int:
    with service.http(Role.CAD) as cad:
        response = cad.post(
            "/api/v1/cad/incidents",
            json={
                "cad_incident_id": incident,
                "call_type": "BURG",
                "call_type_text": "Burglary",
                "priority": 2,
                "location": {
                    "lat": at.lat_deg,
                    "lon": at.lon_deg,
                    "address": "1200 N Academy Blvd",
                },
                "received_at": datetime.now(UTC).isoformat(),
                "status": "Active",
            },
        )
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


def _upload_error(page: Any, url: str, clip: Path) -> str:
    page.goto("about:blank")
    page.goto(url)
    # The page either opens the link (ready) or says at once why not.
    page.wait_for_function(
        "() => document.body.dataset.ready === 'true'"
        " || document.getElementById('error').textContent.length > 0"
    )
    if not page.locator("#error").text_content():
        page.locator("#file").set_input_files(str(clip))
        page.locator("#send").click()
    page.wait_for_function("() => document.getElementById('error').textContent.length > 0")
    return str(page.locator("#error").text_content())


def test_a_resident_camera_answers_a_footage_request_end_to_end(
    mail_service: LiveService, browser_page: Any, tmp_path: Path
) -> None:
    page, service = browser_page, mail_service
    camera_at = destination(SCENE, 0.0, 80.0)

    # The resident registers on the public page and confirms by the emailed link.
    page.goto(service.base_url + "/console/register.html")
    page.locator("#owner_name").fill("Rita Resident")
    page.locator("#email").fill(RESIDENT)
    page.locator("#lat").fill(f"{camera_at.lat_deg:.6f}")
    page.locator("#lon").fill(f"{camera_at.lon_deg:.6f}")
    page.locator("#facing_deg").fill("180")
    page.locator("#fov_deg").fill("100")
    page.locator("#street_facing").check()
    page.locator("#rec-street").check()
    page.locator("#submit").click()
    page.wait_for_function(
        "() => document.getElementById('status').textContent.includes('emailed')"
    )
    page.screenshot(path=str(ARTIFACTS / "cameras-1-registered.png"))
    confirm_url = _link(service, RESIDENT, r"http\S+#confirm=dfrl_[\w-]+")
    page.goto(confirm_url)
    page.wait_for_function("() => document.body.dataset.confirmed === 'true'")
    assert "#confirm" not in page.url  # the token left the address bar

    _register_by_api(service, "ned@example.org", destination(SCENE, 90.0, 150.0))
    _register_by_api(service, "far@example.org", destination(SCENE, 0.0, 3000.0))
    call_id = _call(service, "CAM-B-1", SCENE)
    (shop_port,) = free_udp_ports(1)
    with service.http(Role.ADMIN) as admin:
        shop = {
            "name": "Corner Shop",
            "owner_email": SHOP_OWNER,
            "lat": SCENE.lat_deg,
            "lon": SCENE.lon_deg + 0.001,
            "stream_url": f"udp://127.0.0.1:{shop_port}",
            "feed": "front door",
            "live_allowed": True,
            "max_priority": 2,
        }
        added = admin.post("/api/v1/integrated-cameras", json=shop)
        assert added.status_code == 201, added.text
        shop_id = int(added.json()["id"])

    # The analyst sees the camera on the map and requests footage in one action.
    page.goto(service.base_url + "/")
    page.locator("#login-token").fill(service.token(Role.ANALYST))
    page.locator("#login-submit").click()
    page.wait_for_function("() => window.dfrCameras && window.dfrCameras.ready")
    assert page.evaluate("() => window.dfrCameras.markers.size") == 3
    assert page.evaluate("() => window.dfrCameras.integrated.size") == 1
    page.locator("#cameras-call").select_option(str(call_id))
    page.locator("#cameras-find").click()
    page.wait_for_function(
        "() => document.getElementById('cameras-status').textContent.includes('2 owners')"
    )
    page.locator("#cameras-message").fill("Burglary at 1200 N Academy; anything between 10 and 11?")
    page.locator("#cameras-request").click()
    page.wait_for_function(
        "() => document.getElementById('cameras-status').textContent.includes('emailed to 2')"
    )
    page.screenshot(path=str(ARTIFACTS / "cameras-2-requested.png"))
    asked = {m["to"][0] for m in _mail(service) if m["subject"] == "A request for camera footage"}
    assert asked == {RESIDENT, "ned@example.org"}

    # The owner uploads a clip through the link.
    clip = tiny_mp4(tmp_path / "porch.mp4")
    sha = hashlib.sha256(clip.read_bytes()).hexdigest()
    upload_url = _link(service, RESIDENT, r"http\S+#request=\d+&token=dfrl_[\w-]+")
    owner = page.context.browser.new_page()
    owner.goto(upload_url)
    owner.wait_for_function("() => document.body.dataset.ready === 'true'")
    owner.locator("#file").set_input_files(str(clip))
    owner.locator("#send").click()
    owner.locator(f'#clips li[data-sha256="{sha}"]').wait_for()
    owner.screenshot(path=str(ARTIFACTS / "cameras-3-uploaded.png"))

    # The clip is on the call with its hash; a download hashes the same.
    page.locator("#cameras-find").click()
    page.locator(f'#cameras-clips li[data-sha256="{sha}"]').wait_for()
    page.locator("#cameras-clips button").first.click()
    page.wait_for_function("() => window.dfrCameras.verified.size === 1")
    assert page.evaluate("() => [...window.dfrCameras.verified.values()][0]") == sha
    page.screenshot(path=str(ARTIFACTS / "cameras-4-verified.png"))

    # A second case: the first link refuses it.
    second = _call(service, "CAM-B-2", destination(SCENE, 0.0, 30.0))
    with service.http(Role.ANALYST) as analyst:
        window = {
            "window_start": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "window_end": datetime.now(UTC).isoformat(),
            "message": "second case",
        }
        assert (
            analyst.post(f"/api/v1/calls/{second}/footage-requests", json=window).status_code == 201
        )
        second_request = analyst.get(f"/api/v1/calls/{second}/footage").json()["requests"][0]["id"]
    other_case = re.sub(r"request=\d+", f"request={second_request}", upload_url)
    assert "another case" in _upload_error(owner, other_case, clip)

    # Revoked by the analyst: the link refuses.
    page.locator("#cameras-call").select_option(str(call_id))
    page.locator("#cameras-find").click()
    with service.http(Role.ANALYST) as analyst:
        nearest = analyst.get(f"/api/v1/calls/{call_id}/cameras").json()["data"][0]["id"]
    page.locator(f'#cameras-footage button[data-registration-id="{nearest}"]').click()
    page.locator('#cameras-footage li[data-state="revoked"]').first.wait_for()
    assert "revoked" in _upload_error(owner, upload_url, clip)

    # Expired: the resident's link for the second case, past its expiry, refuses.
    second_url = _link(service, RESIDENT, rf"http\S+#request={second_request}&token=dfrl_[\w-]+")
    with Session(service.app.state.service.engine) as session:
        session.exec(
            update(FootageLink)
            .where(FootageLink.call_id == second)  # type: ignore[arg-type]
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        session.commit()
    assert "expired" in _upload_error(owner, second_url, clip)
    owner.screenshot(path=str(ARTIFACTS / "cameras-5-refused.png"))

    # The demo mailbox shows every email as text to a tester.
    mailbox = page.context.browser.new_page()
    mailbox.goto(service.base_url + "/demo/mail")
    mailbox.locator("#mail-token").fill(service.token(Role.TESTER))
    mailbox.locator("#mail-login button").click()
    mailbox.wait_for_function(
        "() => Number(document.body.dataset.count) === " + str(len(_mail(service)))
    )
    assert mailbox.locator(".mail-body").first.evaluate("e => e.children.length") == 0

    # The wall plays the shop's camera while a call within its owner's rules is open nearby.
    shop_camera = SimCamera(
        CameraConfig(port=shop_port, width_px=320, height_px=180, fps=15, keyint_frames=15),
        lambda: CameraPose(SCENE.lat_deg, SCENE.lon_deg + 0.001, 5.0, 270.0),
    )
    streaming = asyncio.run_coroutine_threadsafe(shop_camera.run(), service.loop)
    try:
        page.goto(service.base_url + "/console/wall.html")
        page.wait_for_function("() => window.dfrWall && window.dfrWall.ready")
        tile = page.locator(f'.tile[data-camera-id="{shop_id}"]')
        tile.wait_for()
        assert tile.locator("header strong").inner_text() == "Corner Shop"
        assert int(str(tile.get_attribute("data-call-id"))) in {call_id, second}
        video = f"document.querySelector('.tile[data-camera-id=\"{shop_id}\"] video')"
        page.wait_for_function(f"() => {{ const v = {video}; return v && v.readyState >= 2 }}")
        started = float(page.evaluate(f"() => {video}.currentTime"))
        page.wait_for_function(f"() => {video}.currentTime > {started + 0.5}")
        page.screenshot(path=str(ARTIFACTS / "cameras-6-wall-live.png"))

        # The owner's unplug link: the tile leaves the wall within seconds, its session ended.
        owner.goto(_link(service, SHOP_OWNER, r"http\S+#unplug=dfrl_[\w-]+"))
        unplugged_at = time.monotonic()
        owner.locator("#unplug").click()
        owner.wait_for_function(
            "() => document.getElementById('status').textContent.includes('unplugged')"
        )
        tile.wait_for(state="detached", timeout=5_000)
        assert time.monotonic() - unplugged_at < 5.0
        assert page.evaluate("() => window.dfrWall.cameras().length") == 0
        assert service.app.state.service.video.sessions.sessions() == []
        page.screenshot(path=str(ARTIFACTS / "cameras-7-wall-unplugged.png"))
    finally:
        streaming.cancel()
    with Session(service.app.state.service.engine) as session:
        live_views = session.exec(
            select(AuditEntry).where(col(AuditEntry.action) == "cameras.live_view")
        ).all()
    assert len(live_views) >= 1
