"""Service restart mid-flight (see the .md beside this file)."""

from __future__ import annotations

from simulator.scenarios import flying
from simulator.scenarios.process import http_ok
from simulator.scenarios.steps import FleetScenario

IN_PROGRESS = frozenset({"en_route", "on_scene", "armed", "uploading"})
ADOPT_TIMEOUT_S = 30.0
ON_SCENE_TIMEOUT_S = 90.0
ON_SCENE_RADIUS_M = 100.0


class ServiceRestart(FleetScenario):
    """Service restart mid-flight."""

    default_timeout_s = 300.0
    # PX4's longest data-link-loss timeout, so the vehicle does not (rightly) return while the
    # service is down; see service_long_link_timeout in standard_resources.yaml.
    default_resources = {"service": "service_long_link_timeout"}

    async def run(self) -> None:
        scene, incident = self.call_at(5.0, 2500.0, priority=1)
        ref = incident.incident_id

        self.begin_test_case("Restart")
        self.begin_test_step("Launch")
        with self.check("Drone airborne", [ref]) as check:
            launch = await self.launch_step(check, incident, auto=True)
        flown, flight_id = launch.in_the_air()
        await self.wait_en_route(flight_id)

        self.begin_test_step("Kill and restart")
        with self.check("Service healthy again") as check:
            self.record_event(
                "killed", "Service killed (SIGKILL) mid-flight", flying.where_is(self.fleet, flown)
            )
            await self.service.restart(kill=True)
            if not await http_ok(f"{self.service.base_url}/api/v1/health", timeout_s=30.0):
                check.record_failed("the restarted service is not healthy")
            else:
                self.record_event("healthy", "Service healthy again", latency_from="killed")
        with self.check("Flight adopted", [flown]) as check:

            async def adopted() -> bool:
                d = await flying.flight_detail(self.service, flight_id)
                return d is not None and any(
                    "adopted after restart" in str(e.get("reason", "")) for e in d.get("events", [])
                )

            met = await self.wait_until(adopted, ADOPT_TIMEOUT_S, "the flight adopted")
            detail = await flying.flight_detail(self.service, flight_id)
            adopted_state = None if detail is None else detail.get("state")
            notes = (
                []
                if detail is None
                else [
                    str(e.get("reason"))
                    for e in detail.get("events", [])
                    if "adopt" in str(e.get("reason"))
                ]
            )
            if not met or adopted_state not in IN_PROGRESS:
                check.record_failed(
                    f"after the restart flight {flight_id} is {adopted_state!r}, "
                    f"adoption notes {notes}",
                    flying.where_is(self.fleet, flown),
                )
            elif any("not adopted" in n or "differs" in n for n in notes):
                check.record_failed(
                    f"the restarted service did not adopt the flight cleanly: {notes}"
                )
            else:
                self.record_event(
                    "adopted", "Flight adopted", "; ".join(notes), latency_from="killed"
                )

        self.begin_test_step("Complete")
        with self.check("Flight completed", [ref, flown]) as check:

            async def holding() -> bool:
                return await flying.holding_over(
                    self.service, self.fleet, flight_id, flown, scene, ON_SCENE_RADIUS_M
                )

            if not await self.wait_until(holding, ON_SCENE_TIMEOUT_S, "on scene after the restart"):
                check.record_failed(
                    f"flight {flight_id} did not hold within {ON_SCENE_RADIUS_M:.0f} m of the call "
                    "under the restarted service",
                    await flying.flight_and_drone(self.service, self.fleet, flight_id, flown),
                )
            else:
                self.record_event("on_scene", f"{flown} on scene", latency_from="killed")

    async def cleanup(self) -> None:
        with self.check("Fleet landed", self.fleet.vehicle_ids()) as check:
            await self.fleet_landed_step(check, 120.0)
