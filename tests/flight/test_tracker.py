"""FlightTracker derives phases from the vehicle's own reports."""

from __future__ import annotations

import dataclasses

from flight.mission_items import MavCmd, MissionItem
from flight.models import (
    FlightMode,
    LandedState,
    LinkState,
    VehicleEvent,
    VehicleEventKind,
    VehicleId,
    VehicleState,
)
from flight.state import FailsafeCause, FlightPhase, FlightStateMachine
from flight.tracker import FlightTracker, failsafe_cause_of, missions_match
from geofence import GeoPoint
from tests.flight.clocks import ManualClock

P = FlightPhase
TARGET = GeoPoint(47.40, 8.55)
HOME = GeoPoint(47.39, 8.54)


def st(clock: ManualClock, **kw: object) -> VehicleState:
    base = VehicleState(
        vehicle_id=VehicleId("d1"),
        time=clock.now(),
        available=True,
        last_seen=clock.now(),
        link=LinkState.CONNECTED,
        position=HOME,
        mode=FlightMode.HOLD,
        landed_state=LandedState.ON_GROUND,
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def air(clock: ManualClock, mode: FlightMode, **kw: object) -> VehicleState:
    """An armed, flying vehicle's report."""
    return st(clock, armed=True, mode=mode, landed_state=LandedState.IN_AIR, **kw)


LOST = {"link": LinkState.LOST, "available": False}


def tracker(clock: ManualClock, phase: FlightPhase = P.PLANNED) -> FlightTracker:
    m = FlightStateMachine("f1", VehicleId("d1"), clock, phase=phase)
    return FlightTracker(m, clock, on_scene_seq=3, target=TARGET)


def text(clock: ManualClock, t: str) -> VehicleEvent:
    return VehicleEvent(VehicleId("d1"), clock.now(), VehicleEventKind.STATUSTEXT, t, severity=2)


def test_nominal_flight_from_vehicle_reports() -> None:
    c = ManualClock()
    tr = tracker(c)
    tr.begin_upload()
    phases = []
    reports = [
        st(c, armed=True),
        st(
            c,
            armed=True,
            mode=FlightMode.MISSION,
            landed_state=LandedState.TAKEOFF,
            mission_current_seq=0,
        ),
        air(c, FlightMode.MISSION, mission_current_seq=2),
        air(c, FlightMode.MISSION, mission_current_seq=3, position=TARGET),
        air(c, FlightMode.RTL, position=TARGET),
        st(c, armed=True, mode=FlightMode.RTL, landed_state=LandedState.LANDING),
        st(c, armed=True, mode=FlightMode.RTL, landed_state=LandedState.ON_GROUND),
        st(c, armed=False, mode=FlightMode.RTL, landed_state=LandedState.ON_GROUND),
    ]
    for r in reports:
        phases += [t.to_phase for t in tr.observe(r)]
    assert phases == [P.ARMED, P.EN_ROUTE, P.ON_SCENE, P.RETURNING, P.LANDED, P.COMPLETED]


def test_on_scene_needs_target_proximity_when_mission_item_reached() -> None:
    c = ManualClock()
    tr = tracker(c, P.EN_ROUTE)
    far = air(c, FlightMode.MISSION, mission_current_seq=3)
    assert tr.observe(far) == []
    assert [t.to_phase for t in tr.observe(air(c, FlightMode.ORBIT))] == [P.ON_SCENE]


def test_geofence_failsafe_from_statustext_and_mode() -> None:
    c = ManualClock()
    tr = tracker(c, P.EN_ROUTE)
    tr.observe(air(c, FlightMode.MISSION))
    tr.observe_event(text(c, "Geofence: approaching or outside geofence"))
    out = tr.observe(air(c, FlightMode.HOLD))
    assert [t.to_phase for t in out] == [P.FAILSAFE]
    assert out[0].cause == FailsafeCause.GEOFENCE


def test_commanded_rtl_is_returning_not_failsafe() -> None:
    c = ManualClock()
    tr = tracker(c, P.EN_ROUTE)
    tr.observe(air(c, FlightMode.MISSION))
    tr.note_command("rtl")
    out = tr.observe(air(c, FlightMode.RTL))
    assert [t.to_phase for t in out] == [P.RETURNING]


def test_uncommanded_rtl_en_route_is_failsafe_then_returning() -> None:
    c = ManualClock()
    tr = tracker(c, P.EN_ROUTE)
    tr.observe(air(c, FlightMode.MISSION))
    tr.observe_event(text(c, "Low battery level! Returning"))
    out = tr.observe(air(c, FlightMode.RTL))
    assert [t.to_phase for t in out] == [P.FAILSAFE, P.RETURNING]
    assert out[0].cause == FailsafeCause.BATTERY


def test_link_lost_then_vehicle_own_rtl_observed_when_link_returns() -> None:
    c = ManualClock()
    tr = tracker(c, P.EN_ROUTE)
    tr.observe(air(c, FlightMode.MISSION))
    out = tr.observe(air(c, FlightMode.MISSION, **LOST))
    assert [t.to_phase for t in out] == [P.LINK_LOST]
    c.advance(20)
    out = tr.observe(air(c, FlightMode.RTL))
    assert [t.to_phase for t in out] == [P.FAILSAFE, P.RETURNING]
    assert out[0].cause == FailsafeCause.LINK_LOSS


def test_disarm_before_takeoff_aborts() -> None:
    c = ManualClock()
    tr = tracker(c, P.ARMED)
    out = tr.observe(st(c, armed=False))
    assert [t.to_phase for t in out] == [P.ABORTED]
    assert tr.machine.abort_reason == "vehicle disarmed before take-off"


def test_failsafe_cause_patterns_and_mission_match() -> None:
    assert (
        failsafe_cause_of("Failsafe activated: no connection to the GCS") == FailsafeCause.LINK_LOSS
    )
    assert failsafe_cause_of("Armed by external command") is None
    a = [MissionItem(command=MavCmd.NAV_WAYPOINT, x=1, y=2, z=3.0)]
    assert missions_match(a, list(a))
    assert not missions_match(a, [MissionItem(command=MavCmd.NAV_WAYPOINT, x=1, y=2, z=4.0)])


def test_link_back_in_failsafe_hold_then_rtl_is_link_loss_failsafe() -> None:
    c = ManualClock()
    tr = tracker(c, P.ON_SCENE)
    tr.observe(air(c, FlightMode.ORBIT))
    tr.observe(air(c, FlightMode.ORBIT, **LOST))
    c.advance(12)
    out = tr.observe(air(c, FlightMode.HOLD))
    assert [t.to_phase for t in out] == [P.ON_SCENE]
    c.advance(5)
    out = tr.observe(air(c, FlightMode.RTL))
    assert [t.to_phase for t in out] == [P.FAILSAFE, P.RETURNING]
    assert out[0].cause == FailsafeCause.LINK_LOSS


def test_planned_rtl_after_scene_is_returning_without_failsafe() -> None:
    c = ManualClock()
    tr = tracker(c, P.ON_SCENE)
    tr.observe(air(c, FlightMode.MISSION))
    out = tr.observe(air(c, FlightMode.RTL))
    assert [t.to_phase for t in out] == [P.RETURNING]


def test_a_drone_released_from_an_orbit_onto_the_return_leg_stays_returning() -> None:
    c = ManualClock()
    tr = tracker(c, P.ON_SCENE)
    assert tr.observe(air(c, FlightMode.ORBIT, position=TARGET)) == []
    tr.note_command("resume")  # the service moves the mission past the loiter, then resumes it
    released = tr.observe(air(c, FlightMode.MISSION, position=TARGET, mission_current_seq=4))
    assert [t.to_phase for t in released] == [P.RETURNING]
    c.advance(5.0)
    away = tr.observe(air(c, FlightMode.MISSION, position=HOME, mission_current_seq=6))
    assert away == [] and tr.phase == P.RETURNING
