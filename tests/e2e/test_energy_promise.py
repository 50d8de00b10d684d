"""The energy rule's promise holds (issue 14 acceptance): a 3 km call flown to the end of its
on-scene time and back lands with the battery the decision promised, within 5 percentage points.

Real processes on loopback: `dfr-sim fleet` (flying as PX4 SIH: drag-limited level speed, RTL at
MPC_XY_CRUISE, PX4's take-off and landing profiles), `dfr-sim cad serve` and `dfr serve`, sped up.
The fleet file gives the drone the simulated airframe's own battery and power figures, so what is
checked is the time model (speeds, climb, return at the vehicle's RTL speed), not the figures.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest

from simulator.scenarios.process import free_port
from tests.e2e.conftest import (
    Stack,
    _create_tokens,
    _free_udp_pair,
    demo_fleet_copy,
    start_simulators,
    wait_for,
)
from tests.e2e.geo import destination

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SPEEDUP = 25.0
ON_SCENE_MIN = 2.0
SAND_CREEK = (38.8339, -104.7470)
#: 3 km north of the Sand Creek dock, clear of every zone (under the 200 ft UASFM ceiling).
SCENE = destination(*SAND_CREEK, 0.0, 3000.0)
#: The simulated airframe (simulator.vehicle.physics.Airframe): 90 Wh, 190 W hover, + 0.45 W/(m/s)^2;
#: at the fleet's 12 m/s reference speed that is 254.8 W.
AIRFRAME = {
    "cruise_speed_mps": "12.0",
    "battery_capacity_wh": "90.0",
    "hover_power_w": "190.0",
    "cruise_power_w": "254.8",
}


def _one_drone_fleet(port: int) -> str:
    """The demo fleet file with D1 alone, its figures those of the simulated airframe."""
    text = demo_fleet_copy({"D1": port, "D2": port, "D3": port, "D4": port})
    head, *blocks = re.split(r"(?=^\[\[drones\]\]$)", text, flags=re.M)
    d1 = next(b for b in blocks if re.search(r'^id = "D1"$', b, flags=re.M))
    d1 = re.sub(r"^cruise_speed_mps = .*\n", "", d1, flags=re.M)
    d1 = d1.rstrip("\n") + "\n" + "".join(f"{k} = {v}\n" for k, v in AIRFRAME.items())
    # Two minutes on scene (the default is five) keep the test short; the rule budgets what is set.
    head = head.replace(
        "night_waiver = true", f"night_waiver = true\non_scene_min = {ON_SCENE_MIN:g}"
    )
    assert f"on_scene_min = {ON_SCENE_MIN:g}" in head
    return head + d1


@pytest.fixture(scope="module")
def energy_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("e2e-energy")
    used: set[int] = set()
    fleet_file = work / "fleet.toml"
    fleet_file.write_text(_one_drone_fleet(_free_udp_pair(used)), encoding="utf-8")
    data_dir = work / "data"
    data_dir.mkdir()
    s = Stack(
        work_dir=work,
        fleet_file=fleet_file,
        data_dir=data_dir,
        service_port=free_port(avoid=used),
        cad_port=free_port(avoid=used),
        control_port=free_port(avoid=used),
        # Calm: the simulator flies without wind, so the weather rule must not see any either.
        service_env={"DFR_SPEEDUP": f"{SPEEDUP:g}", "DFR_WEATHER__STATIC_WIND_MPS": "0"},
    )
    cad_secret = secrets.token_urlsafe(16)
    try:
        s.tokens = _create_tokens(data_dir)
        s.tokens["_cad_secret"] = cad_secret
        s.children += start_simulators(
            work,
            fleet_file,
            cad_port=s.cad_port,
            control_port=s.control_port,
            cad_secret=cad_secret,
            fleet_options=("--speedup", f"{SPEEDUP:g}"),
        )
        s.start_service()
        wait_for(
            lambda: (
                (s.drone_frames().get("D1") or {}).get("link") == "connected"
                and (s.drone_frames()["D1"].get("gps_fix") or 0) >= 3
            ),
            120,
            "the link to D1",
            0.5,
        )
        yield s
    finally:
        s.close()


def _energy_rule(decision: dict[str, Any], drone_id: str) -> dict[str, Any]:
    drone = next(d for d in decision["drones"] if d["drone_id"] == drone_id)
    rule: dict[str, Any] = next(r for r in drone["rules"] if r["rule"] == "energy")
    return rule


def _event_at(flight: dict[str, Any], state: str) -> dict[str, Any]:
    event: dict[str, Any] = next(e for e in flight["events"] if e["to_state"] == state)
    return event


def test_a_3_km_call_flown_through_its_on_scene_time_lands_with_the_promised_battery(
    energy_stack: Stack,
) -> None:
    stack = energy_stack
    call_id = stack.post_call("E2E-ENERGY-3KM", *SCENE, call_type="BURGLARY", priority=1)
    decision = stack.decision(call_id)
    assert decision["eligible"] and decision["auto_launch"], decision["summary"]
    energy = _energy_rule(decision, "D1")
    details = energy["details"]
    assert energy["passed"] and details["from_plan"], energy["reason"]
    assert details["out_m"] == pytest.approx(3000.0, rel=0.01)
    promised_pct = (
        (details["available_wh"] - details["trip_energy_wh"]) / details["capacity_wh"] * 100.0
    )
    on_scene_s = float(details["on_scene_s"])
    assert on_scene_s == ON_SCENE_MIN * 60.0

    flight_id = int(
        wait_for(
            lambda: next(
                (
                    f["id"]
                    for f in stack.api("dispatcher").get("/flights").json()["data"]
                    if f["call_id"] == call_id
                ),
                None,
            ),
            60,
            "the call's flight",
        )
    )
    stack.wait_flight_state(flight_id, "on_scene", timeout_s=120)
    # Over the scene for the policy's on-scene time (service seconds), then home by PX4's RTL.
    time.sleep(on_scene_s / SPEEDUP)
    assert stack.command(flight_id, "rtl").status_code == 200
    landed = stack.wait_flight_state(flight_id, {"landed", "completed"}, timeout_s=180)
    battery_pct = _event_at(landed, "landed")["snapshot"]["battery_pct"]
    assert battery_pct is not None
    assert battery_pct == pytest.approx(promised_pct, abs=5.0), (
        f"landed with {battery_pct:.1f} %, the decision promised {promised_pct:.1f} %"
        f" ({energy['reason']}); phases {landed['phase_times']}"
    )
    # Nothing of the reserve was eaten: the landing charge is at least the reserve.
    reserve_pct = details["reserve_wh"] / details["capacity_wh"] * 100.0
    assert battery_pct >= reserve_pct
    rows = {r["phase"]: r for r in landed["phase_times"]["phases"]}
    assert rows["to_scene"]["actual_s"] is not None and rows["return"]["actual_s"] is not None
