"""An independent client (MAVSDK's C++ core) flies a simulated drone over real UDP, as it would fly PX4 SITL."""

from __future__ import annotations

import asyncio

import pytest
from mavsdk.asyncio import ComponentType, Configuration, Mavsdk
from mavsdk.asyncio.plugins.action import ActionAsync
from mavsdk.asyncio.plugins.geofence import FenceType, GeofenceAsync, GeofenceData, Point, Polygon
from mavsdk.asyncio.plugins.mission import MissionAsync, MissionError, MissionItem, MissionPlan
from mavsdk.asyncio.plugins.telemetry import FlightMode, LandedState, TelemetryAsync

from simulator.vehicle import SimFleet, build_fleet_config
from tests.conftest import free_udp_ports

from .conftest import HOME

pytestmark = [pytest.mark.sim, pytest.mark.timeout(240)]


def _wp(lat: float, lon: float) -> MissionItem:
    return MissionItem(
        latitude_deg=lat,
        longitude_deg=lon,
        relative_altitude_m=20.0,
        speed_m_s=10.0,  # MAVSDK's own keyword, not one of our names
        is_fly_through=True,
        gimbal_pitch_deg=float("nan"),
        gimbal_yaw_deg=float("nan"),
        camera_action=MissionItem.CameraAction.NONE,
        loiter_time_s=float("nan"),
        camera_photo_interval_s=1.0,
        acceptance_radius_m=2.0,
        yaw_deg=float("nan"),
        camera_photo_distance_m=float("nan"),
        vehicle_action=MissionItem.VehicleAction.NONE,
    )


async def _first(gen, cond, timeout_s: float = 60.0):  # type: ignore[no-untyped-def]
    async def run():  # type: ignore[no-untyped-def]
        async for value in gen:
            if cond(value):
                return value
        return None

    return await asyncio.wait_for(run(), timeout_s)


async def test_mavsdk_flies_mission_with_fence_then_returns_lands_and_disarms() -> None:
    api, client = free_udp_ports(2)
    cfg = build_fleet_config(
        1, [HOME], speedup=20.0, api_base_port=api, client_base_port=client, gcs_base_port=None
    )
    async with (
        SimFleet(cfg) as fleet,
        Mavsdk(Configuration.create_with_component_type(ComponentType.GROUND_STATION)) as sdk,
    ):
        await sdk.add_any_connection(f"udpin://127.0.0.1:{client}")
        system = await sdk.first_autopilot(timeout_s=20.0)
        assert system is not None
        action, mission, fence, telem = (
            ActionAsync(system),
            MissionAsync(system),
            GeofenceAsync(system),
            TelemetryAsync(system),
        )

        health = await _first(
            telem.subscribe_health(), lambda h: h.is_global_position_ok and h.is_home_position_ok
        )
        assert health.is_armable

        lat0, lon0, _ = HOME
        box = [
            Point(lat0 - 0.01, lon0 - 0.01),
            Point(lat0 - 0.01, lon0 + 0.01),
            Point(lat0 + 0.01, lon0 + 0.01),
            Point(lat0 + 0.01, lon0 - 0.01),
        ]
        await fence.upload_geofence(
            GeofenceData(polygons=[Polygon(box, FenceType.INCLUSION)], circles=[])
        )
        plan = MissionPlan([_wp(lat0 + 0.0008, lon0 + 0.0005), _wp(lat0 + 0.0010, lon0 - 0.0006)])
        await mission.upload_mission(plan)
        drone = fleet.drone(0)
        assert len(drone.plans.fence) == 4 and len(drone.plans.mission) >= 2

        await action.arm()
        for _ in range(
            40
        ):  # like real PX4, AUTO.MISSION is refused until the fresh upload is validated
            try:
                await mission.start_mission()
                break
            except MissionError:
                await asyncio.sleep(0.05)
        else:
            pytest.fail("mission never started")

        progress = await _first(
            mission.subscribe_mission_progress(),
            lambda p: p.total > 0 and p.current == p.total,
            120.0,
        )
        assert progress.total == 2
        assert await mission.is_mission_finished()

        await action.return_to_launch()
        await _first(
            telem.subscribe_flight_mode(), lambda m: m == FlightMode.RETURN_TO_LAUNCH, 20.0
        )
        await _first(telem.subscribe_landed_state(), lambda s: s == LandedState.ON_GROUND, 180.0)
        await _first(telem.subscribe_armed(), lambda a: a is False, 60.0)

        snap = drone.snapshot()
        assert not snap.armed and snap.landed
        assert abs(snap.lat_deg - lat0) < 2e-5 and abs(snap.lon_deg - lon0) < 2e-5
