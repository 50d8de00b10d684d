"""An in-process rig: the service (flight links and dispatcher, HTTP through ASGI) and D1.

The service and the PX4-compatible simulator run in this process on free loopback UDP ports, time
sped up. The demo fleet is reduced to D1 at the Sand Creek dock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session, col, select

from dfr.auth import create_token
from dfr.db import session_scope
from dfr.flights import FlightService
from dfr.main import create_app
from dfr.models import OutboxItem, Role
from dfr.service import Run
from dfr.settings import FlightSettings, Settings, WeatherSettings
from flight import LinkState
from geofence import GeoPoint
from simulator.vehicle import DroneSnapshot, SimFleet, load_fleet_file
from tests.dfr.video_stack import SAND_CREEK, demo_fleet_file, drone_ports

SPEEDUP = 10.0
DOCK = GeoPoint(*SAND_CREEK)


@dataclass
class Rig:
    """The service and the simulated drone D1."""

    sim: SimFleet
    flights: FlightService
    engine: Any
    http: dict[Role, httpx.AsyncClient]
    truth: list[DroneSnapshot] = field(default_factory=list)

    def d1(self) -> DroneSnapshot:
        """D1's true state now."""
        return self.sim.drone(0).snapshot()

    @contextlib.asynccontextmanager
    async def recording_truth(self) -> AsyncIterator[list[DroneSnapshot]]:
        """D1's true state every 20 ms while inside, appended to `truth` (which it yields)."""
        stop = asyncio.Event()

        async def sample() -> None:
            while not stop.is_set():
                self.truth.append(self.d1())
                await asyncio.sleep(0.02)

        sampler = asyncio.create_task(sample())
        try:
            yield self.truth
        finally:
            stop.set()
            await sampler

    async def post_call(self, incident: str, scene: GeoPoint, call_type: str, priority: int) -> int:
        """A call as CAD posts it; returns DFR's call id."""
        body = {
            "cad_incident_id": incident,
            "agency": "cspd",
            "call_type": call_type,
            "priority": priority,
            "location": {"lat": scene.lat_deg, "lon": scene.lon_deg, "address": "test"},
            "received_at": datetime.now(UTC).isoformat(),
            "status": "Active",
            "notes": [],
            "flags": {"in_progress": True, "weapons": False, "outdoor": True},
        }
        response = await self.http[Role.CAD].post("/cad/incidents", json=body)
        assert response.status_code == 202, response.text
        return int(response.json()["id"])

    async def launch(self, call_id: int, drone_id: str = "D1") -> httpx.Response:
        """A dispatcher launches the drone to the call."""
        return await self.http[Role.DISPATCHER].post(
            f"/calls/{call_id}/launch", json={"drone_id": drone_id}
        )

    async def call(self, call_id: int) -> dict[str, Any]:
        """The call with its notes."""
        response = await self.http[Role.DISPATCHER].get(f"/calls/{call_id}")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    async def flight(self, flight_id: int) -> dict[str, Any]:
        """The flight with its events."""
        response = await self.http[Role.PILOT].get(f"/flights/{flight_id}")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    async def flights_of(self, call_id: int) -> list[dict[str, Any]]:
        """Every flight flown for a call."""
        response = await self.http[Role.PILOT].get("/flights", params={"limit": 100})
        response.raise_for_status()
        return [f for f in response.json()["data"] if f["call_id"] == call_id]

    async def wait_state(
        self, flight_id: int, states: set[str], timeout_s: float = 90.0
    ) -> dict[str, Any]:
        """Poll until the flight is in one of `states`."""
        last: dict[str, Any] = {}
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while True:
                    last = await self.flight(flight_id)
                    if last["state"] in states:
                        return last
                    await asyncio.sleep(0.1)
        events = [(e["to_state"], e["reason"]) for e in last.get("events", [])]
        raise AssertionError(f"flight {flight_id} not in {states}: {last.get('state')} {events}")

    async def wait_truth(
        self, check: Callable[[DroneSnapshot], bool], what: str, timeout_s: float = 90.0
    ) -> DroneSnapshot:
        """Poll the simulator's truth until `check` holds."""
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    snap = self.d1()
                    if check(snap):
                        return snap
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise AssertionError(f"D1 never {what}: {self.d1()}") from None

    async def wait_ready(self) -> None:
        """Until the service hears D1 with a 3D fix, a position and its home."""

        def ready() -> bool:
            s = self.flights.live_state("D1")
            return (
                s is not None
                and s.available
                and s.link == LinkState.CONNECTED
                and (s.gps_fix_type or 0) >= 3
                and s.position is not None
                and s.home is not None
            )

        async with asyncio.timeout(60):
            while not ready():  # noqa: ASYNC110
                await asyncio.sleep(0.05)

    def outbox(self, call_id: int) -> list[dict[str, Any]]:
        """What the service has queued for CAD about a call, in order."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(OutboxItem).where(OutboxItem.call_id == call_id).order_by(col(OutboxItem.id))
            ).all()
            return [r.payload for r in rows]


@contextlib.asynccontextmanager
async def rig(tmp_path: Path, policy: str = "") -> AsyncIterator[Rig]:
    """The service and D1 at Sand Creek; `policy` is TOML added under the demo's `[policy]`."""
    mavlink_port, video_port = drone_ports(set())
    fleet_file = demo_fleet_file(tmp_path, [(mavlink_port, video_port)])
    with fleet_file.open("a", encoding="utf-8") as out:
        # Under the demo's [policy] (its night waiver keeps the daylight rule from deciding by
        # the hour the test runs at).
        out.write(f"\n{policy}")
    sim_config = load_fleet_file(
        fleet_file, speedup=SPEEDUP, gcs_base_port=None, video_base_port=video_port
    )
    settings = Settings(
        mode="test",
        data_dir=tmp_path / "data",
        fleet_file=fleet_file,
        speedup=SPEEDUP,
        weather=WeatherSettings(static_wind_mps=3.0),
        # Service and simulator share this process at x10: a pause of a few tenths of a second
        # on a busy machine is seconds of vehicle time, which must not read as a lost link.
        flight=FlightSettings(heartbeat_timeout_s=30.0, dll_timeout_s=60.0),
    )
    app = create_app(settings, run=Run.LINKS | Run.DISPATCH)
    async with SimFleet(sim_config) as sim, app.router.lifespan_context(app):
        with session_scope(app.state.service.engine) as session:
            secrets = {r: create_token(session, f"test-{r}", r)[1] for r in Role}
        transport = httpx.ASGITransport(app=app)
        async with contextlib.AsyncExitStack() as stack:
            http = {
                role: await stack.enter_async_context(
                    httpx.AsyncClient(
                        transport=transport,
                        base_url="http://dfr/api/v1",
                        headers={"Authorization": f"Bearer {secret}"},
                        timeout=30.0,
                    )
                )
                for role, secret in secrets.items()
            }
            r = Rig(sim, app.state.service.flights, app.state.service.engine, http)
            await r.wait_ready()
            yield r
