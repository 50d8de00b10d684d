"""The fleet link and flight tracker against the PX4-compatible simulator over real UDP, sped up."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from flight.clock import SystemClock
from flight.errors import CommandRejectedError, MissionTransferError
from flight.fleet import FleetLink
from flight.mavlink_link import LinkConfig, MavlinkVehicleLink
from flight.mission_items import MavCmd, MavFrame, MissionItem, MissionType
from flight.models import FlightMode, LinkState, VehicleId
from flight.state import FailsafeCause, FlightPhase, FlightStateMachine
from flight.tracker import FlightTracker, adopt_flight
from geofence import Altitude, AltitudeDatum, GeoPoint, destination, distance_m
from simulator.vehicle import SimFleet, build_fleet_config
from tests.conftest import free_udp_ports

pytestmark = pytest.mark.sim

SPEEDUP = 10.0
HOME = (47.397742, 8.545594, 488.0)
HOME_PT = GeoPoint(HOME[0], HOME[1])
TARGET = destination(HOME_PT, 45.0, 300.0)
VID = VehicleId("d1")
P = FlightPhase


@dataclass
class Rig:
    sim: SimFleet
    fleet: FleetLink
    link: MavlinkVehicleLink
    clock: SystemClock
    client_port: int


def dege7(p: GeoPoint) -> tuple[int, int]:
    return p.to_dege7()


def mission(loiter_s: float = 20.0) -> list[MissionItem]:
    tx, ty = dege7(TARGET)
    hx, hy = dege7(HOME_PT)
    return [
        MissionItem(command=MavCmd.NAV_TAKEOFF, x=hx, y=hy, z=30.0),
        MissionItem(command=MavCmd.NAV_WAYPOINT, param2=5.0, x=tx, y=ty, z=40.0),
        MissionItem(
            command=MavCmd.NAV_LOITER_TIME, param1=loiter_s, param3=40.0, x=tx, y=ty, z=40.0
        ),
        MissionItem(command=MavCmd.NAV_RETURN_TO_LAUNCH, frame=MavFrame.MISSION),
    ]


def fence(vertices: int = 4) -> list[MissionItem]:
    corners = [destination(HOME_PT, b, 1500.0) for b in (45.0, 135.0, 225.0, 315.0)][:vertices]
    return [
        MissionItem(
            command=MavCmd.NAV_FENCE_POLYGON_VERTEX_INCLUSION,
            frame=MavFrame.GLOBAL_INT,
            param1=float(vertices),
            x=dege7(c)[0],
            y=dege7(c)[1],
            mission_type=MissionType.FENCE,
        )
        for c in corners
    ]


@contextlib.asynccontextmanager
async def rig(home: tuple[float, float, float] = HOME) -> AsyncIterator[Rig]:
    api, client, video = free_udp_ports(3)
    cfg = build_fleet_config(
        1,
        [home],
        speedup=SPEEDUP,
        api_base_port=api,
        client_base_port=client,
        gcs_base_port=None,
        video_base_port=video,
    )
    clock = SystemClock(speed=SPEEDUP)
    # At x10 in one process, a busy machine's pause of 0.35 s wall is the link's default 3.5 s of
    # heartbeat age; 8 s (0.8 s wall) still reads a real cut before the vehicle's 10 s failsafe.
    config = LinkConfig(lost_after_s=8.0, degraded_after_s=4.0)
    async with SimFleet(cfg) as sim, FleetLink(config=config, clock=clock) as fleet:
        link = fleet.add_vehicle(VID, f"udpin://127.0.0.1:{client}", sysid=1)
        await link.wait_connected(timeout_s=30)
        async with asyncio.timeout(60):
            while link.state().home is None or link.state().position is None:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        yield Rig(sim, fleet, link, clock, client)


async def track_until(
    link: MavlinkVehicleLink,
    tracker: FlightTracker,
    stop: set[FlightPhase],
    timeout_s: float = 120.0,
) -> list[FlightPhase]:
    """Feed states and events to the tracker until a phase in `stop`; returns phases entered."""
    phases: list[FlightPhase] = []

    async def events() -> None:
        async for e in link.events():
            tracker.observe_event(e)

    async with asyncio.TaskGroup() as tg:
        ev = tg.create_task(events())
        async with asyncio.timeout(timeout_s), contextlib.aclosing(link.states()) as stream:
            async for s in stream:
                phases += [t.to_phase for t in tracker.observe(s)]
                if tracker.phase in stop:
                    break
        ev.cancel()
    return phases


def new_tracker(rig: Rig) -> FlightTracker:
    m = FlightStateMachine("f1", VID, rig.clock)
    return FlightTracker(m, rig.clock, on_scene_seq=2, target=TARGET, on_scene_radius_m=60.0)


async def launch(rig: Rig, tracker: FlightTracker, items: list[MissionItem]) -> None:
    tracker.begin_upload(rig.link.state())
    await rig.link.upload_fence(fence())
    await rig.link.upload_mission(items)
    await rig.link.arm()
    tracker.note_command("start_mission")
    await rig.link.start_mission()


async def test_full_flight_against_simulator() -> None:
    async with rig() as r:
        tracker = new_tracker(r)
        await launch(r, tracker, mission())
        phases = await track_until(r.link, tracker, {P.COMPLETED, P.ABORTED, P.FAILSAFE})
        assert phases == [P.ARMED, P.EN_ROUTE, P.ON_SCENE, P.RETURNING, P.LANDED, P.COMPLETED]
        cad = [t.cad_status for t in tracker.machine.history if t.cad_status is not None]
        assert [str(c) for c in cad] == ["EnRoute", "OnScene", "Cleared"]
        assert all(t.snapshot is not None for t in tracker.machine.history)
        assert await r.link.get_param("NAV_DLL_ACT") == 2


async def test_fence_refused_by_vehicle_aborts_flight_and_never_arms() -> None:
    async with rig() as r:
        tracker = new_tracker(r)
        tracker.begin_upload()
        with pytest.raises(MissionTransferError) as info:
            await r.link.upload_fence(fence(vertices=2))
        tracker.abort(str(info.value))
        assert tracker.phase == P.ABORTED and "upload fence" in (tracker.machine.abort_reason or "")
        assert not r.link.state().armed
        assert not r.sim.drone(0).snapshot().armed


async def test_pilot_commands_are_acknowledged_and_refusal_has_reason() -> None:
    async with rig() as r:
        tracker = new_tracker(r)
        await launch(r, tracker, mission(loiter_s=600.0))
        await track_until(r.link, tracker, {P.EN_ROUTE})
        with pytest.raises(CommandRejectedError) as info:
            await r.link.disarm()  # PX4 refuses to disarm in the air
        assert info.value.result_name in ("TEMPORARILY_REJECTED", "DENIED", "FAILED")
        assert (await r.link.hold()).result == 0
        assert (await r.link.resume()).result == 0
        assert (await r.link.change_speed(6.0)).result == 0
        far = destination(HOME_PT, 90.0, 200.0)
        assert (await r.link.goto(far, Altitude(50.0, AltitudeDatum.TAKEOFF))).result == 0
        assert (await r.link.orbit(TARGET, 40.0, 5.0)).result == 0
        async with asyncio.timeout(60):
            while r.link.state().mode != FlightMode.ORBIT:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        tracker.note_command("rtl")
        assert (await r.link.return_to_launch()).result == 0
        tracker.note_command("land")
        assert (await r.link.land()).result == 0
        phases = await track_until(r.link, tracker, {P.COMPLETED})
        assert phases[-2:] == [P.LANDED, P.COMPLETED]


async def test_link_cut_in_flight_gives_link_lost_then_vehicle_rtl_observed() -> None:
    async with rig() as r:
        tracker = new_tracker(r)
        await launch(r, tracker, mission(loiter_s=600.0))
        await track_until(r.link, tracker, {P.ON_SCENE})
        # Cut both directions for 30 vehicle seconds: beyond COM_DL_LOSS_T (10 s) set before arming.
        r.sim.drone(0).fault_link_cut(30.0, inbound=True, outbound=True)
        phases = await track_until(r.link, tracker, {P.LINK_LOST}, timeout_s=60)
        assert phases == [P.LINK_LOST]
        assert r.link.link_state == LinkState.LOST
        phases = await track_until(r.link, tracker, {P.RETURNING}, timeout_s=60)
        assert phases == [P.FAILSAFE, P.RETURNING]
        failsafe = next(t for t in tracker.machine.history if t.to_phase == P.FAILSAFE)
        assert failsafe.cause == FailsafeCause.LINK_LOSS
        phases = await track_until(r.link, tracker, {P.COMPLETED})
        assert phases == [P.LANDED, P.COMPLETED]


async def test_service_restart_adopts_flight_and_completes() -> None:
    items = mission(loiter_s=15.0)
    async with rig() as r:
        tracker = new_tracker(r)
        await launch(r, tracker, items)
        await track_until(r.link, tracker, {P.EN_ROUTE})
        record = tracker.machine.to_record()
        # The "service" goes away: a new fleet link on the same port, state restored from the record.
        await r.fleet.remove_vehicle(VID)
        async with FleetLink(clock=r.clock) as fleet2:
            link2 = fleet2.add_vehicle(VID, f"udpin://127.0.0.1:{r.client_port}")
            await link2.wait_connected(timeout_s=30)
            with pytest.raises(MissionTransferError):
                await adopt_flight(link2, record, items[:-1], r.clock)  # not this flight
            adopted = await adopt_flight(link2, record, items, r.clock)
            assert adopted.phase == P.EN_ROUTE
            adopted.on_scene_seq, adopted.target, adopted.on_scene_radius_m = 2, TARGET, 60.0
            phases = await track_until(link2, adopted, {P.COMPLETED, P.FAILSAFE})
            assert phases[-2:] == [P.LANDED, P.COMPLETED]
            assert P.RETURNING in phases


async def test_planned_flight_from_planner_flies_scene_release_and_planned_return() -> None:
    from datetime import UTC, datetime

    from flight.plan import DronePerformance
    from flight.planner import plan_response
    from geofence import Airspace, AirspacePolicy, load_zones
    from tests.geofence.synthetic import CENTRE, box, collection, point, polygon_feature

    airspace = Airspace(
        load_zones(
            collection(
                polygon_feature("area", box(-3000, -3000, 3000, 3000), kind="operating_area"),
                polygon_feature("school", box(-400, -150, -200, 150), name="School"),
            )
        ),
        AirspacePolicy(margin_m=30),
        centre=CENTRE,
    )
    dock, target = point(-900, 0), point(300, 100)
    plan = plan_response(
        dock,
        target,
        airspace,
        DronePerformance(),
        datetime.now(UTC),
        orbit_radius_m=40,
        alt_agl_m=60,
    )
    async with rig((dock.lat_deg, dock.lon_deg, 1850.0)) as r:
        link, clock = r.link, r.clock
        tracker = FlightTracker.for_plan(FlightStateMachine("f2", VID, clock), clock, plan)
        assert tracker.on_scene_seq is not None
        tracker.begin_upload(link.state())
        await link.upload_fence(plan.fence_items)
        await link.upload_rally(plan.rally_items)
        await link.upload_mission(plan.mission_items)
        await link.arm()
        tracker.note_command("start_mission")
        await link.start_mission()
        phases = await track_until(link, tracker, {P.ON_SCENE, P.FAILSAFE, P.ABORTED})
        assert phases == [P.ARMED, P.EN_ROUTE, P.ON_SCENE]
        await link.set_mission_current(tracker.on_scene_seq + 1)
        phases = await track_until(link, tracker, {P.COMPLETED, P.FAILSAFE})
        assert phases == [P.RETURNING, P.LANDED, P.COMPLETED]
        home = link.state().position
        assert home is not None and distance_m(home, dock) < 30.0
