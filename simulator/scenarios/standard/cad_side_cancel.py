"""CAD-side cancel (see the .md beside this file)."""

from __future__ import annotations

from simulator.scenarios import flying
from simulator.scenarios.framework import Scenario
from simulator.scenarios.resources import DfrService, SimCad, SimFleet

RETURN_TIMEOUT_S = 60.0


class CadSideCancel(Scenario):
    """CAD-side cancel."""

    default_timeout_s = 240.0

    def __init__(self, service: DfrService, cad: SimCad, fleet: SimFleet) -> None:
        super().__init__()
        self.service = service
        self.cad = cad
        self.fleet = fleet

    async def run(self) -> None:
        dock = self.fleet.fleet.docks[0]
        scene, incident = flying.call_from(self, dock.location, 340.0, 1800.0, priority=1)
        ref = incident.incident_id

        self.begin_test_case("Cancel from CAD")
        self.begin_test_step("Launch")
        with self.check("Drone airborne", [ref]) as check:
            launch = await flying.post_and_launch(
                self, self.service, self.cad, self.fleet, incident, auto=True
            )
            if launch.problem:
                check.record_failed(launch.problem, launch.detail)
        assert launch.drone_id is not None and launch.flight_id is not None
        flown = launch.drone_id

        self.begin_test_step("CAD cancels")
        with self.check("Call shows cancelled", [ref]) as check:
            response = await self.cad.post_call(
                self.service, incident.with_changes(status="Cancelled")
            )
            self.record_event("cad_cancel", "CAD cancelled the incident", ref)
            lifecycle: str | None = None

            async def cancelled() -> bool:
                nonlocal lifecycle
                detail = await flying.call_detail(self.service, launch.call_id)
                lifecycle = None if detail is None else detail.get("lifecycle")
                return lifecycle == "cancelled"

            if response.status_code != 202:
                check.record_failed(
                    f"the Cancelled re-post was answered {response.status_code}",
                    response.text[:500],
                )
            elif not await self.wait_until(cancelled, 5.0, "the call shown cancelled"):
                check.record_failed(
                    f"the call's lifecycle is {lifecycle!r} 5 s after CAD cancelled it"
                )
            else:
                self.record_event(
                    "call_cancelled", "Call shows cancelled", latency_from="cad_cancel"
                )

        self.begin_test_step("Return")
        with self.check("Drone back at dock", [flown]) as check:
            if not await flying.wait_landed_at_dock(self, self.fleet, flown, RETURN_TIMEOUT_S):
                detail = await flying.flight_detail(self.service, launch.flight_id)
                check.record_failed(
                    f"{flown} is not landed at its dock {RETURN_TIMEOUT_S:.0f} s after CAD cancelled",
                    f"{flying.where_is(self.fleet, flown)}; flight states "
                    f"{None if detail is None else flying.flight_states(detail)}",
                )
            else:
                self.record_event(
                    "landed", f"{flown} landed at its dock", latency_from="cad_cancel"
                )

    async def cleanup(self) -> None:
        with self.check("Fleet landed", self.fleet.vehicle_ids()) as check:
            if not await flying.recall_everything(self.service, self.fleet, 90.0):
                check.record_failed(
                    f"still armed: {', '.join(flying.armed_vehicles(self.fleet))}",
                    "\n".join(flying.where_is(self.fleet, v) for v in self.fleet.vehicle_ids()),
                )
