"""Simulated residents over HTTP only: they register, confirm by the emailed links, and answer a
footage request with generated clips that the service takes as evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from dfr.fleet import DEMO_FLEET_FILE
from dfr.main import create_app
from dfr.models import Role
from dfr.service import Run
from dfr.settings import CameraSettings, Settings, SmtpSettings
from simulator.residents import Residents, ResidentsConfig
from tests.dfr.console.conftest import serving

pytestmark = pytest.mark.integration

CENTER = (38.8420, -104.7600)


async def test_residents_register_confirm_and_answer_a_footage_request(tmp_path: Path) -> None:
    settings = Settings(
        mode="test",
        data_dir=tmp_path / "data",
        fleet_file=DEMO_FLEET_FILE,
        smtp=SmtpSettings(sink=True),
        cameras=CameraSettings(registrations_per_hour=50),
    )
    with serving(create_app(settings, run=Run.NONE), "dfr-residents") as service:
        config = ResidentsConfig(
            base_url=service.base_url,
            tester_token=service.token(Role.TESTER),
            count=4,
            center_lat=CENTER[0],
            center_lon=CENTER[1],
            radius_m=150.0,
            answer_rate=1.0,
        )
        analyst = {"Authorization": f"Bearer {service.token(Role.ANALYST)}"}
        cad = {"Authorization": f"Bearer {service.token(Role.CAD)}"}
        async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as http:
            residents = Residents(config, http)
            await residents.register_all()
            await residents.read_mail_once()
            assert all(r.confirmed for r in residents.residents)
            cameras = (await http.get("/api/v1/cameras", headers=analyst)).json()
            assert cameras["count"] == 4

            call = await http.post(
                "/api/v1/cad/incidents",
                headers=cad,
                json={
                    "cad_incident_id": "RES-1",
                    "call_type": "BURG",
                    "priority": 2,
                    "location": {"lat": CENTER[0], "lon": CENTER[1]},
                    "received_at": datetime.now(UTC).isoformat(),
                },
            )
            assert call.status_code == 202, call.text
            call_id = call.json()["id"]
            now = datetime.now(UTC)
            asked = await http.post(
                f"/api/v1/calls/{call_id}/footage-requests",
                headers=analyst,
                json={
                    "window_start": (now - timedelta(hours=1)).isoformat(),
                    "window_end": now.isoformat(),
                    "message": "Anything on the street?",
                    "radius_m": 300,
                },
            )
            assert asked.status_code == 201, asked.text
            owners = len(asked.json()["links"])
            assert owners >= 1
            await residents.read_mail_once()
            assert residents.uploads == owners
            footage = (await http.get(f"/api/v1/calls/{call_id}/footage", headers=analyst)).json()
            assert len(footage["clips"]) == owners
            assert all(len(c["sha256"]) == 64 and c["codec"] == "mpeg4" for c in footage["clips"])
