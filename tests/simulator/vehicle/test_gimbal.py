"""The simulated gimbal answers gimbal protocol v2 as PX4's gimbal manager does, and the camera follows it."""

from __future__ import annotations

import math

import pytest

from simulator.vehicle import SimFleet
from simulator.vehicle.camera_fleet import drone_pose
from simulator.vehicle.camera_render import CameraPose, CameraRenderer
from simulator.vehicle.gimbal import Gimbal

from .conftest import RawClient

pytestmark = [pytest.mark.sim, pytest.mark.timeout(60)]
Sim = tuple[SimFleet, RawClient]
PITCHYAW, CONFIGURE = 1000, 1001
ACCEPTED, DENIED = 0, 2
PITCH_LOCK = 8


def _pitch_deg(q: list[float]) -> float:
    w, x, y, z = q
    return math.degrees(math.asin(max(-1.0, min(1.0, 2 * (w * y - z * x)))))


async def test_pitch_command_without_control_is_denied_and_moves_nothing(sim: Sim) -> None:
    fleet, rc = sim
    ack = await rc.command(PITCHYAW, 0.0, 0.0, math.nan, math.nan, PITCH_LOCK)
    assert ack.result == DENIED
    assert fleet.drone(0).gimbal.pitch_deg == -90.0


async def test_primary_controller_points_the_camera_and_the_status_reports_it(sim: Sim) -> None:
    fleet, rc = sim
    assert (await rc.command(CONFIGURE, 255, 190)).result == ACCEPTED
    ack = await rc.command(PITCHYAW, 0.0, 0.0, math.nan, math.nan, PITCH_LOCK)
    assert ack.result == ACCEPTED
    status = await rc.wait_for(
        "GIMBAL_DEVICE_ATTITUDE_STATUS", lambda m: abs(_pitch_deg(list(m.q))) < 0.01, clear=True
    )
    assert status.gimbal_device_id == 1
    manager = await rc.wait_for("GIMBAL_MANAGER_STATUS")
    assert (manager.primary_control_sysid, manager.primary_control_compid) == (255, 190)
    assert drone_pose(fleet.drone(0)).gimbal_pitch_deg == 0.0
    assert (await rc.command(PITCHYAW, -60.0, 0.0, math.nan, math.nan, PITCH_LOCK)).result == 0
    await rc.wait_for(
        "GIMBAL_DEVICE_ATTITUDE_STATUS",
        lambda m: abs(_pitch_deg(list(m.q)) + 60.0) < 0.01,
        clear=True,
    )
    # Releasing control (-3) takes the sender out; its next command is refused.
    assert (await rc.command(CONFIGURE, -3, -3)).result == ACCEPTED
    assert (await rc.command(PITCHYAW, 0.0, 0.0)).result == DENIED
    assert fleet.drone(0).gimbal.pitch_deg == -60.0


def test_quaternion_carries_pitch_and_relative_yaw_in_px4_euler_order() -> None:
    gimbal = Gimbal(1)
    assert gimbal.command(CONFIGURE, [1, 1, 0, 0, 0, 0, 0], (1, 1)) == ACCEPTED
    assert gimbal.command(PITCHYAW, [-30.0, 45.0, 0, 0, 0, 0, 0], (1, 1)) == ACCEPTED
    w, x, y, z = gimbal.quaternion()
    assert _pitch_deg([w, x, y, z]) == pytest.approx(-30.0)
    yaw = math.degrees(math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))
    assert yaw == pytest.approx(45.0)
    # Out-of-range pitch is held at the gimbal's limits (down .. horizon).
    gimbal.command(PITCHYAW, [20.0, math.nan, 0, 0, 0, 0, 0], (1, 1))
    assert gimbal.pitch_deg == 0.0 and gimbal.yaw_deg == 45.0


def test_camera_shows_sky_above_the_horizon_when_level_and_only_ground_when_down() -> None:
    renderer = CameraRenderer(128, 72, origin_lat_deg=38.83, origin_lon_deg=-104.75)
    level = renderer.render(CameraPose(38.83, -104.75, 120.0, gimbal_pitch_deg=0.0), 0)
    down = renderer.render(CameraPose(38.83, -104.75, 120.0, gimbal_pitch_deg=-90.0), 0)
    sky_rows = range(20, 30)  # below the stamp, above the horizon line
    assert all((level[row] == 200).all() for row in sky_rows)
    assert not any((down[row] == 200).all() for row in sky_rows)
