"""Two simultaneous calls get two drones (see the .md beside this file)."""

from __future__ import annotations

import asyncio

from geofence import GeoPoint, destination
from simulator.scenarios import flying
from simulator.scenarios.steps import FleetScenario
from simulator.scenarios.stimuli import make_incident

AIRBORNE_TIMEOUT_S = 40.0


class SimultaneousCalls(FleetScenario):
    """Two simultaneous calls get two drones."""

    default_timeout_s = 240.0

    async def run(self) -> None:
        dock = self.dock()
        home = dock.location
        incidents = [
            make_incident(*_latlon(destination(home, 10.0, 1400.0)), address="north", priority=1),
            make_incident(*_latlon(destination(home, 300.0, 1200.0)), address="west", priority=1),
        ]
        refs = [i.incident_id for i in incidents]
        for i in incidents:
            self.record_point(f"call {i.incident_id}", "call", i.lat, i.lon)
        call_ids: list[int] = []

        self.begin_test_case("Two calls")
        self.begin_test_step("Post calls")
        self.record_event("call_posted", "CAD posted both calls", ", ".join(refs))
        with self.check("Calls accepted", refs) as check:
            responses = await asyncio.gather(
                *(self.cad.post_call(self.service, i) for i in incidents)
            )
            bad = [(r.status_code, r.text[:200]) for r in responses if r.status_code != 202]
            if bad:
                check.record_failed(f"not every call was answered 202: {bad}")
            else:
                call_ids = [int(r.json()["id"]) for r in responses]

        self.begin_test_step("Launch both")
        with self.check("Two drones airborne", refs) as check:
            pairs: dict[int, str] = {}

            async def both_up() -> bool:
                for call_id in call_ids:
                    flights = await flying.flights_of_call(self.service, call_id)
                    if flights:
                        pairs[call_id] = str(flights[-1]["drone_id"])
                drones = set(pairs.values())
                return (
                    len(pairs) == 2
                    and len(drones) == 2
                    and all(flying.airborne(self.fleet, d) for d in drones)
                )

            if not await self.wait_until(both_up, AIRBORNE_TIMEOUT_S, "two drones in the air"):
                check.record_failed(
                    f"calls → drones {pairs}; airborne {flying.airborne_vehicles(self.fleet)}",
                    "\n".join(flying.where_is(self.fleet, v) for v in self.fleet.vehicle_ids()),
                )
            else:
                self.record_event(
                    "airborne",
                    "Two drones airborne",
                    ", ".join(f"call {c}: {d}" for c, d in pairs.items()),
                    latency_from="call_posted",
                )

    async def cleanup(self) -> None:
        with self.check("Fleet landed", self.fleet.vehicle_ids()) as check:
            await self.fleet_landed_step(check, 90.0)


def _latlon(point: GeoPoint) -> tuple[float, float]:
    return point.lat_deg, point.lon_deg
