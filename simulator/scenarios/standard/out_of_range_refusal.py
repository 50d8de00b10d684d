"""Out-of-range refusal (see the .md beside this file)."""

from __future__ import annotations

import re

from geofence import distance_m
from simulator.scenarios import flying
from simulator.scenarios.steps import FleetScenario

CALL_DISTANCE_M = 6000.0
CALL_BEARING_DEG = 0.0  # due north of Sand Creek: still inside the operating area
WATCH_SIM_S = 20.0
_KM = re.compile(r"(\d+(?:\.\d+)?)\s*km")


class OutOfRangeRefusal(FleetScenario):
    """Out-of-range refusal."""

    default_timeout_s = 120.0

    async def run(self) -> None:
        scene, incident = self.call_at(
            CALL_BEARING_DEG,
            CALL_DISTANCE_M,
            address="6 km north of Sand Creek",
        )
        ref = incident.incident_id

        self.begin_test_case("Refusal")
        self.begin_test_step("Post call")
        with self.check("Call accepted", [ref]) as check:
            call_id = await self.post_call_step(check, incident)

        self.begin_test_step("Decision")
        with self.check("Not eligible with distance reason", [ref]) as check:
            decision = await self.decision_step(check, call_id)
            if decision is not None:
                summary = str(decision.get("summary", ""))
                reasons = flying.failed_rule_reasons(decision)
                if decision.get("eligible"):
                    check.record_failed(f"the out-of-range call was found eligible: {summary}")
                for d in self.fleet.spec.docks:
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
            await self.no_drone_armed_step(check, call_id, WATCH_SIM_S)


def _names_km(reason: str, km: float) -> bool:
    """The reason states this distance in km (to the precision it is written with, within 1 %)."""
    return any(abs(float(m) - km) <= max(0.05, 0.01 * km) for m in _KM.findall(reason))
