"""Dispatcher cancels from the drone view (see the .md beside this file)."""

from __future__ import annotations

from geofence import destination
from simulator.scenarios import flying
from simulator.scenarios.framework import Scenario
from simulator.scenarios.resources import DfrService, SimCad, SimFleet
from simulator.scenarios.stimuli import make_incident

NOTE_TEXT = "Drone view: nobody at the address, doors closed"
CANCEL_REASON = "No emergency seen from the drone"
RETURN_TIMEOUT_S = 60.0


class DispatcherCancel(Scenario):
    """Dispatcher cancels from the drone view."""

    default_timeout_s = 240.0

    def __init__(self, service: DfrService, cad: SimCad, fleet: SimFleet) -> None:
        super().__init__()
        self.service = service
        self.cad = cad
        self.fleet = fleet

    async def run(self) -> None:
        dock = self.fleet.fleet.docks[0]
        scene = destination(dock.location, 20.0, 1800.0)
        incident = make_incident(
            scene.lat_deg,
            scene.lon_deg,
            call_type="SUSP",
            call_type_text="Suspicious person",
            priority=2,
        )
        ref = incident.incident_id
        self.record_point(f"call {ref}", "call", scene.lat_deg, scene.lon_deg)

        self.begin_test_case("Cancel")
        self.begin_test_step("Launch")
        with self.check("Drone airborne", [ref]) as check:
            launch = await flying.post_and_launch(
                self, self.service, self.cad, self.fleet, incident
            )
            if launch.problem:
                check.record_failed(launch.problem, launch.detail)
        assert launch.drone_id is not None and launch.flight_id is not None
        flown = launch.drone_id

        self.begin_test_step("Cancel call")
        dispatcher = self.service.client("dispatcher")
        with self.check("Cancellation at CAD", [ref, flown]) as check:
            r = await dispatcher.post(f"/calls/{launch.call_id}/notes", json={"text": NOTE_TEXT})
            self.record_event("note_posted", "Dispatcher added a note", NOTE_TEXT)
            c = await dispatcher.post(
                f"/calls/{launch.call_id}/cancel", json={"reason": CANCEL_REASON}
            )
            self.record_event("cancel_posted", "Dispatcher cancelled the call", CANCEL_REASON)
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
            if not await flying.wait_landed_at_dock(self, self.fleet, flown, RETURN_TIMEOUT_S):
                detail = await flying.flight_detail(self.service, launch.flight_id)
                check.record_failed(
                    f"{flown} is not landed at its dock {RETURN_TIMEOUT_S:.0f} s after the cancel",
                    f"{flying.where_is(self.fleet, flown)}; flight states "
                    f"{None if detail is None else flying.flight_states(detail)}",
                )
            else:
                self.record_event(
                    "landed", f"{flown} landed at its dock", latency_from="cancel_posted"
                )

    async def cleanup(self) -> None:
        with self.check("Fleet landed", self.fleet.vehicle_ids()) as check:
            if not await flying.recall_everything(self.service, self.fleet, 90.0):
                check.record_failed(
                    f"still armed: {', '.join(flying.armed_vehicles(self.fleet))}",
                    "\n".join(flying.where_is(self.fleet, v) for v in self.fleet.vehicle_ids()),
                )
