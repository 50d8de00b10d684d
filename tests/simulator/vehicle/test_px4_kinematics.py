"""The simulator flies as PX4 SIH flies: PX4's parameters on the wire, and the reference flights' phase times."""

from __future__ import annotations

import csv
import json
import math
import struct
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pymavlink.dialects.v20 import common as M  # noqa: N812

from simulator.vehicle import SimFleet
from simulator.vehicle.config import DroneConfig
from simulator.vehicle.drone import SimDrone
from simulator.vehicle.fidelity import HOME, LEG_A, LEG_B, FlightLog, SteppedClock, fly_reference
from simulator.vehicle.modes import FlightMode
from simulator.vehicle.navigator import RtlPhase
from simulator.vehicle.params import PX4_PARAMS, ParamType
from simulator.vehicle.physics import PHYSICS_DT_S, Tuning

from .conftest import RawClient

DATA = Path(__file__).parent / "data"
REFERENCE = json.loads((DATA / "px4_reference_phases.json").read_text())

# PX4 defaults (parameter definitions of the PX4 build the reference flights used).
PX4_DEFAULTS = {
    "COM_SPOOLUP_TIME": 1.0,
    "LNDMC_TRIG_TIME": 1.0,
    "MIS_YAW_ERR": 12.0,
    "MIS_YAW_TMT": -1.0,
    "MPC_ACC_DOWN_MAX": 3.0,
    "MPC_ACC_HOR_MAX": 5.0,
    "MPC_ACC_UP_MAX": 4.0,
    "MPC_JERK_AUTO": 4.0,
    "MPC_LAND_ALT1": 10.0,
    "MPC_LAND_ALT2": 5.0,
    "MPC_LAND_ALT3": 1.0,
    "MPC_LAND_CRWL": 0.3,
    "MPC_TILTMAX_AIR": 45.0,
    "MPC_TKO_RAMP_T": 3.0,
    "MPC_TKO_SPEED": 1.5,
    "MPC_XY_ERR_MAX": 2.0,
    "MPC_XY_P": 0.95,
    "MPC_XY_TRAJ_P": 0.5,
    "MPC_XY_VEL_I_ACC": 0.4,
    "MPC_XY_VEL_P_ACC": 1.8,
    "MPC_YAWRAUTO_MAX": 60.0,
    "MPC_Z_P": 1.0,
    "MPC_Z_V_AUTO_DN": 1.5,
    "MPC_Z_V_AUTO_UP": 3.0,
    "MPC_Z_VEL_I_ACC": 2.0,
    "MPC_Z_VEL_P_ACC": 4.0,
    "NAV_MC_ALT_RAD": 0.8,
    "RTL_DESCEND_ALT": 10.0,
    "RTL_RETURN_ALT": 30.0,
    "RTL_TYPE": 0,
    "SIH_KDV": 1.0,
    "SIH_MASS": 1.0,
}


async def test_each_new_px4_parameter_reads_back_over_mavlink_with_px4_default(
    sim: tuple[SimFleet, RawClient],
) -> None:
    _, rc = sim
    specs = {p.name: p for p in PX4_PARAMS}
    for name, default in PX4_DEFAULTS.items():
        rc.send(M.MAVLink_param_request_read_message(1, 1, name.encode(), -1))
        msg = await rc.wait_for("PARAM_VALUE", _named(name), timeout_s=5.0)
        assert msg.param_type == int(specs[name].type)
        if specs[name].type is ParamType.INT32:
            assert int(struct.unpack("<i", struct.pack("<f", msg.param_value))[0]) == default
        else:
            assert msg.param_value == pytest.approx(default, abs=1e-6), name


def _named(name: str) -> Callable[[Any], bool]:
    return lambda m: bool(m.param_id.rstrip("\0") == name)


