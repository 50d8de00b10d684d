"""Dispatcher cancels from the drone view (see the .md beside this file)."""

from __future__ import annotations

from simulator.scenarios import flying
from simulator.scenarios.steps import FleetScenario

NOTE_TEXT = "Drone view: nobody at the address, doors closed"
CANCEL_REASON = "No emergency seen from the drone"
RETURN_TIMEOUT_S = 60.0


class DispatcherCancel(FleetScenario):
    """Dispatcher cancels from the drone view."""

    default_timeout_s = 240.0

    async def run(self) -> None:
        scene, incident = self.call_at(
            20.0,
            1800.0,
            call_type="SUSP",
            call_type_text="Suspicious person",
            priority=2,
        )
        ref = incident.incident_id

        self.begin_test_case("Cancel")
        self.begin_test_step("Launch")
        with self.check("Drone airborne", [ref]) as check:
            launch = await self.launch_step(check, incident)
        flown, flight_id = launch.in_the_air()

        self.begin_test_step("Cancel call")
        with self.check("Cancellation at CAD", [ref, flown]) as check:
            r = await self.add_note(launch.call_id, NOTE_TEXT)
            c = await self.cancel_call(launch.call_id, CANCEL_REASON)
            if r.status_code != 201 or c.status_code != 202:
                check.record_failed(
                    f"POST notes answered {r.status_code}, POST cancel answered {c.status_code}",
                    (r.text + c.text)[:500],
                )
            else:
                events = await flying.wait_cad(
                    self,
                    self.cad,
                    ref,
                    lambda ev: any(k == "cancel" for k, _, _ in ev),
                    20.0,
                    "the cancellation at CAD",
                )
                kinds = [k for k, _, _ in events]
                notes = [i for i, (k, t, _) in enumerate(events) if k == "note" and t == NOTE_TEXT]
                cancels = [i for i, k in enumerate(kinds) if k == "cancel"]
                if not cancels:
                    check.record_failed(
                        "CAD did not receive the cancellation within 20 s", f"CAD received: {kinds}"
                    )
                elif len(notes) != 1 or len(cancels) != 1 or notes[0] > cancels[0]:
                    check.record_failed(
                        "CAD did not receive the note then the cancellation, once each",
                        f"CAD received: {[(k, t) for k, t, _ in events]}",
                    )
                else:
                    self.record_event(
                        "cancel_at_cad",
                        "CAD received the cancellation",
                        latency_from="cancel_posted",
                    )

        self.begin_test_step("Return")
        with self.check("Drone back at dock", [flown]) as check:
            await self.back_at_dock_step(
                check, flown, flight_id, RETURN_TIMEOUT_S, "cancel_posted", "the cancel"
            )

    async def cleanup(self) -> None:
        with self.check("Fleet landed", self.fleet.vehicle_ids()) as check:
            await self.fleet_landed_step(check, 90.0)
