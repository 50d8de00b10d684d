"""Wind over the limit (see the .md beside this file)."""

from __future__ import annotations

from simulator.scenarios import flying
from simulator.scenarios.steps import FleetScenario

WIND_MPS = 16.0
GUST_MPS = 22.0
WATCH_SIM_S = 20.0


class WindLimit(FleetScenario):
    """Wind over the limit."""

    default_timeout_s = 120.0

    async def run(self) -> None:
        scene, incident = self.call_at(0.0, 1000.0, address="1 km north of Sand Creek")
        ref = incident.incident_id

        self.begin_test_case("Wind")
        self.begin_test_step("Pilot reports wind")
        with self.check("Observation accepted") as check:
            response = await self.service.client("pilot").put(
                "/weather", json={"wind_speed_mps": WIND_MPS, "wind_gust_mps": GUST_MPS}
            )
            self.record_event(
                "weather", "Pilot reported the wind", f"{WIND_MPS:g} m/s G{GUST_MPS:g}"
            )
            if response.status_code != 200:
                check.record_failed(
                    f"PUT /api/v1/weather answered {response.status_code}", response.text[:500]
                )
            else:
                seen = await flying.get_json(self.service.client("dispatcher"), "/weather")
                wind = ((seen or {}).get("weather") or {}).get("wind_speed_mps")
                if wind is None or abs(float(wind) - WIND_MPS) > 0.01:
                    check.record_failed(
                        f"GET /api/v1/weather shows wind {wind}, not {WIND_MPS:g} m/s", str(seen)
                    )

        self.begin_test_step("Post call")
        with self.check("Call accepted", [ref]) as check:
            call_id = await self.post_call_step(check, incident)

        self.begin_test_step("Decision")
        with self.check("Not eligible with wind reason", [ref]) as check:
            decision = await self.decision_step(check, call_id)
            if decision is not None:
                summary = str(decision.get("summary", ""))
                reasons = flying.failed_rule_reasons(decision)
                if decision.get("eligible"):
                    check.record_failed(
                        f"the call was found eligible in a {WIND_MPS:g} m/s wind: {summary}"
                    )
                elif not any(
                    "wind" in r.lower() and f"{WIND_MPS:g}" in r for r in [summary, *reasons]
                ):
                    check.record_failed(
                        f"neither the summary nor a failed rule names the {WIND_MPS:g} m/s wind",
                        f"summary: {summary}\nreasons: {reasons}",
                    )

        self.begin_test_step("No flight")
        with self.check("No drone armed", [ref]) as check:
            await self.no_drone_armed_step(check, call_id, WATCH_SIM_S)
