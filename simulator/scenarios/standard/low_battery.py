"""Low battery on scene (see the .md beside this file)."""

from __future__ import annotations

from simulator.scenarios import flying
from simulator.scenarios.steps import FleetScenario

#: Just below PX4's BAT_CRIT_THR (7 %): COM_LOW_BAT_ACT=3 (set by the service) returns; at
#: BAT_EMERGEN_THR (5 %) the vehicle lands wherever it is, which a long way home reaches first.
BATTERY_FRACTION = 0.069
ON_SCENE_TIMEOUT_S = 60.0
RETURN_TIMEOUT_S = 90.0


class LowBattery(FleetScenario):
    """Low battery on scene."""

    default_timeout_s = 300.0
    injects_vehicle_faults = True

    async def run(self) -> None:
        scene, incident = self.call_at(350.0, 1200.0, priority=1)
        ref = incident.incident_id

        self.begin_test_case("Low battery")
        self.begin_test_step("Reach scene")
        with self.check("Holding over scene", [ref]) as check:
            launch = await self.launch_step(check, incident, auto=True)
            if not launch.problem:
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
        flown, flight_id = launch.in_the_air()

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
                detail = await flying.flight_detail(self.service, flight_id)
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
            await self.cad_note_step(
                check, ref, "battery", 30.0, "CAD received no note naming the battery"
            )

    async def cleanup(self) -> None:
        with self.check("Fleet landed", self.fleet.vehicle_ids()) as check:
            await self.fleet_landed_step(check, 120.0)
