"""Low battery on scene (see the .md beside this file)."""

from __future__ import annotations

from simulator.scenarios import flying
from simulator.scenarios.framework import Scenario
from simulator.scenarios.resources import DfrService, SimCad, SimFleet

#: Just below PX4's BAT_CRIT_THR (7 %): COM_LOW_BAT_ACT=3 (set by the service) returns; at
#: BAT_EMERGEN_THR (5 %) the vehicle lands wherever it is, which a long way home reaches first.
BATTERY_FRACTION = 0.069
ON_SCENE_TIMEOUT_S = 60.0
RETURN_TIMEOUT_S = 90.0


class LowBattery(Scenario):
    """Low battery on scene."""

    default_timeout_s = 300.0
    injects_vehicle_faults = True

    def __init__(self, service: DfrService, cad: SimCad, fleet: SimFleet) -> None:
        super().__init__()
        self.service = service
        self.cad = cad
        self.fleet = fleet

    async def run(self) -> None:
        dock = self.fleet.fleet.docks[0]
        scene, incident = flying.call_from(self, dock.location, 350.0, 1200.0, priority=1)
        ref = incident.incident_id

        self.begin_test_case("Low battery")
        self.begin_test_step("Reach scene")
        with self.check("Holding over scene", [ref]) as check:
            launch = await flying.post_and_launch(
                self, self.service, self.cad, self.fleet, incident, auto=True
            )
            if launch.problem:
                check.record_failed(launch.problem, launch.detail)
            else:
                assert launch.flight_id is not None
                on_scene = await flying.wait_flight_state(
                    self,
                    self.service,
                    launch.flight_id,
                    {"on_scene"},
                    ON_SCENE_TIMEOUT_S,
                    "on scene",
                )
                if on_scene is None:
                    check.record_failed(
                        f"flight {launch.flight_id} not on scene within {ON_SCENE_TIMEOUT_S:.0f} s",
                        flying.where_is(self.fleet, str(launch.drone_id)),
                    )
                else:
                    self.record_event("on_scene", "On scene", latency_from="call_posted")
        assert launch.drone_id is not None and launch.flight_id is not None
        flown = launch.drone_id

        self.begin_test_step("Drop battery")
        await self.fleet.inject(flown, "battery_drop", fraction=BATTERY_FRACTION)
        self.record_event("battery_drop", f"{flown} battery at {BATTERY_FRACTION:.0%}")
        seen = self.fleet.observed(flown)
        modes_before = 0 if seen is None else len(seen.modes_seen)
        with self.check("Drone returns", [flown]) as check:

            async def returned_and_landed() -> bool:
                now = self.fleet.observed(flown)
                return (
                    now is not None
                    and any("RTL" in m.upper() for _, m in now.modes_seen[modes_before:])
                    and not now.armed
                    and (now.alt_rel_m or 0.0) <= flying.AIRBORNE_ALT_M
                )

            if not await self.wait_until(returned_and_landed, RETURN_TIMEOUT_S, "RTL, then landed"):
                detail = await flying.flight_detail(self.service, launch.flight_id)
                now = self.fleet.observed(flown)
                check.record_failed(
                    f"{flown} did not switch to RTL and land within {RETURN_TIMEOUT_S:.0f} s",
                    f"{flying.where_is(self.fleet, flown)}; modes since the drop "
                    f"{[] if now is None else now.modes_seen[modes_before:]}; states "
                    f"{None if detail is None else flying.flight_states(detail)}",
                )
            else:
                check.record_passed(flying.where_is(self.fleet, flown))
                self.record_event(
                    "landed",
                    f"{flown} returned and landed",
                    flying.where_is(self.fleet, flown),
                    latency_from="battery_drop",
                )
        with self.check("Low battery noted to CAD", [ref, flown]) as check:

            def noted(ev: list[tuple[str, str, dict[str, object]]]) -> bool:
                return any(k == "note" and "battery" in t.lower() for k, t, _ in ev)

            events = await flying.wait_cad(
                self, self.cad, ref, noted, 30.0, "a battery note at CAD"
            )
            if not noted(events):
                check.record_failed(
                    "CAD received no note naming the battery",
                    f"CAD notes: {[t for k, t, _ in events if k == 'note']}",
                )

    async def cleanup(self) -> None:
        with self.check("Fleet landed", self.fleet.vehicle_ids()) as check:
            if not await flying.recall_everything(self.service, self.fleet, 120.0):
                check.record_failed(
                    f"still armed: {', '.join(flying.armed_vehicles(self.fleet))}",
                    "\n".join(flying.where_is(self.fleet, v) for v in self.fleet.vehicle_ids()),
                )
