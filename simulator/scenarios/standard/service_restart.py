"""Service restart mid-flight (see the .md beside this file)."""

from __future__ import annotations

from simulator.scenarios import flying
from simulator.scenarios.framework import Scenario
from simulator.scenarios.process import http_ok
from simulator.scenarios.resources import DfrService, SimCad, SimFleet

IN_PROGRESS = frozenset({"en_route", "on_scene", "armed", "uploading"})
ADOPT_TIMEOUT_S = 30.0
ON_SCENE_TIMEOUT_S = 90.0
ON_SCENE_RADIUS_M = 100.0


class ServiceRestart(Scenario):
    """Service restart mid-flight."""

    default_timeout_s = 300.0
    # PX4's longest data-link-loss timeout, so the vehicle does not (rightly) return while the
    # service is down; see service_long_link_timeout in standard_resources.yaml.
    default_resources = {"service": "service_long_link_timeout"}

    def __init__(self, service: DfrService, cad: SimCad, fleet: SimFleet) -> None:
        super().__init__()
        self.service = service
        self.cad = cad
        self.fleet = fleet

    async def run(self) -> None:
        dock = self.fleet.fleet.docks[0]
        scene, incident = flying.call_from(self, dock.location, 5.0, 2500.0, priority=1)
        ref = incident.incident_id

        self.begin_test_case("Restart")
        self.begin_test_step("Launch")
        with self.check("Drone airborne", [ref]) as check:
            launch = await flying.post_and_launch(
                self, self.service, self.cad, self.fleet, incident, auto=True
            )
            if launch.problem:
                check.record_failed(launch.problem, launch.detail)
        assert launch.drone_id is not None and launch.flight_id is not None
        flown, flight_id = launch.drone_id, launch.flight_id
        await flying.wait_flight_state(
            self, self.service, flight_id, {"en_route"}, 20.0, "the flight en route"
        )

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
            state: str | None = None

            async def holding() -> bool:
                nonlocal state
                d = await flying.flight_detail(self.service, flight_id)
                state = None if d is None else d.get("state")
                away = flying.distance_to_m(self.fleet, flown, scene.lat_deg, scene.lon_deg)
                return state == "on_scene" and away is not None and away <= ON_SCENE_RADIUS_M

            if not await self.wait_until(holding, ON_SCENE_TIMEOUT_S, "on scene after the restart"):
                d = await flying.flight_detail(self.service, flight_id)
                check.record_failed(
                    f"flight {flight_id} did not hold within {ON_SCENE_RADIUS_M:.0f} m of the call "
                    f"under the restarted service (flight {state})",
                    f"{flying.where_is(self.fleet, flown)}; states "
                    f"{None if d is None else flying.flight_states(d)}",
                )
            else:
                self.record_event("on_scene", f"{flown} on scene", latency_from="killed")

    async def cleanup(self) -> None:
        with self.check("Fleet landed", self.fleet.vehicle_ids()) as check:
            if not await flying.recall_everything(self.service, self.fleet, 120.0):
                check.record_failed(
                    f"still armed: {', '.join(flying.armed_vehicles(self.fleet))}",
                    "\n".join(flying.where_is(self.fleet, v) for v in self.fleet.vehicle_ids()),
                )
