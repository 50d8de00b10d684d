"""A priority-1 call takes the drone in the air (see the .md beside this file)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geofence import GeoPoint, destination
from simulator.scenarios import flying
from simulator.scenarios.record import TrackPoint
from simulator.scenarios.steps import ZonedFleetScenario
from simulator.scenarios.stimuli import make_incident

SCENE_DISTANCE_M = 1500.0
FIRST_BEARING_DEG = 0.0  # due north of Sand Creek: open city, no zone in the way
SECOND_BEARING_DEG = 300.0  # 1.5 km from the first scene; no zone between or on the way
FIRST_PRIORITY = 3
SECOND_PRIORITY = 1
ON_SCENE_RADIUS_M = 100.0
DECISION_TIMEOUT_S = 20.0
SECOND_LEG_TIMEOUT_S = 60.0
REQUEUE_TIMEOUT_S = 10.0
CAD_TIMEOUT_S = 20.0
RETURN_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class _Report:
    """One reading of the drone's own state (simulator truth of what it reports over MAVLink)."""

    at_s: float
    armed: bool
    landed: bool | None
    alt_rel_m: float | None
    mode: str


class Preemption(ZonedFleetScenario):
    """A priority-1 call takes the drone in the air."""

    default_timeout_s = 240.0
    default_resources = {
        "service": "service_preemption",
        "fleet": "fleet_preemption",
    }

    async def run(self) -> None:
        dock = self.dock()
        home = dock.location
        scene_a = destination(home, FIRST_BEARING_DEG, SCENE_DISTANCE_M)
        scene_b = destination(home, SECOND_BEARING_DEG, SCENE_DISTANCE_M)
        first = make_incident(
            scene_a.lat_deg,
            scene_a.lon_deg,
            call_type="SUSP",
            call_type_text="Suspicious person",
            priority=FIRST_PRIORITY,
            address=f"1500 m north of {dock.name}",
            in_progress=False,
        )
        second = make_incident(
            scene_b.lat_deg,
            scene_b.lon_deg,
            priority=SECOND_PRIORITY,
            address=f"1500 m west-north-west of {dock.name}",
        )
        ref_a, ref_b = first.incident_id, second.incident_id
        self.record_point(f"call {ref_a} (priority 3)", "call", scene_a.lat_deg, scene_a.lon_deg)
        self.record_point(f"call {ref_b} (priority 1)", "call", scene_b.lat_deg, scene_b.lon_deg)
        dispatcher = self.service.client("dispatcher")

        self.begin_test_case("First call")
        self.begin_test_step("Launch first call")
        with self.check("Drone airborne", [ref_a]) as check:
            launch = await self.launch_step(check, first)
        (drone, flight_a), call_a = launch.in_the_air(), launch.call_id

        self.begin_test_step("Reach first scene")
        with self.check("Holding over first scene", [ref_a, drone]) as check:
            budget = flying.wall_s(self.service, 2 * SCENE_DISTANCE_M / 10.0, floor_s=30.0)
            if not await self.wait_until(
                lambda: self._holding(flight_a, drone, scene_a), budget, "holding over call 1"
            ):
                check.record_failed(
                    f"the first flight is not holding within {ON_SCENE_RADIUS_M:.0f} m of its "
                    f"call after {budget:.0f} s",
                    await flying.flight_and_drone(self.service, self.fleet, flight_a, drone),
                )
            else:
                self.record_event("on_scene_a", f"{drone} on scene, call {call_a}")

        self.begin_test_case("Preemption")
        self.begin_test_step("Post second call")
        call_b = 0
        with self.check("Call accepted", [ref_b]) as check:
            posted = await flying.post_call(
                self,
                self.service,
                self.cad,
                second,
                event="call_b_posted",
                label="CAD posted the priority-1 call",
            )
            if posted.call_id is None:
                check.record_failed(posted.problem, posted.detail)
            else:
                call_b = posted.call_id
        with self.check("Preemption recommended", [ref_b, drone]) as check:
            decision: dict[str, Any] | None = None

            decision = await flying.wait_decision(
                self,
                self.service,
                call_b,
                DECISION_TIMEOUT_S,
                what="the decision of call 2",
                event="decision_b",
                since="call_b_posted",
            )
            if decision is None:
                check.record_failed(f"no decision for call {call_b} within {DECISION_TIMEOUT_S} s")
            else:
                summary = str(decision.get("summary", ""))
                best = decision.get("recommended") or {}
                if not decision.get("eligible"):
                    check.record_failed(
                        f"the priority-1 call was refused: {summary}",
                        "; ".join(flying.failed_rule_reasons(decision)),
                    )
                elif best.get("drone_id") != drone or best.get("preempts_call_id") != str(call_a):
                    check.record_failed(
                        f"recommended {best.get('drone_id')} taken from call "
                        f"{best.get('preempts_call_id')}, expected {drone} taken from call {call_a}",
                        summary,
                    )
                elif decision.get("auto_launch"):
                    check.record_failed(
                        "the decision auto-launches a preemption the policy leaves to a dispatcher",
                        str(decision.get("auto_launch_reason")),
                    )

        self.begin_test_step("Launch second call")
        seen = self.fleet.observed(drone)
        track_from = 0 if seen is None else len(seen.track)
        flight_b = 0
        with self.check("Launch accepted", [ref_b, drone]) as check:
            launched = await dispatcher.post(f"/calls/{call_b}/launch", json={})
            self.record_event(
                "launch_b", "Dispatcher launched call 2", latency_from="call_b_posted"
            )
            if launched.status_code != 202:
                check.record_failed(
                    f"POST /calls/{call_b}/launch answered {launched.status_code}",
                    launched.text[:500],
                )
            else:
                flight_b = int(launched.json()["flight_id"])
                detail = await flying.flight_detail(self.service, flight_b)
                flown = None if detail is None else detail.get("drone_id")
                if flight_b == flight_a or flown != drone:
                    check.record_failed(
                        f"flight {flight_b} flies {flown}, expected a new flight on {drone}",
                        f"the first call's flight is {flight_a}",
                    )

        self.begin_test_step("Fly to second scene")
        reports: list[_Report] = []

        async def holding_b() -> bool:
            reports.append(self._report(drone))
            return await self._holding(flight_b, drone, scene_b)

        with self.check("Holding over second scene", [ref_b, drone]) as check:
            budget = max(
                SECOND_LEG_TIMEOUT_S, flying.wall_s(self.service, 2 * SCENE_DISTANCE_M / 10.0)
            )
            if not await self.wait_until(holding_b, budget, "holding over call 2"):
                check.record_failed(
                    f"the second flight is not holding within {ON_SCENE_RADIUS_M:.0f} m of its "
                    f"call {budget:.0f} s after the launch",
                    await flying.flight_and_drone(self.service, self.fleet, flight_b, drone),
                )
            else:
                self.record_event(
                    "on_scene_b", f"{drone} on scene, call {call_b}", latency_from="launch_b"
                )
        with self.check("Never landed between scenes", [drone]) as check:
            seen = self.fleet.observed(drone)
            track = [] if seen is None else seen.track[track_from:]
            problems = _on_the_ground(reports, track)
            if problems:
                check.record_failed(
                    f"{drone} was on the ground or disarmed between the scenes "
                    f"({len(problems)} report(s))",
                    "\n".join(problems[:20]),
                )
            else:
                lowest = min(
                    [p.alt_m for p in track] + [r.alt_rel_m for r in reports if r.alt_rel_m],
                    default=0.0,
                )
                modes = list(dict.fromkeys(r.mode for r in reports))
                check.record_passed(
                    f"{len(reports)} reports and {len(track)} track points from the launch to on "
                    f"scene: armed and in the air throughout, lowest {lowest:.0f} m above home; "
                    f"modes {' → '.join(modes)}"
                )

        self.begin_test_step("First call requeued")
        reason = f"reassigned to higher-priority call {call_b} (priority {SECOND_PRIORITY})"
        with self.check("First flight ended by reassignment", [ref_a, drone]) as check:
            ended = await flying.flight_detail(self.service, flight_a)
            states = [] if ended is None else flying.flight_states(ended)
            if ended is None:
                check.record_failed(f"GET /flights/{flight_a} did not answer")
            elif ended.get("state") != "completed" or ended.get("state_reason") != reason:
                check.record_failed(
                    f"the first flight is {ended.get('state')!r} "
                    f"({ended.get('state_reason')!r}), expected 'completed' ({reason!r})",
                    f"states {states}",
                )
            elif {"returning", "landed"} & set(states):
                check.record_failed(
                    "the first flight went through returning or landed before it was reassigned",
                    f"states {states}",
                )
        with self.check("First call back to recommended", [ref_a]) as check:
            call = await flying.call_detail(self.service, call_a)
            lifecycle = None if call is None else call.get("lifecycle")
            redecided: dict[str, Any] | None = None

            async def decided_again() -> bool:
                nonlocal redecided
                redecided = await flying.latest_decision(self.service, call_a)
                return redecided is not None and _names_call(redecided, drone, call_b)

            if lifecycle != "recommended":
                check.record_failed(f"the first call is {lifecycle!r}, expected 'recommended'")
            elif not await self.wait_until(
                decided_again, REQUEUE_TIMEOUT_S, "call 1 decided again"
            ):
                check.record_failed(
                    f"the first call was not decided again after {drone} left it",
                    "latest decision: "
                    + ("none" if redecided is None else str(redecided.get("summary"))),
                )

        self.begin_test_step("CAD records")
        with self.check("Reassignment at CAD", [ref_a, drone]) as check:
            note = f"Drone {drone} {reason}."

            def told(events: list[tuple[str, str, dict[str, Any]]]) -> bool:
                statuses = flying.unit_statuses(events)
                return any(k == "note" and t == note for k, t, _ in events) and (
                    statuses[-1:] == ["AssignmentCancelled"]
                )

            events = await flying.wait_cad(
                self, self.cad, ref_a, told, CAD_TIMEOUT_S, "the reassignment at CAD"
            )
            if not told(events):
                check.record_failed(
                    f"CAD did not receive the note {note!r} and AssignmentCancelled as the latest "
                    "unit status",
                    f"CAD received: {[(k, t) for k, t, _ in events]}; unit statuses "
                    f"{flying.unit_statuses(events)}",
                )
            else:
                self.record_event("reassigned_at_cad", "CAD: AssignmentCancelled", ref_a)
        with self.check("Launch note names first call", [ref_b, drone]) as check:
            ending = f"; taken in the air from call {call_a}."

            def named(events: list[tuple[str, str, dict[str, Any]]]) -> bool:
                return any(
                    k == "note" and " launched by " in t and t.endswith(ending)
                    for k, t, _ in events
                )

            events = await flying.wait_cad(
                self, self.cad, ref_b, named, CAD_TIMEOUT_S, "the launch note at CAD"
            )
            if not named(events):
                check.record_failed(
                    f"CAD has no launch note ending {ending!r} for the second incident",
                    f"CAD received: {[(k, t) for k, t, _ in events]}",
                )

        self.begin_test_step("Watch flight")
        with self.check("Never in keep-out", [drone]) as check:
            self.never_in_keep_out_step(check)
        with self.check("Under ceiling", [drone]) as check:
            self.under_ceiling_step(check)

        self.begin_test_case("Stand down")
        self.begin_test_step("Cancel calls")
        with self.check("Drone back at dock", [ref_a, ref_b, drone]) as check:
            answers = []
            for call_id in (call_b, call_a):
                r = await dispatcher.post(
                    f"/calls/{call_id}/cancel", json={"reason": "Scenario over"}
                )
                answers.append((call_id, r.status_code, r.text[:200]))
            self.record_event("cancel_posted", "Dispatcher cancelled both calls")
            refused = [a for a in answers if a[1] != 202]
            if refused:
                check.record_failed(f"a cancel was not answered 202: {refused}")
            elif not await flying.wait_landed_at_dock(self, self.fleet, drone, RETURN_TIMEOUT_S):
                check.record_failed(
                    f"{drone} is not landed at its dock {RETURN_TIMEOUT_S:.0f} s after the cancel",
                    await flying.flight_and_drone(self.service, self.fleet, flight_b, drone),
                )
            else:
                self.record_event(
                    "landed", f"{drone} landed at its dock", latency_from="cancel_posted"
                )

    async def cleanup(self) -> None:
        with self.check("Fleet landed", self.fleet.vehicle_ids()) as check:
            await self.fleet_landed_step(check, 90.0)

    async def _holding(self, flight_id: int, drone: str, scene: GeoPoint) -> bool:
        return await flying.holding_over(
            self.service, self.fleet, flight_id, drone, scene, ON_SCENE_RADIUS_M
        )

    def _report(self, drone: str) -> _Report:
        seen = self.fleet.observed(drone)
        if seen is None:
            return _Report(self.now_s(), False, None, None, "")
        return _Report(self.now_s(), seen.armed, seen.landed, seen.alt_rel_m, seen.mode)


def _on_the_ground(reports: list[_Report], track: list[TrackPoint]) -> list[str]:
    """Each report or track point that shows the drone disarmed, landed or not above the ground."""
    found = [
        f"t={r.at_s:.1f} s: {'armed' if r.armed else 'disarmed'}, landed {r.landed}, "
        f"{r.alt_rel_m if r.alt_rel_m is not None else '?'} m above home, mode {r.mode}"
        for r in reports
        if not r.armed
        or r.landed is True
        or r.alt_rel_m is None
        or r.alt_rel_m <= flying.AIRBORNE_ALT_M
    ]
    found += [
        f"track t={p.t_s:.1f} s: {p.alt_m:.1f} m above home"
        for p in track
        if p.alt_m <= flying.AIRBORNE_ALT_M
    ]
    if not reports:
        found.append("no report of the drone was read")
    return found


def _names_call(decision: dict[str, Any], drone: str, call_id: int) -> bool:
    """The decision saw the drone busy on `call_id` (it was taken after the drone left)."""
    for evaluation in decision.get("drones", []):
        if evaluation.get("drone_id") != drone:
            continue
        return any(
            f"on call {call_id} " in str(rule.get("reason", ""))
            for rule in evaluation.get("rules", [])
        )
    return False
