"""A flight posted right after the drone connects launches (the vehicle has heard our GCS heartbeat).

The service starts first and the simulated drone after it, as when a dock powers up; real time
(speed-up 1), so the race is as wide as on a real PX4: one GCS heartbeat period.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from dfr.auth import create_token
from dfr.db import session_scope
from dfr.main import create_app
from dfr.models import Role
from dfr.service import Run
from dfr.settings import FlightSettings, Settings, WeatherSettings
from flight import LinkState, VehicleId
from geofence import GeoPoint, destination
from simulator.vehicle import SimFleet, load_fleet_file
from tests.dfr.video_stack import SAND_CREEK, demo_fleet_file, drone_ports

pytestmark = [pytest.mark.integration, pytest.mark.sim, pytest.mark.timeout(120)]

SCENE = destination(GeoPoint(*SAND_CREEK), 0.0, 800.0)


async def test_a_flight_posted_a_tenth_of_a_second_after_the_drone_connects_launches(
    tmp_path: Path,
) -> None:
    mavlink_port, video_port = drone_ports(set())
    fleet_file = demo_fleet_file(tmp_path, [(mavlink_port, video_port)])
    sim_config = load_fleet_file(
        fleet_file, speedup=1.0, gcs_base_port=None, video_base_port=video_port
    )
    settings = Settings(
        mode="test",
        data_dir=tmp_path / "data",
        fleet_file=fleet_file,
        speedup=1.0,
        weather=WeatherSettings(static_wind_mps=3.0),
        flight=FlightSettings(heartbeat_timeout_s=30.0, dll_timeout_s=60.0),
    )
    app = create_app(settings, run=Run.LINKS | Run.DISPATCH)
    async with app.router.lifespan_context(app), contextlib.AsyncExitStack() as stack:
        service = app.state.service
        with session_scope(service.engine) as session:
            tokens = {
                r: create_token(session, f"test-{r}", r)[1]
                for r in (Role.CAD, Role.DISPATCHER, Role.PILOT)
            }
        transport = httpx.ASGITransport(app=app)

        def client(role: Role) -> httpx.AsyncClient:
            return httpx.AsyncClient(
                transport=transport,
                base_url="http://dfr/api/v1",
                headers={"Authorization": f"Bearer {tokens[role]}"},
                timeout=30.0,
            )

        cad = await stack.enter_async_context(client(Role.CAD))
        dispatcher = await stack.enter_async_context(client(Role.DISPATCHER))
        pilot = await stack.enter_async_context(client(Role.PILOT))
        body = {
            "cad_incident_id": "RACE-1",
            "agency": "cspd",
            "call_type": "SUSP",
            "priority": 3,
            "location": {"lat": SCENE.lat_deg, "lon": SCENE.lon_deg, "address": "test"},
            "received_at": datetime.now(UTC).isoformat(),
            "status": "Active",
            "notes": [],
            "flags": {"in_progress": True, "weapons": False, "outdoor": True},
        }
        posted = await cad.post("/cad/incidents", json=body)
        assert posted.status_code == 202, posted.text
        call_id = int(posted.json()["id"])
        # The link to D1 exists before the drone does (its dock is still powering up).
        async with asyncio.timeout(30):
            while VehicleId("D1") not in service.fleet.vehicle_ids():  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        link = service.fleet.vehicle(VehicleId("D1"))
        sim = await stack.enter_async_context(SimFleet(sim_config))
        async with asyncio.timeout(30):
            while link.link_state != LinkState.CONNECTED:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
        await asyncio.sleep(0.1)
        launched = await dispatcher.post(f"/calls/{call_id}/launch", json={"drone_id": "D1"})
        assert launched.status_code == 202, launched.text
        flight_id = int(launched.json()["flight_id"])
        state = ""
        events: list[tuple[str, str]] = []

        def started() -> bool:
            return any(reason.startswith("mission started") for _, reason in events)

        async with asyncio.timeout(60):
            while state != "aborted" and not started():
                await asyncio.sleep(0.05)
                flight = (await pilot.get(f"/flights/{flight_id}")).json()
                state = flight["state"]
                events = [(e["to_state"], e["reason"]) for e in flight["events"]]
        assert started() and state != "aborted", events
        assert sim.drone(0).snapshot().armed
