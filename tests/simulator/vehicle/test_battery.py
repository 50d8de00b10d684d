"""The battery after a flight: charged on the dock (PX4 SITL: full at disarm), not where it landed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from simulator.vehicle import SimDrone, SimFleet

from .conftest import RawClient, fly_up, sim_rig, until

pytestmark = [pytest.mark.sim, pytest.mark.timeout(180)]
Sim = tuple[SimFleet, RawClient]
DOCK_CHARGE_S = 600.0


async def _fly_and_drain(fleet: SimFleet, rc: RawClient, fraction: float) -> SimDrone:
    d = await fly_up(fleet, rc)
    d.fault_battery_drop(fraction)
    return d


async def _land_here(d: SimDrone, rc: RawClient) -> None:
    nan = float("nan")
    assert (await rc.command(21, 0, 0, 0, nan, nan, nan, nan)).result == 0
    await until(lambda: not d.armed, 120.0, rc)


def _remaining(d: SimDrone) -> float:
    return d.snapshot().battery_fraction


async def test_battery_is_full_again_when_a_flight_ends_on_the_dock(sim: Sim) -> None:
    fleet, rc = sim
    d = await _fly_and_drain(fleet, rc, 0.5)
    await _land_here(d, rc)
    assert d.on_dock() and _remaining(d) == 1.0
    status = await rc.wait_for("BATTERY_STATUS", lambda m: m.battery_remaining == 100, clear=True)
    assert status.charge_state == 1  # MAV_BATTERY_CHARGE_STATE_OK


async def test_battery_stays_low_when_the_drone_landed_away_from_its_dock(sim: Sim) -> None:
    fleet, rc = sim
    d = await _fly_and_drain(fleet, rc, 0.5)
    lat, lon, alt = d.position_global()
    assert (await rc.command(192, -1, 1, 0, float("nan"), lat + 0.0009, lon, alt)).result == 0
    await until(lambda: d.phys.north_m > 90.0 and d.phys.ground_speed_mps < 0.3, 60.0, rc)
    await _land_here(d, rc)
    assert not d.on_dock() and _remaining(d) < 0.5


async def test_battery_drop_on_the_dock_stays_until_a_flight_ends(sim: Sim) -> None:
    fleet, rc = sim
    d = fleet.drone(0)
    d.fault_battery_drop(0.3)
    start_s = d.clock.now_s()
    await until(lambda: d.clock.now_s() - start_s > 30.0, 30.0)
    assert d.on_dock() and abs(_remaining(d) - 0.3) < 0.001


@pytest.fixture
async def slow_dock() -> AsyncIterator[Sim]:
    async with sim_rig(dock_charge_s=DOCK_CHARGE_S) as rig:
        yield rig


async def test_dock_charging_takes_the_configured_time(slow_dock: Sim) -> None:
    fleet, rc = slow_dock
    d = await _fly_and_drain(fleet, rc, 0.4)
    await _land_here(d, rc)
    landed = d.snapshot()
    assert landed.battery_fraction < 0.45
    await until(lambda: d.snapshot().time_s - landed.time_s >= 120.0, 60.0)
    now = d.snapshot()
    expected = (now.time_s - landed.time_s) / DOCK_CHARGE_S
    gained = now.battery_fraction - landed.battery_fraction
    # 600 s from empty to full; a stalled machine may skip physics steps, never add charge.
    assert 0.5 * expected <= gained <= expected + 0.001
    await until(lambda: _remaining(d) == 1.0, 60.0)
    assert (await rc.command(400, 1)).result == 0  # charged and armable again
