"""Call inside a keep-out zone (see the .md beside this file)."""

from __future__ import annotations

from typing import Any

from simulator.scenarios import flying
from simulator.scenarios.steps import ZonedFleetScenario

DOCK_ID = "airport-south"
CALL_BEARING_DEG = 0.0
CALL_DISTANCE_M = 750.0  # about 200 m inside the airport's southern boundary: a stand-off is near
ON_SCENE_TIMEOUT_S = 60.0


class KeepOutCall(ZonedFleetScenario):
    """Call inside a keep-out zone."""

    default_timeout_s = 240.0

    async def run(self) -> None:
        scene, incident = self.call_at(
            CALL_BEARING_DEG,
            CALL_DISTANCE_M,
            address="airport grounds",
            dock_id=DOCK_ID,
        )
        ref = incident.incident_id
        zones = self.zones.containing(scene.lat_deg, scene.lon_deg)

        self.begin_test_case("Keep out")
        self.begin_test_step("Post call")
        with self.check("Call accepted", [ref]) as check:
            call_id = await self.post_call_step(check, incident)

        self.begin_test_step("Decision")
        decision: dict[str, Any] | None = None
        flight: dict[str, Any] | None = None
        with self.check("Stand-off or refusal", [ref]) as check:
            if zones:
                decision = await flying.wait_decision(self, self.service, call_id)
            if not zones:
                check.record_failed("the scenario's call point is not inside any keep-out zone")
            elif decision is None:
                check.record_failed(f"no decision for call {call_id} within 20 s")
            else:
                summary = str(decision.get("summary", ""))
                texts = [
                    summary,
                    *flying.failed_rule_reasons(decision),
                    *_airspace_reasons(decision),
                ]
                if decision.get("eligible"):
                    # A stand-off: the plan must say so, and the flight must hold outside the zone.
                    if not any("stand-off" in t for t in texts):
                        check.record_failed(
                            "the call inside a keep-out was found eligible without a stand-off",
                            summary,
                        )
                    else:
                        flight = await self._stand_off_flight(call_id, check)
                elif not any(z.name in t for z in zones for t in texts):
                    check.record_failed(
                        f"the refusal does not name the zone ({', '.join(z.name for z in zones)})",
                        f"summary: {summary}\nreasons: {texts}",
                    )

        self.begin_test_step("Watch flight")
        watched = [flight["drone_id"]] if flight else self.fleet.vehicle_ids()
        with self.check("Never in keep-out", watched) as check:
            self.never_in_keep_out_step(check)
        with self.check("Under ceiling", watched) as check:
            self.under_ceiling_step(check)

    async def _stand_off_flight(self, call_id: int, check: Any) -> dict[str, Any] | None:
        """Launch (unless auto-launched) and wait until the drone holds at its stand-off."""
        flights = await flying.flights_of_call(self.service, call_id)
        if not flights:
            r = await self.service.client("dispatcher").post(f"/calls/{call_id}/launch", json={})
            if r.status_code != 202:
                check.record_failed(
                    f"launch to the stand-off answered {r.status_code}", r.text[:500]
                )
                return None
            flights = await flying.flights_of_call(self.service, call_id)
        flight_id = int(flights[-1]["id"])
        detail = await flying.wait_flight_state(
            self, self.service, flight_id, {"on_scene"}, ON_SCENE_TIMEOUT_S, "the stand-off reached"
        )
        if detail is None:
            check.record_failed(f"flight {flight_id} did not reach its stand-off")
            return None
        self.record_event("on_scene", f"{detail['drone_id']} at the stand-off")
        drone = str(detail["drone_id"])
        seen = self.fleet.observed(drone)
        if seen is not None and seen.lat is not None and seen.lon is not None:
            if self.zones.containing(seen.lat, seen.lon):
                check.record_failed(
                    f"{drone} holds inside the keep-out: {flying.where_is(self.fleet, drone)}"
                )
        return detail

    async def cleanup(self) -> None:
        with self.check("Fleet landed", self.fleet.vehicle_ids()) as check:
            await self.fleet_landed_step(check, 90.0)


def _airspace_reasons(decision: dict[str, Any]) -> list[str]:
    return [
        str(r.get("reason", ""))
        for d in decision.get("drones", [])
        for r in d.get("rules", [])
        if r.get("rule") == "airspace"
    ]
