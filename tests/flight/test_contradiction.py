"""Reports that contradict what the vehicle just said are held back and alerted, not applied."""

from __future__ import annotations

from flight.contradiction import (
    Contradiction,
    ContradictionKind,
    PlausibilityGate,
    PlausibilityLimits,
)
from geofence import GeoPoint, destination

HOME = GeoPoint(47.3977, 8.5456)
NEW_YORK = GeoPoint(40.7128, -74.0060)


def gate() -> tuple[PlausibilityGate, list[Contradiction]]:
    found: list[Contradiction] = []
    return PlausibilityGate(found.append, PlausibilityLimits()), found


def heartbeats(
    g: PlausibilityGate, reports: list[tuple[float, bool]], *, airborne: bool, armed: bool = True
) -> list[bool]:
    """Feed (time, reported armed) heartbeats; the armed state applied after each."""
    applied = []
    for t, reported in reports:
        armed = g.armed(reported, armed, t, airborne=airborne)
        applied.append(armed)
    return applied


def test_a_disarmed_heartbeat_between_armed_ones_in_the_air_is_held_and_alerted() -> None:
    g, found = gate()
    applied = heartbeats(g, [(0.0, True), (0.4, False), (1.0, True)], airborne=True)
    assert applied == [True, True, True]
    assert [c.kind for c in found] == [ContradictionKind.ARMED]
    assert "disarmed reported while in the air" in found[0].detail
    assert g.held(ContradictionKind.ARMED) == 1


def test_forged_disarms_interleaved_with_the_vehicles_armed_heartbeats_never_apply() -> None:
    g, found = gate()
    # The vehicle says armed at 1 Hz (one of its heartbeats lost); a flood says disarmed at 20 Hz.
    reports = [(k / 20.0, False) for k in range(1, 200)]
    reports += [(float(s), True) for s in range(11) if s != 4]
    reports.sort()
    applied = heartbeats(g, reports, airborne=False)
    assert all(applied)
    assert g.held(ContradictionKind.ARMED) > 150
    # Alerts are rate-limited: one per alert interval, not one per forged frame.
    assert 1 <= len(found) <= 2


def test_a_real_disarm_is_applied_once_the_vehicle_keeps_saying_it() -> None:
    g, found = gate()
    applied = heartbeats(g, [(0.0, True), (1.0, False), (2.0, False), (3.0, False)], airborne=False)
    # Confirmed over more than a heartbeat period, so a flood cannot confirm between two of the
    # vehicle's own heartbeats.
    assert applied == [True, True, True, False]
    assert found == []  # on the ground a disarm is no contradiction, only held until confirmed


def test_arming_is_applied_at_once() -> None:
    g, _ = gate()
    assert heartbeats(g, [(0.0, False), (1.0, True)], airborne=False, armed=False) == [False, True]


def test_an_armed_state_flapping_three_times_in_two_seconds_is_alerted_and_frozen() -> None:
    g, found = gate()
    reports = [(0.0, False), (0.5, True), (1.0, False), (1.5, True), (2.0, False), (2.2, True)]
    applied = heartbeats(g, reports, airborne=False, armed=False)
    assert applied[:2] == [False, True]  # a first arming is applied
    assert applied[-1] is True and applied[2:5] == [True, True, True]
    assert found and found[0].kind == ContradictionKind.ARMED


def test_a_position_jump_beyond_physics_is_held_and_alerted() -> None:
    g, found = gate()
    assert g.position(HOME, 500.0, 0.0)
    assert g.position(destination(HOME, 90.0, 15.0), 500.0, 0.2)
    assert not g.position(NEW_YORK, 10.0, 0.4)
    assert g.fix is not None and g.fix.point != NEW_YORK
    assert [c.kind for c in found] == [ContradictionKind.POSITION]
    assert "jumped 63" in found[0].detail  # km, Zurich to New York


def test_a_fast_but_possible_move_is_applied() -> None:
    g, found = gate()
    assert g.position(HOME, 500.0, 0.0)
    # 200 m in 2 s (100 m/s with the margin) is within 2 x 40 m/s x 2 s + 50 m.
    assert g.position(destination(HOME, 0.0, 200.0), 500.0, 2.0)
    assert found == []


def test_a_jump_the_vehicle_keeps_reporting_is_confirmed() -> None:
    g, _ = gate()
    assert g.position(HOME, 500.0, 0.0)
    far = destination(HOME, 45.0, 5_000.0)
    assert not g.position(far, 500.0, 0.2)
    assert not g.position(destination(far, 45.0, 3.0), 500.0, 1.0)
    assert g.position(destination(far, 45.0, 6.0), 500.0, 1.8)  # 1.6 s of consistent fixes


def test_forged_fixes_interleaved_with_real_ones_are_never_confirmed() -> None:
    g, found = gate()
    for k in range(200):
        t = k * 0.1
        real = destination(HOME, 90.0, 10.0 * t)
        if k % 2:
            assert not g.position(NEW_YORK, 10.0, t)
        else:
            assert g.position(real, 500.0, t)
    assert g.held(ContradictionKind.POSITION) == 100
    assert 1 <= len(found) <= 2


def test_an_impossible_battery_step_is_held_and_a_real_one_confirmed() -> None:
    g, found = gate()
    assert g.battery_pct(80.0, 0.0, in_use=True)
    assert g.battery_pct(79.0, 2.0, in_use=True)
    assert not g.battery_pct(1.0, 2.5, in_use=True)
    assert [c.kind for c in found] == [ContradictionKind.BATTERY]
    assert "from 79 % to 1 %" in found[0].detail
    # A cell failing for real: the vehicle keeps reporting the low charge.
    assert not g.battery_pct(7.0, 3.0, in_use=True)
    assert g.battery_pct(7.0, 4.5, in_use=True)


def test_a_battery_refilling_in_flight_is_held_but_on_the_dock_is_applied() -> None:
    g, _ = gate()
    assert g.battery_pct(30.0, 0.0, in_use=True)
    assert not g.battery_pct(100.0, 1.0, in_use=True)
    assert g.battery_pct(100.0, 2.0, in_use=False)  # swapped on the dock


def test_fixes_queued_behind_a_stalled_reader_are_judged_by_the_vehicles_own_clock() -> None:
    g, found = gate()
    assert g.position(HOME, 500.0, 0.0, boot_s=100.0)
    # Made 20 s apart at 15 m/s, read 0.1 s apart after a stall.
    moved = destination(HOME, 90.0, 300.0)
    assert g.position(moved, 500.0, 0.1, boot_s=120.0)
    assert found == []


def test_a_forged_boot_time_buys_no_more_than_the_backlog_allowance() -> None:
    g, found = gate()
    assert g.position(HOME, 500.0, 0.0, boot_s=100.0)
    # 30 s of backlog allow 2 x 40 m/s x 30 s + 50 m = 2.45 km, not 6000 km.
    assert not g.position(NEW_YORK, 10.0, 0.1, boot_s=100_000.0)
    assert [c.kind for c in found] == [ContradictionKind.POSITION]
