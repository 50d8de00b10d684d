"""Route around the airport (see the .md beside this file)."""

from __future__ import annotations

from geofence import destination
from simulator.scenarios import flying
from simulator.scenarios.framework import Scenario
from simulator.scenarios.resources import DfrService, SimCad, SimFleet, ZoneSet
from simulator.scenarios.stimuli import make_incident

DOCK_ID = "airport-south"
DRONE_ID = "D4"
CALL_BEARING_DEG = 310.0
CALL_DISTANCE_M = 2800.0  # north-west across the airport: the straight line crosses ~1.4 km of it
ARRIVE_TIMEOUT_S = 90.0
ON_SCENE_RADIUS_M = 150.0


class AirportRoute(Scenario):
    """Route around the airport."""

    default_timeout_s = 300.0

    def __init__(self, service: DfrService, cad: SimCad, fleet: SimFleet, zones: ZoneSet) -> None:
        super().__init__()
        self.service = service
        self.cad = cad
        self.fleet = fleet
        self.zones = zones

    async def run(self) -> None:
        dock = next(d for d in self.fleet.fleet.docks if d.id == DOCK_ID)
        scene = destination(dock.location, CALL_BEARING_DEG, CALL_DISTANCE_M)
        incident = make_incident(
            scene.lat_deg,
            scene.lon_deg,
            call_type="SUSP",
            call_type_text="Suspicious vehicle",
            priority=2,
        )
        ref = incident.incident_id
        self.record_point(f"call {ref}", "call", scene.lat_deg, scene.lon_deg)

        self.begin_test_case("Route")
        self.begin_test_step("Launch")
        with self.check("Drone airborne", [ref, DRONE_ID]) as check:
            launch = await flying.post_and_launch(
                self, self.service, self.cad, self.fleet, incident, drone_id=DRONE_ID
            )
            if launch.problem:
                check.record_failed(launch.problem, launch.detail)
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
            inside = flying.keep_out_violations(self.fleet, self.zones)
            if inside:
                check.record_failed(
                    f"{len(inside)} observed position(s) inside a keep-out zone",
                    "\n".join(inside[:20]),
                )
            else:
                check.record_passed(
                    f"{flying.observed_points(self.fleet, [DRONE_ID])} airborne positions of "
                    f"{DRONE_ID}, none in a keep-out"
                )
        with self.check("Under ceiling", [DRONE_ID]) as check:
            high = flying.ceiling_violations(self.fleet)
            if high:
                check.record_failed(
                    f"{len(high)} observed altitude(s) above the ceiling", "\n".join(high[:20])
                )

        self.begin_test_step("Arrive")
        with self.check("Holding over scene", [ref, DRONE_ID]) as check:
            away = flying.distance_to_m(self.fleet, DRONE_ID, scene.lat_deg, scene.lon_deg)
            if arrived is None:
                detail = await flying.flight_detail(self.service, launch.flight_id)
                check.record_failed(
                    f"flight {launch.flight_id} was not on scene within {ARRIVE_TIMEOUT_S:.0f} s",
                    f"{flying.where_is(self.fleet, DRONE_ID)}; states "
                    f"{None if detail is None else flying.flight_states(detail)}",
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
            if not await flying.recall_everything(self.service, self.fleet, 120.0):
                check.record_failed(
                    f"still armed: {', '.join(flying.armed_vehicles(self.fleet))}",
                    "\n".join(flying.where_is(self.fleet, v) for v in self.fleet.vehicle_ids()),
                )
