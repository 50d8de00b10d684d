"""Failsafes as PX4: data-link loss -> NAV_DLL_ACT, fence breach -> GF_ACTION, critical battery -> land."""

from __future__ import annotations

import pytest

from simulator.vehicle import FlightMode, SimFleet

from .conftest import RawClient, fly_up, until

pytestmark = [pytest.mark.sim, pytest.mark.timeout(180)]
Sim = tuple[SimFleet, RawClient]


async def test_link_cut_triggers_rtl_after_com_dl_loss_t(sim: Sim) -> None:
    fleet, rc = sim
    d = fleet.drone(0)
    d.params.set("NAV_DLL_ACT", 2)
    d = await fly_up(fleet, rc)
    cut_at = d.clock.now_s()
    d.fault_link_cut(600.0, inbound=True, outbound=True)
    await until(lambda: d.mode is FlightMode.RTL, 90.0)
    lost = d.clock.now_s() - cut_at
    assert lost >= d.params["COM_DL_LOSS_T"]
    assert any("ground station lost" in t for _, t in d.events)
    await until(lambda: not d.armed, 120.0)
    assert d.phys.on_ground and abs(d.phys.north_m) < 3 and abs(d.phys.east_m) < 3


async def test_no_dll_failsafe_when_nav_dll_act_is_disabled(sim: Sim) -> None:
    fleet, rc = sim
    d = await fly_up(fleet, rc)
    d.fault_link_cut(600.0, inbound=True, outbound=False)
    await until(lambda: any("ground station lost" in t for _, t in d.events), 60.0)
    start = d.clock.now_s()
    await until(lambda: d.clock.now_s() - start > 10.0, 30.0)
    assert d.mode is FlightMode.LOITER and d.armed


async def test_max_distance_fence_breach_triggers_gf_action_return(sim: Sim) -> None:
    fleet, rc = sim
    d = fleet.drone(0)
    d.params.set("GF_MAX_HOR_DIST", 40.0)
    d.params.set("GF_ACTION", 3)
    d = await fly_up(fleet, rc)
    lat, lon, alt = d.position_global()
    ack = await rc.command(192, -1, 1, 0, float("nan"), lat + 0.0009, lon, alt)  # ~100 m north
    assert ack.result == 0
    await until(lambda: any("maximum distance" in t for _, t in d.events), 60.0, rc)
    await until(lambda: d.mode is FlightMode.RTL, 60.0, rc)
    await until(lambda: not d.armed, 120.0, rc)


async def test_fence_breach_with_hold_action_stops_at_the_boundary(sim: Sim) -> None:
    fleet, rc = sim
    d = fleet.drone(0)
    d.params.set("GF_MAX_HOR_DIST", 30.0)
    d = await fly_up(fleet, rc)
    lat, lon, alt = d.position_global()
    assert (await rc.command(192, -1, 1, 0, float("nan"), lat, lon + 0.002, alt)).result == 0
    await until(lambda: any("maximum distance" in t for _, t in d.events), 60.0, rc)
    await until(lambda: d.phys.ground_speed_mps < 0.2, 60.0, rc)
    assert d.mode is FlightMode.LOITER and d.phys.east_m < 60.0


async def test_critical_battery_with_land_action_lands(sim: Sim) -> None:
    fleet, rc = sim
    d = fleet.drone(0)
    d.params.set("COM_LOW_BAT_ACT", 2)
    d = await fly_up(fleet, rc)
    d.fault_battery_drop(0.06)
    await until(lambda: d.mode is FlightMode.LAND, 30.0, rc)
    assert any("Critical battery" in t for _, t in d.events)
    await until(lambda: not d.armed, 120.0, rc)
    assert d.phys.on_ground


async def test_gps_loss_in_flight_descends(sim: Sim) -> None:
    fleet, rc = sim
    d = await fly_up(fleet, rc)
    d.fault_gps_loss(600.0)
    await until(lambda: d.mode is FlightMode.LAND, 30.0, rc)
    assert (await rc.command(400, 1)).result == 0  # already armed: accepted, nothing changes
    await until(lambda: not d.armed, 120.0, rc)


async def test_auto_disarm_after_idle_preflight(sim: Sim) -> None:
    fleet, rc = sim
    d = fleet.drone(0)
    rc.heartbeat()
    assert (await rc.command(400, 1)).result == 0
    await until(lambda: not d.armed, 60.0)
    armed_at = next(t for t, text in d.events if text.startswith("Armed by"))
    disarmed_at = next(t for t, text in d.events if "auto preflight disarming" in text)
    assert disarmed_at - armed_at >= d.params["COM_DISARM_PRFLT"] - 0.05


async def test_refuse_next_command_fault_answers_once(sim: Sim) -> None:
    fleet, rc = sim
    d = fleet.drone(0)
    rc.heartbeat()
    d.fault_refuse_next_command(1)
    assert (await rc.command(400, 1)).result == 1
    assert not d.armed
    assert (await rc.command(400, 1)).result == 0
