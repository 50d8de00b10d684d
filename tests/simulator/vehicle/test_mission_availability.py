"""AUTO.MISSION becomes available after an upload when PX4's commander next runs its checks."""

from __future__ import annotations

from simulator.vehicle.config import DroneConfig
from simulator.vehicle.drone import COMMANDER_CHECK_PERIOD_S, SimDrone
from simulator.vehicle.fidelity import HOME, SteppedClock
from simulator.vehicle.mission import Cmd, Item, MissionType

_GLOBAL_RELATIVE_ALT_INT = 6


def _waypoint(seq: int, north_deg: float) -> Item:
    return Item(
        seq=seq,
        frame=_GLOBAL_RELATIVE_ALT_INT,
        command=Cmd.NAV_WAYPOINT,
        autocontinue=1,
        param1=0.0,
        param2=2.0,
        param3=0.0,
        param4=0.0,
        x=int((HOME[0] + north_deg) * 1e7),
        y=int(HOME[1] * 1e7),
        z=30.0,
        mission_type=int(MissionType.MISSION),
    )


def _drone_and_a_moment_between_checks() -> tuple[SimDrone, float, float]:
    """A fresh drone, a moment halfway between two commander checks, and the next check's time."""
    drone = SimDrone(DroneConfig(0, *HOME, api_port=0, client_port=0), SteppedClock())
    last_check_s = drone.last_commander_check_s(10.0)
    return (
        drone,
        last_check_s + COMMANDER_CHECK_PERIOD_S / 2,
        last_check_s + COMMANDER_CHECK_PERIOD_S,
    )


def _upload(drone: SimDrone, now_s: float) -> None:
    drone.plans.mission = [_waypoint(0, 0.0005), _waypoint(1, 0.001)]
    drone.plan_uploaded(MissionType.MISSION, now_s)


def test_a_new_mission_is_refused_until_the_commanders_next_periodic_check() -> None:
    drone, upload_s, next_check_s = _drone_and_a_moment_between_checks()
    _upload(drone, upload_s)
    assert drone.mission_valid
    assert not drone.mission_ready(upload_s)
    assert not drone.mission_ready(next_check_s - 0.001)
    assert drone.mission_ready(next_check_s)


def test_arming_runs_the_checks_so_a_mission_uploaded_before_it_starts_at_once() -> None:
    drone, upload_s, _ = _drone_and_a_moment_between_checks()
    _upload(drone, upload_s)
    arm_s = upload_s + 0.005
    assert drone.arm(arm_s, force=False, reason="test") is None
    assert drone.mission_ready(arm_s)


def test_a_mission_uploaded_after_the_arm_waits_for_the_next_periodic_check() -> None:
    drone, upload_s, next_check_s = _drone_and_a_moment_between_checks()
    assert drone.arm(upload_s - 0.01, force=False, reason="test") is None
    _upload(drone, upload_s)
    assert not drone.mission_ready(upload_s + 0.01)
    assert drone.mission_ready(next_check_s)
