"""The flight model is pure and deterministic, and respects its limits."""

from __future__ import annotations

from simulator.vehicle.physics import (
    Airframe,
    Setpoint,
    Wind,
    battery_fraction,
    initial_state,
    step,
)


def _fly(seed: int, wind: Wind, steps: int = 1500):  # type: ignore[no-untyped-def]
    af = Airframe()
    s = initial_state(af)
    sp = Setpoint(200.0, 100.0, 30.0, speed_h_mps=10.0, climb_mps=3.0, descent_mps=1.5)
    for _ in range(steps):
        s = step(s, sp, af, wind, seed)
    return s


def test_same_seed_and_inputs_give_identical_states() -> None:
    wind = Wind(6.0, 270.0, 3.0)
    assert _fly(7, wind) == _fly(7, wind)
    assert _fly(7, wind) != _fly(8, wind)


def test_reaches_target_without_exceeding_speed_and_climb_limits() -> None:
    af = Airframe()
    s = initial_state(af)
    sp = Setpoint(300.0, 0.0, 40.0, speed_h_mps=8.0, climb_mps=3.0, descent_mps=1.5)
    for _ in range(4000):
        s = step(s, sp, af, Wind(), 1)
        assert s.ground_speed_mps <= 8.0 + 1e-6
        assert s.vu_mps <= 3.0 + 1e-6
    assert abs(s.north_m - 300.0) < 0.5 and abs(s.up_m - 40.0) < 0.5


def test_headwind_costs_energy() -> None:
    calm = _fly(1, Wind())
    windy = _fly(1, Wind(10.0, 63.0, 0.0))
    assert battery_fraction(windy, Airframe()) < battery_fraction(calm, Airframe())
