"""CAD-side cancel (see the .md beside this file)."""

from __future__ import annotations

from simulator.scenarios import flying
from simulator.scenarios.steps import FleetScenario

RETURN_TIMEOUT_S = 60.0


class CadSideCancel(FleetScenario):
    """CAD-side cancel."""

    default_timeout_s = 240.0

    async def run(self) -> None:
        scene, incident = self.call_at(340.0, 1800.0, priority=1)
        ref = incident.incident_id

        self.begin_test_case("Cancel from CAD")
        self.begin_test_step("Launch")
        with self.check("Drone airborne", [ref]) as check:
            launch = await self.launch_step(check, incident, auto=True)
        flown, flight_id = launch.in_the_air()

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
            await self.back_at_dock_step(
                check, flown, flight_id, RETURN_TIMEOUT_S, "cad_cancel", "CAD cancelled"
            )

    async def cleanup(self) -> None:
        with self.check("Fleet landed", self.fleet.vehicle_ids()) as check:
            await self.fleet_landed_step(check, 90.0)
