"""Route around the airport (see the .md beside this file)."""

from __future__ import annotations

from simulator.scenarios import flying
from simulator.scenarios.steps import ZonedFleetScenario

DOCK_ID = "airport-south"
DRONE_ID = "D4"
CALL_BEARING_DEG = 310.0
CALL_DISTANCE_M = 2800.0  # north-west across the airport: the straight line crosses ~1.4 km of it
ARRIVE_TIMEOUT_S = 90.0
ON_SCENE_RADIUS_M = 150.0


class AirportRoute(ZonedFleetScenario):
    """Route around the airport."""

    default_timeout_s = 300.0

    async def run(self) -> None:
        scene, incident = self.call_at(
            CALL_BEARING_DEG,
            CALL_DISTANCE_M,
            call_type="SUSP",
            call_type_text="Suspicious vehicle",
            priority=2,
            dock_id=DOCK_ID,
        )
        ref = incident.incident_id

        self.begin_test_case("Route")
        self.begin_test_step("Launch")
        with self.check("Drone airborne", [ref, DRONE_ID]) as check:
            launch = await self.launch_step(check, incident, drone_id=DRONE_ID)
        assert launch.flight_id is not None

        self.begin_test_step("Watch flight")
        arrived = await flying.wait_flight_state(
            self,
            self.service,
            launch.flight_id,
            {"on_scene"},
            ARRIVE_TIMEOUT_S,
            "the drone on scene",
        )
        with self.check("Never in keep-out", [DRONE_ID]) as check:
            self.never_in_keep_out_step(check, counted=[DRONE_ID])
        with self.check("Under ceiling", [DRONE_ID]) as check:
            self.under_ceiling_step(check)

        self.begin_test_step("Arrive")
        with self.check("Holding over scene", [ref, DRONE_ID]) as check:
            away = flying.distance_to_m(self.fleet, DRONE_ID, scene.lat_deg, scene.lon_deg)
            if arrived is None:
                check.record_failed(
                    f"flight {launch.flight_id} was not on scene within {ARRIVE_TIMEOUT_S:.0f} s",
                    await flying.flight_and_drone(
                        self.service, self.fleet, launch.flight_id, DRONE_ID
                    ),
                )
            elif away is None or away > ON_SCENE_RADIUS_M:
                check.record_failed(
                    f"the flight is on scene but {DRONE_ID} is {away} m from the call",
                    flying.where_is(self.fleet, DRONE_ID),
                )
            else:
                self.record_event("on_scene", f"{DRONE_ID} on scene", latency_from="call_posted")

    async def cleanup(self) -> None:
        with self.check("Fleet landed", self.fleet.vehicle_ids()) as check:
            await self.fleet_landed_step(check, 120.0)
