"""An integrated business camera: its live feed reaches an independent WebRTC client (aiortc) only
while a call within the owner's rules is open nearby, ends when that call closes, and is refused
after the owner's unplug link."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from sqlmodel import Session, select

from dfr.fleet import DEMO_FLEET_FILE
from dfr.main import create_app
from dfr.models import AuditEntry, Role
from dfr.service import Run
from dfr.settings import CameraSettings, Settings, SmtpSettings
from geofence import GeoPoint, destination
from simulator.vehicle.camera import CameraConfig, SimCamera
from simulator.vehicle.camera_render import CameraPose
from tests.conftest import free_udp_ports
from tests.dfr.console.conftest import serving

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SHOP = GeoPoint(38.8420, -104.7600)
OWNER = "shop@example.org"


async def _offer(pc: RTCPeerConnection) -> str:
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return str(pc.localDescription.sdp)


async def _call(
    http: httpx.AsyncClient,
    cad: dict[str, str],
    incident: str,
    priority: int,
    status: str = "Active",
) -> None:
    at = destination(SHOP, 45.0, 120.0)
    response = await http.post(
        "/api/v1/cad/incidents",
        headers=cad,
        json={
            "cad_incident_id": incident,
            "call_type": "ROBB",
            "call_type_text": "Robbery",
            "priority": priority,
            "location": {"lat": at.lat_deg, "lon": at.lon_deg, "address": "Shop"},
            "received_at": datetime.now(UTC).isoformat(),
            "status": status,
        },
    )
    assert response.status_code == 202, response.text


async def test_a_live_feed_only_for_a_qualifying_call_and_never_after_unplug(
    tmp_path: Path,
) -> None:
    settings = Settings(
        mode="test",
        data_dir=tmp_path / "data",
        fleet_file=DEMO_FLEET_FILE,
        smtp=SmtpSettings(sink=True),
        cameras=CameraSettings(live_check_s=0.5),
    )
    (port,) = free_udp_ports(1)
    viewers: list[RTCPeerConnection] = []
    camera = SimCamera(
        CameraConfig(port=port, width_px=320, height_px=180, fps=15, keyint_frames=15),
        lambda: CameraPose(SHOP.lat_deg, SHOP.lon_deg, 5.0, 90.0),
    )
    streaming = asyncio.create_task(camera.run())
    with serving(create_app(settings, run=Run.NONE), "dfr-integrated-cameras") as service:
        admin = {"Authorization": f"Bearer {service.token(Role.ADMIN)}"}
        analyst = {
            "Authorization": f"Bearer {service.token(Role.ANALYST)}",
            "Content-Type": "application/sdp",
        }
        cad = {"Authorization": f"Bearer {service.token(Role.CAD)}"}
        try:
            async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as http:
                added = await http.post(
                    "/api/v1/integrated-cameras",
                    headers=admin,
                    json={
                        "name": "Corner Shop",
                        "owner_email": OWNER,
                        "lat": SHOP.lat_deg,
                        "lon": SHOP.lon_deg,
                        "stream_url": f"udp://127.0.0.1:{port}",
                        "feed": "front door",
                        "live_allowed": True,
                        "max_priority": 2,
                        "radius_m": 500,
                    },
                )
                assert added.status_code == 201, added.text
                live = f"/api/v1/integrated-cameras/{added.json()['id']}/live/whep"

                async def watch() -> httpx.Response:
                    viewers.append(RTCPeerConnection())
                    return await http.post(live, headers=analyst, content=await _offer(viewers[-1]))

                refused = await watch()
                assert refused.status_code == 403 and "no open call" in refused.json()["detail"]
                await _call(http, cad, "SHOP-LOW", 4)  # below the owner's priority
                assert (await watch()).status_code == 403

                await _call(http, cad, "SHOP-ROBBERY", 1)
                answered = await watch()
                assert answered.status_code == 201, answered.text
                viewer = viewers[-1]
                tracks: asyncio.Queue[object] = asyncio.Queue()
                viewer.on("track", tracks.put_nowait)
                await viewer.setRemoteDescription(
                    RTCSessionDescription(sdp=answered.text, type="answer")
                )
                async with asyncio.timeout(60):
                    track = await tracks.get()
                    frame = await track.recv()  # type: ignore[attr-defined]
                assert frame.width == 320

                # The call closes: the service ends the open view itself, whatever the viewer does.
                sessions = service.app.state.service.video.sessions
                await _call(http, cad, "SHOP-ROBBERY", 1, status="Closed")
                async with asyncio.timeout(10):
                    while sessions.sessions():  # noqa: ASYNC110 (polled: no event to wait on)
                        await asyncio.sleep(0.1)
                assert (await watch()).status_code == 403

                await _call(http, cad, "SHOP-ROBBERY-2", 1)
                assert (await watch()).status_code == 201

                mail = (
                    await http.get(
                        "/api/v1/demo/mail",
                        headers={"Authorization": f"Bearer {service.token(Role.TESTER)}"},
                    )
                ).json()["data"]
                unplug = re.search(r"unplug=(dfrl_[\w-]+)", mail[0]["body"])
                assert unplug is not None and mail[0]["to"] == [OWNER]
                unplugged = await http.post(
                    "/api/v1/public/integrated-camera/unplug",
                    headers={"X-Link-Token": unplug.group(1)},
                )
                assert unplugged.status_code == 200, unplugged.text
                # The open live view ended with the unplug.
                assert sessions.sessions() == []
                after = await watch()
                assert after.status_code == 403 and "unplugged" in after.json()["detail"]
        finally:
            streaming.cancel()
            await asyncio.gather(streaming, return_exceptions=True)
            for pc in viewers:
                await pc.close()
        with Session(service.app.state.service.engine) as session:
            actions = [a.action for a in session.exec(select(AuditEntry)).all()]
    assert actions.count("cameras.live_view") == 2
    assert actions.count("cameras.live_ended") == 1
    assert actions.count("cameras.unplugged") == 1
    assert actions.count("cameras.integrated_added") == 1
