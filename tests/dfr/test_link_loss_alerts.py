"""Link-loss alerts people can trust, at x5: a stalled service is not a lost link; a real cut is, until it ends.

The service runs in this test's event loop (so a blocking sleep stalls it as a CPU spike would)
and the simulated drone in a thread of its own, so it keeps flying and talking meanwhile. The
service keeps its default link-loss time (3.5 vehicle seconds, 0.7 s of wall time at x5). D1 flies
a call meanwhile, so the flight's phases and what CAD is told are checked too.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import Session, select

from dfr.auth import create_token
from dfr.db import session_scope
from dfr.main import create_app
from dfr.models import OutboxItem, Role
from dfr.service import Run
from dfr.settings import FlightSettings, Settings, WeatherSettings
from flight import LinkState, VehicleEvent, VehicleEventKind, VehicleId
from geofence import GeoPoint, destination
from simulator.vehicle import FleetConfig, SimDrone, SimFleet, load_fleet_file
from telemetry import AlertBoard
from tests.dfr.video_stack import SAND_CREEK, demo_fleet_file, drone_ports

pytestmark = [pytest.mark.integration, pytest.mark.sim, pytest.mark.timeout(120)]

SPEEDUP = 5.0


@contextlib.contextmanager
def fleet_in_a_thread(config: FleetConfig) -> Iterator[Callable[[Callable[[SimDrone], Any]], None]]:
    """Run the simulated fleet on its own loop; yields a function that runs a call on drone 0 there."""
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def main() -> None:
        holder["loop"] = asyncio.get_running_loop()
        holder["stop"] = stop = asyncio.Event()
        async with SimFleet(config) as fleet:
            holder["fleet"] = fleet
            started.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="sim-fleet", daemon=True)
    thread.start()
    assert started.wait(30), "the simulated fleet did not start"
    loop: asyncio.AbstractEventLoop = holder["loop"]

    def on_drone(call: Callable[[SimDrone], Any]) -> None:
        loop.call_soon_threadsafe(call, holder["fleet"].drone(0))

    try:
        yield on_drone
    finally:
        loop.call_soon_threadsafe(holder["stop"].set)
        thread.join(30)


@contextlib.asynccontextmanager
async def service(
    tmp_path: Path,
) -> AsyncIterator[tuple[FastAPI, Callable[[Callable[[SimDrone], Any]], None]]]:
    mavlink_port, video_port = drone_ports(set())
    fleet_file = demo_fleet_file(tmp_path, [(mavlink_port, video_port)])
    sim_config = load_fleet_file(
        fleet_file, speedup=SPEEDUP, gcs_base_port=None, video_base_port=video_port
    )
    settings = Settings(
        mode="test",
        data_dir=tmp_path / "data",
        fleet_file=fleet_file,
        speedup=SPEEDUP,
        weather=WeatherSettings(static_wind_mps=3.0),
        # The vehicle's own failsafe stays out of the test: it is the service's judgement under test.
        flight=FlightSettings(dll_timeout_s=120.0),
    )
    app = create_app(settings, run=Run.LINKS | Run.DISPATCH)
    with fleet_in_a_thread(sim_config) as on_drone:
        async with app.router.lifespan_context(app):
            yield app, on_drone


def link_alerts(svc: Any) -> list[dict[str, Any]]:
    return [a for a in AlertBoard(svc.hub).alerts() if a["kind"] == "link_lost"]


def cad_texts(svc: Any, call_id: int) -> list[str]:
    with Session(svc.engine) as session:
        rows = session.exec(select(OutboxItem).where(OutboxItem.call_id == call_id)).all()
    return [str(r.payload) for r in rows]


async def test_a_stall_of_the_service_raises_no_alert_nor_cad_note_and_a_real_cut_raises_one_that_clears(
    tmp_path: Path,
) -> None:
    async with service(tmp_path) as (app, on_drone):
        svc = app.state.service
        link = svc.fleet.vehicle(VehicleId("D1"))
        states: list[str] = []

        def on_event(event: VehicleEvent) -> None:
            if event.kind == VehicleEventKind.LINK:
                states.append(str(event.extra.get("state")))

        link.add_listener(lambda _: None, on_event)
        async with asyncio.timeout(30):
            while link.link_state != LinkState.CONNECTED:  # noqa: ASYNC110
                await asyncio.sleep(0.02)

        # A flight in the air, for a call: what CAD is told is under test too.
        with session_scope(svc.engine) as session:
            tokens = {
                r: create_token(session, f"test-{r}", r)[1] for r in (Role.CAD, Role.DISPATCHER)
            }
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(
                transport=transport,
                base_url="http://dfr/api/v1",
                headers={"Authorization": f"Bearer {tokens[Role.CAD]}"},
            ) as cad,
            httpx.AsyncClient(
                transport=transport,
                base_url="http://dfr/api/v1",
                headers={"Authorization": f"Bearer {tokens[Role.DISPATCHER]}"},
            ) as desk,
        ):
            posted = await cad.post("/cad/incidents", json=_incident())
            assert posted.status_code == 202, posted.text
            call_id = int(posted.json()["id"])
            launched = await desk.post(f"/calls/{call_id}/launch", json={"drone_id": "D1"})
            assert launched.status_code == 202, launched.text
            flight_id = int(launched.json()["flight_id"])
            async with asyncio.timeout(60):
                while svc.flights.active_flight_of("D1") is None or (  # noqa: ASYNC110
                    (await desk.get(f"/flights/{flight_id}")).json()["state"] != "en_route"
                ):
                    await asyncio.sleep(0.05)

            time.sleep(1.0)  # noqa: ASYNC251 - a 1 s CPU stall of the service: 5 s of vehicle time
            await asyncio.sleep(1.0)
            assert "lost" not in states, states
            assert link_alerts(svc) == []
            flight = (await desk.get(f"/flights/{flight_id}")).json()
            assert all(e["to_state"] != "link_lost" for e in flight["events"]), flight["events"]
            assert not any("link lost" in t for t in cad_texts(svc, call_id))

            # A real cut: 5 s of wall time, both directions.
            on_drone(lambda d: d.fault_link_cut(5.0 * SPEEDUP, inbound=True, outbound=True))
            async with asyncio.timeout(10):
                while not link_alerts(svc):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            (raised,) = link_alerts(svc)
            assert raised["state"] == "active" and raised["drone_id"] == "D1", raised
            assert "no heartbeat" in raised["text"], raised
            async with asyncio.timeout(20):
                while link_alerts(svc)[0]["state"] != "resolved":  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            (cleared,) = link_alerts(svc)
            assert cleared["id"] == raised["id"] and cleared["resolution"].startswith("link back")
            assert link.link_state == LinkState.CONNECTED
            assert states.count("lost") == 1, states
            flight = (await desk.get(f"/flights/{flight_id}")).json()
            assert any(e["to_state"] == "link_lost" for e in flight["events"]), flight["events"]
            assert any("link lost" in t for t in cad_texts(svc, call_id))


def _incident() -> dict[str, Any]:
    scene = destination(GeoPoint(*SAND_CREEK), 0.0, 1200.0)
    return {
        "cad_incident_id": "LINK-1",
        "agency": "cspd",
        "call_type": "SUSP",
        "priority": 3,
        "location": {"lat": scene.lat_deg, "lon": scene.lon_deg, "address": "test"},
        "received_at": datetime.now(UTC).isoformat(),
        "status": "Active",
        "notes": [],
        "flags": {"in_progress": True, "weapons": False, "outdoor": True},
    }
