"""Preemption over real MAVLink: a priority-1 call takes an airborne drone from a priority-3 call.

The service (flight links and dispatcher, HTTP through ASGI) and the PX4-compatible simulator run
in this process on free loopback UDP ports, time sped up. The demo fleet is reduced to D1 at the
Sand Creek dock; the agency's preemption rule comes from the fleet file's `[policy]`.
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
import pytest
from sqlmodel import Session, col, select

from dfr.auth import create_token
from dfr.db import session_scope
from dfr.errors import ConflictError
from dfr.flights import FlightService
from dfr.main import create_app
from dfr.models import OutboxItem, Role
from dfr.runtime import dispatch_component, flight_component
from dfr.settings import FlightSettings, Settings, WeatherSettings
from flight import LinkState, PlanRejectedError
from geofence import GeoPoint, destination, distance_m
from simulator.vehicle import DroneSnapshot, SimFleet, load_fleet_file
from tests.dfr.video_stack import SAND_CREEK, SIM_API_OFFSET, demo_fleet_file, free_udp_port

pytestmark = [pytest.mark.integration, pytest.mark.sim, pytest.mark.timeout(240)]

SPEEDUP = 10.0
DOCK = GeoPoint(*SAND_CREEK)
#: Call A (low priority) 1.5 km north of the dock, call B (priority 1) 1.5 km west: both clear.
SCENE_A = destination(DOCK, 0.0, 1500.0)
SCENE_B = destination(DOCK, 270.0, 1500.0)
#: Far outside the operating area: no legal plan reaches it.
OUTSIDE = GeoPoint(38.40, -104.20)
MAV_RESULT_FAILED = 4
ALLOWED = "[policy.preemption]\nallowed = true\nmin_priority_gap = 2\n"
NOT_ALLOWED = "[policy.preemption]\nallowed = false\n"


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


def _near(snap: DroneSnapshot, point: GeoPoint, radius_m: float) -> bool:
    return distance_m(GeoPoint(snap.lat_deg, snap.lon_deg), point) <= radius_m


def _statuses(outbox: list[dict[str, Any]]) -> list[str]:
    return [str(e["unit"]["status"]) for e in outbox if e["kind"] == "unit_status"]


def _texts(outbox: list[dict[str, Any]]) -> list[str]:
    return [str(e["text"]) for e in outbox if e["kind"] == "note"]


@contextlib.asynccontextmanager
async def rig(tmp_path: Path, preemption: str) -> AsyncIterator[Rig]:
    used: set[int] = set()
    mavlink_port = free_udp_port(used, SIM_API_OFFSET)
    video_port = free_udp_port(used)
    fleet_file = demo_fleet_file(tmp_path, [(mavlink_port, video_port)])
    with fleet_file.open("a", encoding="utf-8") as out:
        # Under the demo's [policy] (its night waiver keeps the daylight rule from deciding by
        # the hour the test runs at).
        out.write(f"\n{preemption}")
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
    app = create_app(settings, components=[flight_component, dispatch_component])
    async with SimFleet(sim_config) as sim, app.router.lifespan_context(app):
        with session_scope(app.state.engine) as session:
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
            r = Rig(sim, app.state.flights, app.state.engine, http)
            await r.wait_ready()
            yield r


async def _flying_call_a(r: Rig) -> tuple[int, int]:
    """Call A (SUSP, priority 3) launched by a dispatcher; returns (call id, flight id) en route."""
    call_a = await r.post_call("PRE-A", SCENE_A, "SUSP", 3)
    launched = await r.launch(call_a)
    assert launched.status_code == 202, launched.text
    flight_a = int(launched.json()["flight_id"])
    await r.wait_state(flight_a, {"en_route"})
    # Well on its way to A, high enough that the new route is flown at cruise altitude.
    await r.wait_truth(
        lambda s: s.alt_rel_home_m > 60.0 and not _near(s, DOCK, 300.0), "left the dock"
    )
    return call_a, flight_a


async def test_a_priority_1_call_takes_the_drone_from_a_priority_3_call_in_the_air(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path, ALLOWED) as r:
        call_a, flight_a = await _flying_call_a(r)
        call_b = await r.post_call("PRE-B", SCENE_B, "BURGLARY", 1)

        sampler_done = asyncio.Event()

        async def sample() -> None:
            while not sampler_done.is_set():
                r.truth.append(r.d1())
                await asyncio.sleep(0.02)

        async with asyncio.TaskGroup() as tg:
            tg.create_task(sample())
            try:
                launched = await r.launch(call_b)
                assert launched.status_code == 202, launched.text
                flight_b = int(launched.json()["flight_id"])
                assert flight_b != flight_a
                at_b = await r.wait_state(flight_b, {"on_scene"})
                await r.wait_truth(lambda s: _near(s, SCENE_B, 60.0), "reached scene B")
            finally:
                sampler_done.set()

        # The vehicle flew to B without landing: armed and in the air all the way.
        assert r.truth and all(s.armed and not s.landed for s in r.truth), [
            (s.armed, s.landed, s.mode) for s in r.truth if not s.armed or s.landed
        ]
        assert min(distance_m(GeoPoint(s.lat_deg, s.lon_deg), SCENE_A) for s in r.truth) > 100.0

        # A's flight ended in the air with the reason; B's flight took over en route.
        ended = await r.flight(flight_a)
        assert ended["state"] == "completed", ended["state_reason"]
        reason = f"reassigned to higher-priority call {call_b} (priority 1)"
        assert ended["state_reason"] == reason
        assert [e["to_state"] for e in ended["events"] if e["from_state"] != e["to_state"]][
            -1:
        ] == ["completed"]
        states_b = [e["to_state"] for e in at_b["events"] if e["from_state"] != e["to_state"]]
        assert states_b[:4] == ["planned", "uploading", "armed", "en_route"], states_b
        assert "on_scene" in states_b and "landed" not in states_b, states_b
        assert at_b["drone_id"] == "D1" and at_b["call_id"] == call_b

        # Both calls know, and CAD will be told: notes and unit statuses in the outbox.
        out_a, out_b = r.outbox(call_a), r.outbox(call_b)
        assert f"Drone D1 {reason}." in _texts(out_a), _texts(out_a)
        assert _statuses(out_a)[-1] == "AssignmentCancelled", _statuses(out_a)
        launched_note = next(t for t in _texts(out_b) if " launched by " in t)
        assert launched_note.endswith(f"; taken in the air from call {call_a}."), launched_note
        assert _statuses(out_b)[:3] == ["Dispatched", "EnRoute", "OnScene"], _statuses(out_b)
        dispatched = next(e for e in out_b if e["kind"] == "unit_status")
        assert dispatched["unit"]["eta_s"] is not None

        # B is flown; A is back in the queue and was decided again (no other drone to send).
        assert (await r.call(call_b))["lifecycle"] == "on_scene"
        assert (await r.call(call_a))["lifecycle"] == "recommended"
        assert [f["id"] for f in await r.flights_of(call_a)] == [flight_a]


async def test_without_preemption_in_the_policy_the_launch_is_refused_and_the_flight_flies_on(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path, NOT_ALLOWED) as r:
        call_a, flight_a = await _flying_call_a(r)
        call_b = await r.post_call("PRE-B", SCENE_B, "BURGLARY", 1)
        refused = await r.launch(call_b)
        assert refused.status_code == 409, refused.text
        detail = refused.json()["detail"]
        assert "D1 may not fly this call" in detail and "does not allow preemption" in detail

        assert await r.flights_of(call_b) == []
        flying = await r.flight(flight_a)
        assert flying["state"] == "en_route" and flying["call_id"] == call_a
        await r.wait_state(flight_a, {"on_scene"})
        await r.wait_truth(lambda s: _near(s, SCENE_A, 80.0) and s.armed, "reached scene A")
        assert not any("reassigned" in t for t in _texts(r.outbox(call_a)))


async def test_a_reassignment_refused_by_geofence_or_vehicle_leaves_the_old_flight_flying(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path, ALLOWED) as r:
        call_a, flight_a = await _flying_call_a(r)
        call_b = await r.post_call("PRE-B", SCENE_B, "BURGLARY", 1)

        # No legal plan from where the drone is: refused before anything is sent.
        with pytest.raises(PlanRejectedError, match="outside the operating area"):
            await r.flights.retask(
                "D1", OUTSIDE, call_id=call_b, reason="test", from_call_id=call_a
            )
        assert r.flights.active_flight_of("D1") == flight_a

        # The vehicle refuses to start the new mission: its own mission goes back on and on.
        r.sim.drone(0).fault_refuse_next_command(MAV_RESULT_FAILED)
        with pytest.raises(ConflictError, match="did not take the new mission"):
            await r.flights.retask(
                "D1", SCENE_B, call_id=call_b, reason="test", from_call_id=call_a
            )
        assert r.flights.active_flight_of("D1") == flight_a
        assert await r.flights_of(call_b) == []
        at_a = await r.wait_state(flight_a, {"on_scene"})
        await r.wait_truth(lambda s: _near(s, SCENE_A, 80.0) and s.armed, "reached scene A")
        notes = [e["reason"] for e in at_a["events"] if e["from_state"] == e["to_state"]]
        assert any(
            "reassignment refused by the vehicle" in n and "back on the vehicle" in n for n in notes
        ), notes
        assert (await r.call(call_a))["lifecycle"] == "on_scene"
