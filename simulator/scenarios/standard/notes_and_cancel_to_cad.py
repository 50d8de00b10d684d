"""Dispatcher notes and cancellation reach CAD (see the .md beside this file)."""

from __future__ import annotations

from typing import Any

from simulator.scenarios.steps import FleetScenario
from simulator.scenarios.stimuli import event_kind, event_text, make_incident

NOTE_TEXT = "Caller reports two people at the rear door"
CANCEL_REASON = "No emergency: resident locked out"
CANCELLED_DISPOSITION = 10


class NotesAndCancelToCad(FleetScenario):
    """A note then a cancellation, each delivered to CAD once and in order."""

    default_timeout_s = 120.0

    async def run(self) -> None:
        dock = self.dock()
        incident = make_incident(dock.lat + 0.009, dock.lon)
        self.record_point(f"call {incident.incident_id}", "call", incident.lat, incident.lon)
        dispatcher = self.service.client("dispatcher")

        self.begin_test_case("Call intake")
        self.begin_test_step("Post call")
        with self.check("Call accepted", [incident.incident_id]) as check:
            call_id = await self.post_call_step(check, incident)

        self.begin_test_step("List call")
        with self.check("Call listed", [incident.incident_id]) as check:

            async def listed() -> bool:
                r = await dispatcher.get(f"/calls/{call_id}")
                return r.status_code == 200 and r.json()["cad_incident_id"] == incident.incident_id

            if not await self.wait_until(listed, 5.0, "the call to be listed"):
                check.record_failed(f"call {call_id} is not listed with its CAD incident id")
            else:
                self.record_event("call_listed", "Call listed", latency_from="call_posted")

        self.begin_test_case("Dispatcher writes to CAD")
        self.begin_test_step("Add note")
        with self.check("Note delivered", [incident.incident_id]) as check:
            r = await self.add_note(call_id, NOTE_TEXT)
            if r.status_code != 201:
                check.record_failed(f"POST notes answered {r.status_code}", r.text[:500])
            elif not await self.wait_until(
                lambda: self._has(incident.incident_id, "note", NOTE_TEXT), 20.0, "the note at CAD"
            ):
                check.record_failed("CAD did not receive the note within 20 s")
            else:
                self.record_event(
                    "note_at_cad", "CAD received the note", latency_from="note_posted"
                )

        self.begin_test_step("Cancel call")
        with self.check("Cancellation delivered", [incident.incident_id]) as check:
            r = await self.cancel_call(call_id, CANCEL_REASON)
            if r.status_code != 202:
                check.record_failed(f"POST cancel answered {r.status_code}", r.text[:500])
            elif not await self.wait_until(
                lambda: self._has(incident.incident_id, "cancel"), 20.0, "the cancellation at CAD"
            ):
                check.record_failed("CAD did not receive the cancellation within 20 s")
            else:
                self.record_event(
                    "cancel_at_cad", "CAD received the cancellation", latency_from="cancel_posted"
                )
                cancel = next(
                    e
                    for e in await self.cad.received(incident.incident_id)
                    if event_kind(e) == "cancel"
                )
                code = (cancel["body"].get("disposition") or {}).get("code")
                if code is not None and int(code) != CANCELLED_DISPOSITION:
                    check.record_failed(f"cancellation disposition is {code}, expected 10")
        with self.check("Notes in order", [incident.incident_id]) as check:
            received = await self.cad.received(incident.incident_id)
            kinds = [event_kind(e) for e in received if event_kind(e) in ("note", "cancel")]
            notes = [e for e in received if event_text(e) == NOTE_TEXT]
            if len(notes) != 1 or kinds.count("cancel") != 1:
                check.record_failed(
                    f"expected the note and the cancellation once each, CAD has {kinds}"
                )
            elif [event_kind(e) for e in received].index("cancel") < received.index(notes[0]):
                check.record_failed(f"CAD received the cancellation before the note: {kinds}")
        with self.check("Call shows cancelled", [incident.incident_id]) as check:
            r = await dispatcher.get(f"/calls/{call_id}")
            lifecycle = r.json().get("lifecycle") if r.status_code == 200 else None
            if lifecycle != "cancelled":
                check.record_failed(f"the call's lifecycle is {lifecycle!r}, expected 'cancelled'")

    async def _has(self, incident_id: str, kind: str, text: str | None = None) -> bool:
        received: list[dict[str, Any]] = await self.cad.received(incident_id)
        return any(
            event_kind(e) == kind and (text is None or event_text(e) == text) for e in received
        )

    async def cleanup(self) -> None:
        with self.check("Fleet on the ground", self.fleet.vehicle_ids()) as check:
            # The priority-1 burglary auto-launches; the cancellation sends the drone home.
            await self.fleet_landed_step(check, 90.0)
