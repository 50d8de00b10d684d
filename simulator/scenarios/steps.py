"""Scenarios against the service, its CAD and its fleet, and the test steps several of them take.

Each step fills a check the scenario itself opened: `with self.check("Call accepted", [ref]) as
check: call_id = await self.post_call_step(check, incident)`. The check's name stays a literal in
the scenario's own module, where the narrative check (`docs_check`) matches it to the `.md`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from geofence import GeoPoint
from simulator.cad import SimIncident
from simulator.scenarios import flying
from simulator.scenarios.framework import PendingCheck, Scenario
from simulator.scenarios.resources import DfrService, DockSpec, SimCad, SimFleet, ZoneSet

#: How long a step waits for the dispatch decision of a call it posted.
DECISION_TIMEOUT_S = 20.0


class FleetScenario(Scenario):
    """A scenario driving the service (`service`) with its simulated CAD (`cad`) and drones (`fleet`)."""

    def __init__(self, service: DfrService, cad: SimCad, fleet: SimFleet) -> None:
        super().__init__()
        self.service = service
        self.cad = cad
        self.fleet = fleet

    def dock(self, dock_id: str | None = None) -> DockSpec:
        """The fleet's dock `dock_id` (its first dock when None)."""
        docks = self.fleet.spec.docks
        return docks[0] if dock_id is None else next(d for d in docks if d.id == dock_id)

    def call_at(
        self, bearing_deg: float, distance_m: float, *, dock_id: str | None = None, **incident: Any
    ) -> tuple[GeoPoint, SimIncident]:
        """A call `distance_m` from a dock on `bearing_deg`, marked on the report's map."""
        return flying.call_from(
            self, self.dock(dock_id).location, bearing_deg, distance_m, **incident
        )

    async def add_note(self, call_id: int, text: str) -> httpx.Response:
        """The dispatcher adds a note to the call (put on the timeline)."""
        response = await self.service.client("dispatcher").post(
            f"/calls/{call_id}/notes", json={"text": text}
        )
        self.record_event("note_posted", "Dispatcher added a note", text)
        return response

    async def cancel_call(self, call_id: int, reason: str) -> httpx.Response:
        """The dispatcher cancels the call (put on the timeline)."""
        response = await self.service.client("dispatcher").post(
            f"/calls/{call_id}/cancel", json={"reason": reason}
        )
        self.record_event("cancel_posted", "Dispatcher cancelled the call", reason)
        return response

    async def post_call_step(
        self,
        check: PendingCheck,
        incident: SimIncident,
        *,
        event: str = "call_posted",
        label: str = "CAD posted the call",
    ) -> int:
        """CAD posts the call; its id (0, with the check failed, when the service refused it)."""
        posted = await flying.post_call(
            self, self.service, self.cad, incident, event=event, label=label
        )
        if posted.call_id is None:
            check.record_failed(posted.problem, posted.detail)
            return 0
        return posted.call_id

    async def decision_step(
        self, check: PendingCheck, call_id: int, timeout_s: float = DECISION_TIMEOUT_S, **wait: str
    ) -> dict[str, Any] | None:
        """The call's dispatch decision (None, with the check failed, when none came in time)."""
        decision = await flying.wait_decision(self, self.service, call_id, timeout_s, **wait)
        if decision is None:
            check.record_failed(f"no decision for call {call_id} within {timeout_s:g} s")
        return decision

    async def launch_step(
        self,
        check: PendingCheck,
        incident: SimIncident,
        *,
        auto: bool = False,
        drone_id: str | None = None,
    ) -> flying.Launch:
        """Post the call, launch it (or wait for the auto-launch) and wait for the drone in the air."""
        launch = await flying.post_and_launch(
            self, self.service, self.cad, self.fleet, incident, auto=auto, drone_id=drone_id
        )
        if launch.problem:
            check.record_failed(launch.problem, launch.detail)
        return launch

    async def wait_en_route(self, flight_id: int, timeout_s: float = 20.0) -> None:
        """Wait (at most `timeout_s`) until the flight is en route to the scene."""
        await flying.wait_flight_state(
            self, self.service, flight_id, {"en_route"}, timeout_s, "the flight en route"
        )

    async def no_drone_armed_step(
        self, check: PendingCheck, call_id: int, watch_sim_s: float
    ) -> None:
        """After a refusal, watch the drones a while: none may arm and the call may have no flight."""
        await self.sleep(
            flying.wall_s(self.service, watch_sim_s, floor_s=2.0),
            f"watch the drones for {watch_sim_s:.0f} s (simulated) after the refusal",
        )
        armed = flying.armed_vehicles(self.fleet)
        flights = await flying.flights_of_call(self.service, call_id)
        if armed or flights:
            check.record_failed(
                f"after the refusal: armed {armed}, flights {[f['id'] for f in flights]}"
            )

    async def back_at_dock_step(
        self,
        check: PendingCheck,
        flown: str,
        flight_id: int,
        timeout_s: float,
        since: str,
        after: str,
    ) -> None:
        """The drone lands at its dock within `timeout_s` of the `since` event (`after` says what that was)."""
        if not await flying.wait_landed_at_dock(self, self.fleet, flown, timeout_s):
            check.record_failed(
                f"{flown} is not landed at its dock {timeout_s:.0f} s after {after}",
                await flying.flight_and_drone(self.service, self.fleet, flight_id, flown),
            )
        else:
            self.record_event("landed", f"{flown} landed at its dock", latency_from=since)

    async def cad_note_step(
        self, check: PendingCheck, incident_id: str, words: str, timeout_s: float, missing: str
    ) -> None:
        """CAD receives a note containing `words` (any case) for the incident within `timeout_s`."""

        def noted(events: list[tuple[str, str, dict[str, Any]]]) -> bool:
            return any(k == "note" and words in t.lower() for k, t, _ in events)

        events = await flying.wait_cad(
            self, self.cad, incident_id, noted, timeout_s, f"a note at CAD naming {words!r}"
        )
        if not noted(events):
            check.record_failed(missing, f"CAD notes: {[t for k, t, _ in events if k == 'note']}")

    async def fleet_landed_step(self, check: PendingCheck, timeout_s: float) -> None:
        """Send every flight home and wait until no drone is armed."""
        if not await flying.recall_everything(self.service, self.fleet, timeout_s):
            check.record_failed(
                f"still armed: {', '.join(flying.armed_vehicles(self.fleet))}",
                "\n".join(flying.where_is(self.fleet, v) for v in self.fleet.vehicle_ids()),
            )

    def under_ceiling_step(self, check: PendingCheck) -> None:
        """No observed altitude above the ceiling."""
        high = flying.ceiling_violations(self.fleet)
        if high:
            check.record_failed(
                f"{len(high)} observed altitude(s) above the ceiling", "\n".join(high[:20])
            )


class ZonedFleetScenario(FleetScenario):
    """A `FleetScenario` that also checks positions against the keep-out zones (`zones`)."""

    def __init__(self, service: DfrService, cad: SimCad, fleet: SimFleet, zones: ZoneSet) -> None:
        super().__init__(service, cad, fleet)
        self.zones = zones

    def never_in_keep_out_step(self, check: PendingCheck, counted: Sequence[str] = ()) -> None:
        """No observed position inside a keep-out zone (`counted`: the drones the pass counts)."""
        inside = flying.keep_out_violations(self.fleet, self.zones)
        if inside:
            check.record_failed(
                f"{len(inside)} observed position(s) inside a keep-out zone", "\n".join(inside[:20])
            )
            return
        points = flying.observed_points(self.fleet, counted or None)
        of = f" of {', '.join(counted)}" if counted else ""
        check.record_passed(f"{points} airborne positions{of}, none in a keep-out")