async def test_a_set_flight_parameter_changes_how_the_vehicle_flies(
    sim: tuple[SimFleet, RawClient],
) -> None:
    fleet, rc = sim
    rc.send(M.MAVLink_param_set_message(1, 1, b"MPC_TILTMAX_AIR", 30.0, 9))
    await rc.wait_for("PARAM_VALUE", lambda m: m.param_id.rstrip("\0") == "MPC_TILTMAX_AIR")
    drone = fleet.drone(0)
    drone.advance(drone.clock.now_s())
    assert drone.tuning.tilt_max_rad == pytest.approx(math.radians(30.0))


def test_top_speed_is_sih_quadrotors() -> None:
    # SIH quadx: g * tan(45 deg) * SIH_MASS / SIH_KDV; PX4 levelled off at 9.7-9.8 m/s asking for 12.
    assert Tuning().top_speed_mps == pytest.approx(9.81, abs=0.01)


@pytest.fixture(scope="module")
def flights() -> dict[str, FlightLog]:
    return {leg.name: fly_reference(leg) for leg in (LEG_A, LEG_B)}


_PHASES = {
    "takeoff_arm_to_cruise_alt": ("armed", "cruise_alt"),
    "leg_cruise_alt_to_on_scene": ("cruise_alt", "on_scene"),
    "rtl_transit_to_over_home": ("on_scene", "over_home"),
    "descent_over_home_to_10m": ("over_home", "at_10m"),
    "landing_10m_to_on_ground": ("at_10m", "on_ground"),
}


def _px4_vehicle_s(phase: str, flight: str) -> float:
    ref = REFERENCE["phases"][phase][flight]
    return float(ref["wall_s"] * ref["clock"])


@pytest.mark.parametrize(
    ("phase", "flight"),
    [
        ("leg_cruise_alt_to_on_scene", "a"),
        ("leg_cruise_alt_to_on_scene", "b"),
        ("rtl_transit_to_over_home", "a"),
        ("rtl_transit_to_over_home", "b"),
        ("descent_over_home_to_10m", "a"),
        ("descent_over_home_to_10m", "b"),
    ],
)
def test_phase_takes_px4s_time_within_ten_percent(
    flights: dict[str, FlightLog], phase: str, flight: str
) -> None:
    start, end = _PHASES[phase]
    sim_s = flights[flight].phase_s(start, end)
    assert 0.9 <= sim_s / _px4_vehicle_s(phase, flight) <= 1.1, (phase, flight, sim_s)


@pytest.mark.parametrize("phase", ["takeoff_arm_to_cruise_alt", "landing_10m_to_on_ground"])
def test_short_phase_takes_px4s_mean_time_within_ten_percent(
    flights: dict[str, FlightLog], phase: str
) -> None:
    # Take-off and landing are the same on both flights; PX4's two runs differ by ~1 s of 1 Hz
    # quantisation, so the simulator is held to their mean.
    start, end = _PHASES[phase]
    px4_s = (_px4_vehicle_s(phase, "a") + _px4_vehicle_s(phase, "b")) / 2.0
    for log in flights.values():
        assert 0.9 <= log.phase_s(start, end) / px4_s <= 1.1, (phase, log.phase_s(start, end))


def test_rtl_returns_at_mpc_xy_cruise_not_the_missions_speed(
    flights: dict[str, FlightLog],
) -> None:
    log = flights["b"]
    t0, t1 = log.events_s["on_scene"] + 60.0, log.events_s["over_home"] - 60.0
    pts = [p for p in log.track if t0 <= p[0] <= t1]
    speed = math.hypot(pts[-1][1] - pts[0][1], pts[-1][2] - pts[0][2]) / (pts[-1][0] - pts[0][0])
    assert speed == pytest.approx(5.0, abs=0.1)


def test_outbound_leg_stays_within_ten_metres_of_px4s_track(
    flights: dict[str, FlightLog],
) -> None:
    log, leg = flights["a"], LEG_A
    b = math.radians(leg.bearing_deg)
    t0 = log.events_s["cruise_alt"]
    with (DATA / "px4_a_outbound_leg.csv").open() as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    for row in rows:
        t = t0 + float(row["t_since_cruise_alt_s"])
        n, e = _track_at(log, t)
        along = n * math.cos(b) + e * math.sin(b)
        cross = -n * math.sin(b) + e * math.cos(b)
        assert math.hypot(along - float(row["along_m"]), cross - float(row["cross_m"])) <= 10.0, row


