"""Wind over the limit (see the .md beside this file)."""

from __future__ import annotations

from typing import Any

from simulator.scenarios import flying
from simulator.scenarios.framework import Scenario
from simulator.scenarios.resources import DfrService, SimCad, SimFleet

WIND_M_S = 16.0
GUST_M_S = 22.0
WATCH_SIM_S = 20.0


class WindLimit(Scenario):
    """Wind over the limit."""

    default_timeout_s = 120.0

    def __init__(self, service: DfrService, cad: SimCad, fleet: SimFleet) -> None:
        super().__init__()
        self.service = service
        self.cad = cad
        self.fleet = fleet

    async def run(self) -> None:
        dock = self.fleet.fleet.docks[0]
        scene, incident = flying.call_from(
            self, dock.location, 0.0, 1000.0, address="1 km north of Sand Creek"
        )
        ref = incident.incident_id
        call_id = 0

        self.begin_test_case("Wind")
        self.begin_test_step("Pilot reports wind")
        with self.check("Observation accepted") as check:
            response = await self.service.client("pilot").put(
                "/weather", json={"wind_speed_mps": WIND_M_S, "wind_gust_mps": GUST_M_S}
            )
            self.record_event(
                "weather", "Pilot reported the wind", f"{WIND_M_S:g} m/s G{GUST_M_S:g}"
            )
            if response.status_code != 200:
                check.record_failed(
                    f"PUT /api/v1/weather answered {response.status_code}", response.text[:500]
                )
            else:
                seen = await flying.get_json(self.service.client("dispatcher"), "/weather")
                wind = ((seen or {}).get("weather") or {}).get("wind_speed_mps")
                if wind is None or abs(float(wind) - WIND_M_S) > 0.01:
                    check.record_failed(
                        f"GET /api/v1/weather shows wind {wind}, not {WIND_M_S:g} m/s", str(seen)
                    )

        self.begin_test_step("Post call")
        with self.check("Call accepted", [ref]) as check:
            posted = await flying.post_call(self, self.service, self.cad, incident)
            if posted.call_id is None:
                check.record_failed(posted.problem, posted.detail)
            else:
                call_id = posted.call_id

        self.begin_test_step("Decision")
        decision: dict[str, Any] | None = None
        with self.check("Not eligible with wind reason", [ref]) as check:
            decision = await flying.wait_decision(self, self.service, call_id)
            if decision is None:
                check.record_failed(f"no decision for call {call_id} within 20 s")
            else:
                summary = str(decision.get("summary", ""))
                reasons = flying.failed_rule_reasons(decision)
                if decision.get("eligible"):
                    check.record_failed(
                        f"the call was found eligible in a {WIND_M_S:g} m/s wind: {summary}"
                    )
                elif not any(
                    "wind" in r.lower() and f"{WIND_M_S:g}" in r for r in [summary, *reasons]
                ):
                    check.record_failed(
                        f"neither the summary nor a failed rule names the {WIND_M_S:g} m/s wind",
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
