"""In-range priority call auto-launch and on-scene (see the .md beside this file)."""

from __future__ import annotations

from typing import Any

from simulator.scenarios import flying
from simulator.scenarios.steps import ZonedFleetScenario

CALL_DISTANCE_M = 1500.0
CALL_BEARING_DEG = 0.0  # due north of Sand Creek: open city, no zone in the way
ON_SCENE_RADIUS_M = 100.0
AUTO_LAUNCH_SIM_S = 30.0


class PriorityCallLaunch(ZonedFleetScenario):
    """In-range priority call auto-launch and on-scene."""

    default_timeout_s = 240.0

    async def run(self) -> None:
        dock = self.dock()
        scene, incident = self.call_at(
            CALL_BEARING_DEG,
            CALL_DISTANCE_M,
            address="1500 m north of Sand Creek",
        )
        ref = incident.incident_id
        nearest = [v.id for v in self.fleet.spec.vehicles if v.dock == dock.id]

        self.begin_test_case("Launch")
        self.begin_test_step("Post call")
        with self.check("Call accepted", [ref]) as check:
            call_id = await self.post_call_step(check, incident)

        self.begin_test_step("Decision")
        with self.check("Eligible with best drone", [ref]) as check:
            decision = await self.decision_step(check, call_id)
            if decision is not None:
                best = (decision.get("recommended") or {}).get("drone_id")
                if not decision.get("eligible"):
                    check.record_failed(
                        f"the call was refused: {decision.get('summary')}",
                        "; ".join(flying.failed_rule_reasons(decision)),
                    )
                elif best not in nearest:
                    check.record_failed(
                        f"recommended {best}, but the nearest available drones are {nearest} "
                        f"at {dock.name}",
                        str(decision.get("summary")),
                    )

        self.begin_test_step("Auto launch")
        flown: str | None = None
        with self.check("Drone airborne", [ref]) as check:
            budget = flying.wall_s(self.service, AUTO_LAUNCH_SIM_S, floor_s=30.0)

            async def in_air() -> bool:
                nonlocal flown
                up = flying.airborne_vehicles(self.fleet)
                flown = up[0] if up else None
                return flown is not None

            if not await self.wait_until(in_air, budget, "a drone in the air without any action"):
                flights = await flying.flights_of_call(self.service, call_id)
                check.record_failed(
                    f"no drone took off within {budget:.0f} s of the call without dispatcher action",
                    f"flights of the call: {[(f['id'], f['state'], f['state_reason']) for f in flights]}",
                )
            else:
                self.record_event("airborne", f"{flown} airborne", latency_from="call_posted")
        assert flown is not None
        with self.check("Dispatched status at CAD", [ref, flown]) as check:

            async def dispatched() -> bool:
                events = await flying.cad_events(self.cad, ref)
                return "Dispatched" in flying.unit_statuses(events)

            if not await self.wait_until(dispatched, 20.0, "Dispatched at CAD"):
                events = await flying.cad_events(self.cad, ref)
                check.record_failed(
                    "CAD did not receive the unit status Dispatched",
                    f"CAD received: {[(k, t) for k, t, _ in events]}",
                )
            else:
                self.record_event(
                    "dispatched_at_cad", "CAD: Dispatched", latency_from="call_posted"
                )
                body = next(
                    b
                    for k, _, b in await flying.cad_events(self.cad, ref)
                    if k == "unit_status" and "Dispatched" in flying.unit_statuses([(k, "", b)])
                )
                if not _has_eta(body):
                    check.record_failed(
                        "the Dispatched unit status carries no ETA", str(body)[:500]
                    )

        self.begin_test_case("On scene")
        self.begin_test_step("Reach scene")
        with self.check("Holding over scene", [ref, flown]) as check:

            async def holding() -> bool:
                flights = await flying.flights_of_call(self.service, call_id)
                away = flying.distance_to_m(self.fleet, flown, scene.lat_deg, scene.lon_deg)
                return (
                    bool(flights)
                    and flights[-1]["state"] == "on_scene"
                    and away is not None
                    and away <= ON_SCENE_RADIUS_M
                )

            budget = flying.wall_s(self.service, 2 * CALL_DISTANCE_M / 10.0, floor_s=30.0)
            if not await self.wait_until(holding, budget, "the drone holding over the scene"):
                flights = await flying.flights_of_call(self.service, call_id)
                state = flights[-1]["state"] if flights else "no flight"
                away = flying.distance_to_m(self.fleet, flown, scene.lat_deg, scene.lon_deg)
                check.record_failed(
                    f"the drone is not holding within {ON_SCENE_RADIUS_M:.0f} m of the call "
                    f"after {budget:.0f} s: flight {state}, "
                    f"{'?' if away is None else f'{away:.0f}'} m away",
                    flying.where_is(self.fleet, flown),
                )
            else:
                self.record_event("on_scene", f"{flown} on scene", latency_from="call_posted")
        with self.check("OnScene status at CAD", [ref, flown]) as check:

            async def on_scene_at_cad() -> bool:
                statuses = flying.unit_statuses(await flying.cad_events(self.cad, ref))
                return "OnScene" in statuses

            if not await self.wait_until(on_scene_at_cad, 20.0, "OnScene at CAD"):
                statuses = flying.unit_statuses(await flying.cad_events(self.cad, ref))
                check.record_failed(f"CAD did not receive OnScene; unit statuses: {statuses}")
            else:
                statuses = flying.unit_statuses(await flying.cad_events(self.cad, ref))
                if "Dispatched" not in statuses or statuses.index("OnScene") < statuses.index(
                    "Dispatched"
                ):
                    check.record_failed(f"OnScene came before Dispatched: {statuses}")
                self.record_event("on_scene_at_cad", "CAD: OnScene", latency_from="call_posted")

        self.begin_test_step("Watch flight")
        with self.check("Never in keep-out", [flown]) as check:
            self.never_in_keep_out_step(check)
        with self.check("Under ceiling", [flown]) as check:
            self.under_ceiling_step(check)

    async def cleanup(self) -> None:
        with self.check("Fleet landed", self.fleet.vehicle_ids()) as check:
            await self.fleet_landed_step(check, 90.0)


def _has_eta(body: dict[str, Any]) -> bool:
    unit = body.get("unit") or {}
    return unit.get("eta_s") is not None
