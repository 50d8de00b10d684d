"""The kinematic profile against PX4's parameters and the reference PX4 SITL flights."""

from __future__ import annotations

import math

import pytest

from flight.kinematics import (
    PARAM_NAMES,
    VehicleLimits,
    Waypoint3D,
    corner_speed_mps,
    land_s,
    level_leg_s,
    path_s,
    read_vehicle_limits,
    return_speed_mps,
    rtl_start_s,
    speed_change,
    takeoff_s,
)
from flight.models import SafetyConfig

PX4 = VehicleLimits()


def test_px4_defaults_cap_the_level_speed_at_sih_drag_and_rtl_at_mpc_xy_cruise() -> None:
    # SIH quadrotor: 1 kg, 1 N s/m, 45 deg tilt -> about 9.8 m/s (PX4 SITL flew 9.7-9.9).
    assert PX4.drag_speed_cap_mps == pytest.approx(9.81, abs=0.01)
    assert PX4.level_speed_mps(12.0) == pytest.approx(9.81, abs=0.01)
    assert PX4.rtl_speed_mps == 5.0  # MPC_XY_CRUISE: RTL ignores the mission's speed
    real = VehicleLimits.from_params({"MPC_XY_CRUISE": 8.0, "MPC_XY_VEL_MAX": 10.0})
    assert real.drag_speed_cap_mps == math.inf  # no SIH parameters: a real airframe
    assert real.level_speed_mps(12.0) == 10.0 and real.rtl_speed_mps == 8.0


def test_reported_parameters_replace_the_defaults_and_missing_ones_keep_them() -> None:
    limits = VehicleLimits.from_params({"MPC_Z_V_AUTO_UP": 2.0, "SIH_MASS": 1.0, "SIH_KDV": 0.5})
    assert limits.z_v_auto_up_mps == 2.0 and limits.land_speed_mps == 0.7
    assert limits.level_speed_mps(30.0) == 12.0  # less drag: MPC_XY_VEL_MAX caps it
    assert VehicleLimits.from_params({}) == PX4
    with pytest.raises(ValueError):
        VehicleLimits(z_v_auto_up_mps=0.0)


async def test_limits_are_read_by_name_and_an_unanswered_parameter_keeps_its_default() -> None:
    asked: list[str] = []

    async def get_param(name: str) -> float:
        asked.append(name)
        if name == "MPC_TKO_SPEED":
            raise TimeoutError(name)
        return {"MPC_XY_CRUISE": 7.0, "SIH_MASS": 1.0, "SIH_KDV": 1.0}.get(name, 3.0)

    limits = await read_vehicle_limits(get_param)
    assert asked == list(PARAM_NAMES)
    assert limits.xy_cruise_mps == 7.0 and limits.tko_speed_mps == 1.5


def test_the_return_speed_set_on_the_vehicle_is_the_plan_speed_within_mpc_xy_vel_max() -> None:
    assert return_speed_mps(15.0, PX4) == 12.0 and return_speed_mps(8.0, PX4) == 8.0
    params = SafetyConfig(xy_cruise_mps=12.0).params()
    assert params["MPC_XY_CRUISE"] == 12.0 and isinstance(params["MPC_XY_CRUISE"], float)
    assert "MPC_XY_CRUISE" not in SafetyConfig().params()


def test_speed_changes_are_jerk_limited_s_curves() -> None:
    t, d = speed_change(0.0, 9.8, PX4)
    assert t == pytest.approx(9.8 / 3.0 + 3.0 / 4.0)  # a/j ramp each end plus the constant part
    assert d == pytest.approx(9.8 / 2 * t)
    t_small, _ = speed_change(0.0, 1.0, PX4)
    assert t_small == pytest.approx(2 * math.sqrt(1.0 / 4.0))  # never reaches MPC_ACC_HOR
    assert speed_change(5.0, 5.0, PX4) == (0.0, 0.0)


def test_a_leg_costs_its_ramps_and_a_short_leg_never_reaches_cruise() -> None:
    long_s = level_leg_s(1500.0, 0.0, 9.8, 0.0, PX4)
    assert 1500 / 9.8 < long_s < 1500 / 9.8 + 6.0
    short_s = level_leg_s(10.0, 0.0, 9.8, 0.0, PX4)
    assert short_s > 10.0 / 9.8 and short_s < 10.0  # peak speed well under cruise


def test_corners_slow_with_the_turn_and_a_straight_waypoint_does_not() -> None:
    assert corner_speed_mps(0.0, 9.8, PX4, 5.0) == 9.8
    gentle, sharp = corner_speed_mps(20.0, 9.8, PX4, 5.0), corner_speed_mps(90.0, 9.8, PX4, 5.0)
    assert sharp < gentle <= 9.8
    assert sharp == pytest.approx(math.sqrt(0.5 * 3.0 * 5.0 * math.tan(math.radians(45))))
    straight = path_s([Waypoint3D(0, 0, 100), Waypoint3D(1000, 0, 100)], 9.8, PX4)[0]
    dogleg = path_s(
        [Waypoint3D(0, 0, 100), Waypoint3D(500, 0, 100), Waypoint3D(500, 500, 100)], 9.8, PX4
    )[0]
    assert dogleg > straight + 2.0  # the 90 degree corner costs a brake and an acceleration


def test_a_climbing_leg_is_flown_no_faster_than_the_climb_rate_allows() -> None:
    # 90 m up over 300 m: at 9.8 m/s the climb would need 2.9 m/s, within 3 -> level time.
    t_fit, _ = path_s([Waypoint3D(0, 0, 30), Waypoint3D(300, 0, 120)], 9.8, PX4, stop_at_end=False)
    assert t_fit == pytest.approx(300 / 9.8, abs=3.0)
    # 90 m up over 100 m: the climb rate sets the time.
    t_steep, _ = path_s(
        [Waypoint3D(0, 0, 30), Waypoint3D(100, 0, 120)], 9.8, PX4, stop_at_end=False
    )
    assert t_steep >= 90 / 3.0


@pytest.mark.parametrize(
    ("phase", "predicted", "px4_a", "px4_b"),
    [
        # POST -> cruise altitude 121.92 m: 0.4 + 6.3 + 47.4 and 0.3 + 5.5 + 50.1 s.
        ("takeoff to 121.92 m", lambda: takeoff_s(121.92, PX4), 54.1, 55.9),
        # RTL over home at 122 m to ON_GROUND: 97.8 + 7.7 + 12.7 + 4.0 and 89.9 + 5.9 + 8.9 + 6.0 s.
        ("landing from 122 m", lambda: land_s(122.0, PX4), 122.2, 110.7),
    ],
)
def test_vertical_phases_match_the_px4_reference_flights_within_15_percent(
    phase: str, predicted: object, px4_a: float, px4_b: float
) -> None:
    assert callable(predicted)
    t = predicted()
    mean = (px4_a + px4_b) / 2
    assert abs(t - mean) / mean <= 0.15, (phase, t, mean)


def test_rtl_starts_by_braking_and_turning_home() -> None:
    brake_s, _ = speed_change(5.0, 0.0, PX4)
    assert rtl_start_s(5.0, PX4) == pytest.approx(brake_s + 3.0)  # 180 deg at 60 deg/s
    slow_yaw = VehicleLimits(yawrate_auto_deg_s=30.0)
    assert rtl_start_s(0.0, slow_yaw) == pytest.approx(6.0)
