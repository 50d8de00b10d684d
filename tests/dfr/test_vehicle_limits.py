"""The service reads each vehicle's speed and altitude limits at connect, over real MAVLink."""

from __future__ import annotations

import asyncio

import pytest

from dfr.planning import VehicleLimitsBook
from flight.clock import SystemClock
from flight.fleet import FleetLink
from flight.kinematics import VehicleLimits
from flight.mavlink_link import LinkConfig
from flight.models import VehicleId
from simulator.vehicle import SimFleet, build_fleet_config
from tests.conftest import free_udp_ports

pytestmark = pytest.mark.sim

SPEEDUP = 5.0
HOME = (38.8339, -104.7470, 1840.0)


async def test_a_linked_vehicle_reports_its_limits_and_an_unlinked_one_has_px4_defaults() -> None:
    api, client, video = free_udp_ports(3)
    cfg = build_fleet_config(
        1,
        [HOME],
        speedup=SPEEDUP,
        api_base_port=api,
        client_base_port=client,
        gcs_base_port=None,
        video_base_port=video,
    )
    book = VehicleLimitsBook()
    assert book.of("D1") == VehicleLimits()
    config = LinkConfig(lost_after_s=8.0, degraded_after_s=4.0)
    async with (
        SimFleet(cfg) as sim,
        FleetLink(config=config, clock=SystemClock(speed=SPEEDUP)) as fleet,
    ):
        link = fleet.add_vehicle(VehicleId("D1"), f"udpin://127.0.0.1:{client}", sysid=1)
        await link.wait_connected(timeout_s=30)
        # One parameter away from PX4's default, as an agency might have tuned it.
        assert await link.set_param("MPC_XY_CRUISE", 7.5) == 7.5
        book.read("D1", link)
        async with asyncio.timeout(60):
            while book.of("D1").xy_cruise_mps != 7.5:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        limits = book.of("D1")
        assert limits.rtl_speed_mps == 7.5
        # The simulator answers every parameter with PX4's default, SIH's airframe included.
        assert limits.z_v_auto_up_mps == 3.0 and limits.tko_speed_mps == 1.5
        assert limits.level_speed_mps(12.0) == pytest.approx(9.81, abs=0.01)
        assert book.of("D2") == VehicleLimits()
        book.forget("D1")
    assert sim is not None
