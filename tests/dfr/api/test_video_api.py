from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dfr.api.routes import video
from dfr.cli import app as cli_app
from dfr.main import create_app
from dfr.models import Role
from dfr.service import Run
from dfr.settings import Settings
from simulator.vehicle.camera import CameraConfig, SimCamera
from simulator.vehicle.camera_render import CameraPose
from telemetry.video import RtpEndpoint, RtpIngest
from telemetry.video.manifest import verify_recording
from telemetry.video.recorder import StreamRecorder

from ..conftest import TokenFactory

pytestmark = pytest.mark.databases

WHEP = "/api/v1/drones/{}/video/whep"


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    service = create_app(settings, run=Run.RECORDINGS)
    service.include_router(video.router, prefix="/api/v1")
    return service


def _drone_id(client: TestClient, auth: TokenFactory) -> str:
    drones = client.get("/api/v1/drones", headers=auth(Role.ADMIN)).json()["data"]
    return str(drones[0]["id"])


def test_whep_requires_a_viewer_role(client: TestClient, auth: TokenFactory) -> None:
    drone = _drone_id(client, auth)
    sdp = {"Content-Type": "application/sdp"}
    assert client.post(WHEP.format(drone), content="v=0", headers=sdp).status_code == 401
    resp = client.post(WHEP.format(drone), content="v=0", headers={**sdp, **auth(Role.CAD)})
    assert resp.status_code == 403


def test_whep_refuses_bad_offers_with_problem_json(client: TestClient, auth: TokenFactory) -> None:
    drone = _drone_id(client, auth)
    headers = {**auth(Role.ANALYST), "Content-Type": "application/sdp"}
    resp = client.post(WHEP.format(drone), content="hello", headers=headers)
    assert resp.status_code == 422 and "v=0" in resp.text
    resp = client.post(
        WHEP.format(drone),
        content="v=0",
        headers={**auth(Role.ANALYST), "Content-Type": "text/plain"},
    )
    assert resp.status_code in (415, 422)
    resp = client.post(WHEP.format("no-such-drone"), content="v=0", headers=headers)
    assert resp.status_code == 404


def test_unknown_session_delete_is_404(client: TestClient, auth: TokenFactory) -> None:
    drone = _drone_id(client, auth)
    resp = client.delete(WHEP.format(drone) + "/nope", headers=auth(Role.PILOT))
    assert resp.status_code == 404


async def _record(directory: Path) -> None:
    async with RtpIngest("d1", RtpEndpoint("127.0.0.1", 0)) as ingest:
        camera = SimCamera(
            CameraConfig(port=ingest.port, width_px=160, height_px=96, keyint_frames=10),
            lambda: CameraPose(52.5, 13.4, 40.0),
        )
        cam_task = asyncio.create_task(camera.run())
        recorder = StreamRecorder(ingest, directory, flight_id="1", segment_s=0.3)
        rec_task = asyncio.create_task(recorder.run())
        async with asyncio.timeout(60):
            while recorder.status().segments < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        for task in (rec_task, cam_task):
            task.cancel()
        await asyncio.gather(rec_task, cam_task, return_exceptions=True)


@pytest.mark.integration
def test_recordings_list_export_and_cli_verify(
    app: FastAPI, client: TestClient, auth: TokenFactory, tmp_path: Path
) -> None:
    directory = app.state.service.video.recording_dir(1)
    asyncio.run(_record(directory))
    assert (
        client.get("/api/v1/flights/1/recordings", headers=auth(Role.DISPATCHER)).status_code == 403
    )
    listing = client.get("/api/v1/flights/1/recordings", headers=auth(Role.ANALYST)).json()
    assert listing["count"] == 1 and listing["data"][0]["verification"]["ok"]
    export = client.get("/api/v1/flights/1/recordings/export", headers=auth(Role.ANALYST))
    assert export.status_code == 200 and export.content[:2] == b"PK"
    audit = client.get("/api/v1/admin/audit", headers=auth(Role.ADMIN))
    if audit.status_code == 200:
        assert "video.export" in audit.text
    runner = CliRunner()
    assert runner.invoke(cli_app, ["recordings", "verify", str(directory)]).exit_code == 0
    copy = tmp_path / "copy"
    shutil.copytree(directory, copy)
    segment = copy / "seg_00001.mp4"
    data = bytearray(segment.read_bytes())
    data[100] ^= 0xFF
    segment.write_bytes(bytes(data))
    result = runner.invoke(cli_app, ["recordings", "verify", str(copy)])
    assert result.exit_code == 1 and '"first_bad_segment": 1' in result.stdout
    assert not verify_recording(copy).ok