def _track_at(log: FlightLog, t: float) -> tuple[float, float]:
    for (ta, na, ea, _), (tb, nb, eb, _) in zip(log.track, log.track[1:], strict=False):
        if ta <= t <= tb:
            w = (t - ta) / (tb - ta)
            return na + (nb - na) * w, ea + (eb - ea) * w
    raise AssertionError(f"no track sample around {t}")


def test_lift_off_takes_px4s_time_within_ten_percent(flights: dict[str, FlightLog]) -> None:
    # COM_SPOOLUP_TIME, then the MPC_TKO_RAMP_T ramp from zero thrust, with the vertical PI loop's
    # integrator (MPC_Z_VEL_I_ACC) winding against the ground: PX4 SIH needs 5.4-6.3 s, not 4.2.
    ref = REFERENCE["airborne_after_arm_s"]
    px4_s = (ref["a"] + ref["b"]) / 2.0
    for log in flights.values():
        assert 0.9 <= log.phase_s("armed", "airborne") / px4_s <= 1.1, log.events_s["airborne"]


def test_lift_off_follows_the_spool_up_and_vertical_loop_parameters() -> None:
    base_s = fly_reference(LEG_A, max_s=12.0).events_s["airborne"]
    later = fly_reference(LEG_A, {"COM_SPOOLUP_TIME": 2.0}, max_s=12.0).events_s["airborne"]
    no_i = fly_reference(LEG_A, {"MPC_Z_VEL_I_ACC": 0.0}, max_s=12.0).events_s["airborne"]
    assert later - base_s == pytest.approx(1.0, abs=0.05)
    # Without the integrator winding against the ground the vehicle leaves at the ramp's zero crossing.
    assert no_i < base_s - 0.5


def _airborne_drone(up_m: float, north_mps: float) -> SimDrone:
    clock = SteppedClock()
    drone = SimDrone(DroneConfig(0, *HOME, api_port=0, client_port=0), clock)
    drone.arm(0.0, force=True, reason="test")
    drone.phys = replace(
        drone.phys,
        north_m=300.0,
        up_m=up_m,
        vn_mps=north_mps,
        traj_vn_mps=north_mps,
        on_ground=False,
    )
    drone.land_detected = False
    return drone


def _fly(drone: SimDrone, seconds: float) -> None:
    clock = drone.clock
    assert isinstance(clock, SteppedClock)
    end_s = clock.t_s + seconds
    while clock.t_s < end_s:
        clock.t_s += PHYSICS_DT_S
        drone.advance(clock.t_s)


def test_rtl_above_return_altitude_flies_the_return_leg_at_once() -> None:
    # PX4's RtlDirect climbs only from below RTL_RETURN_ALT; above it the return leg is the first
    # item: no stop-and-hover, no turn on the spot before leaving (MPC_YAW_MODE 0).
    drone = _airborne_drone(up_m=100.0, north_mps=9.8)
    drone.set_mode(FlightMode.RTL, 0.0)
    assert drone.rtl_phase is RtlPhase.RETURN
    _fly(drone, 8.0)
    # Braked from 9.8 m/s away from home and already heading back (PX4 SIH: 5.5-7.5 s).
    assert drone.phys.vn_mps < -0.3


def test_rtl_below_return_altitude_climbs_first_then_returns() -> None:
    drone = _airborne_drone(up_m=20.0, north_mps=0.0)
    drone.set_mode(FlightMode.RTL, 0.0)
    assert drone.rtl_phase is RtlPhase.CLIMB
    _fly(drone, 5.0)
    assert drone.rtl_phase is RtlPhase.CLIMB and drone.phys.up_m > 20.0
    _fly(drone, 20.0)
    # At RTL_RETURN_ALT (30 m) over the climb point, within NAV_ACC_RAD: the return leg starts.
    assert drone.rtl_phase is RtlPhase.RETURN
    assert drone.phys.vn_mps < 0.0
