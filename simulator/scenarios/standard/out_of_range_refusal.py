"""Out-of-range refusal (see the .md beside this file)."""

from __future__ import annotations

import re
from typing import Any

from geofence import distance_m
from simulator.scenarios import flying
from simulator.scenarios.framework import Scenario
from simulator.scenarios.resources import DfrService, SimCad, SimFleet

CALL_DISTANCE_M = 6000.0
CALL_BEARING_DEG = 0.0  # due north of Sand Creek: still inside the operating area
WATCH_SIM_S = 20.0
_KM = re.compile(r"(\d+(?:\.\d+)?)\s*km")


class OutOfRangeRefusal(Scenario):
    """Out-of-range refusal."""

    default_timeout_s = 120.0

    def __init__(self, service: DfrService, cad: SimCad, fleet: SimFleet) -> None:
        super().__init__()
        self.service = service
        self.cad = cad
        self.fleet = fleet

    async def run(self) -> None:
        dock = self.fleet.fleet.docks[0]
        scene, incident = flying.call_from(
            self,
            dock.location,
            CALL_BEARING_DEG,
            CALL_DISTANCE_M,
            address="6 km north of Sand Creek",
        )
        ref = incident.incident_id
        call_id = 0

        self.begin_test_case("Refusal")
        self.begin_test_step("Post call")
        with self.check("Call accepted", [ref]) as check:
            posted = await flying.post_call(self, self.service, self.cad, incident)
            if posted.call_id is None:
                check.record_failed(posted.problem, posted.detail)
            else:
                call_id = posted.call_id

        self.begin_test_step("Decision")
        decision: dict[str, Any] | None = None
        with self.check("Not eligible with distance reason", [ref]) as check:
            decision = await flying.wait_decision(self, self.service, call_id)
            if decision is None:
                check.record_failed(f"no decision for call {call_id} within 20 s")
            else:
                summary = str(decision.get("summary", ""))
                reasons = flying.failed_rule_reasons(decision)
                if decision.get("eligible"):
                    check.record_failed(f"the out-of-range call was found eligible: {summary}")
                for d in self.fleet.fleet.docks:
                    away_km = distance_m(d.location, scene) / 1000.0
                    if not any(
                        d.name in r and _names_km(r, away_km) and "radius" in r for r in reasons
                    ):
                        check.record_failed(
                            f"no refusal reason names the {away_km:.2f} km from {d.name} "
                            "and its response radius",
                            f"summary: {summary}\nreasons: {reasons}",
                        )

        self.begin_test_step("No flight")
        with self.check("No drone armed", [ref]) as check:
            await self.sleep(
                flying.wall_s(self.service, WATCH_SIM_S, floor_s=2.0),
                f"watch the drones for {WATCH_SIM_S:.0f} s (simulated) after the refusal",
            )
            armed = flying.armed_vehicles(self.fleet)
            flights = await flying.flights_of_call(self.service, call_id)
            if armed or flights:
                check.record_failed(
                    f"after the refusal: armed {armed}, flights {[f['id'] for f in flights]}"
                )


def _names_km(reason: str, km: float) -> bool:
    """The reason states this distance in km (to the precision it is written with, within 1 %)."""
    return any(abs(float(m) - km) <= max(0.05, 0.01 * km) for m in _KM.findall(reason))
