"""A docked drone gets its dock's fence when it connects; its launch then uploads only the mission.

Over real MAVLink with the simulator in this process (tests/dfr/flight_rig.py).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dfr.models import Role
from geofence import destination
from tests.dfr.flight_rig import DOCK, rig

pytestmark = [pytest.mark.integration, pytest.mark.sim, pytest.mark.timeout(180)]

SCENE = destination(DOCK, 30.0, 900.0)


async def test_the_dock_fence_is_on_the_vehicle_before_the_call_and_not_sent_again_at_launch(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path) as r:
        drone = r.sim.drone(0)
        async with asyncio.timeout(30):
            while not drone.plans.fence:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        held = drone.plans.fence
        call_id = await r.post_call("FENCE-1", SCENE, "SUSP", 3)
        launched = await r.launch(call_id)
        assert launched.status_code == 202, launched.text
        flight_id = int(launched.json()["flight_id"])
        flight = await r.wait_state(flight_id, {"en_route"}, timeout_s=60.0)
        assert drone.plans.fence is held, "the fence was uploaded again at launch"
        assert drone.plans.mission, "the mission was not uploaded"
        note = next(e["reason"] for e in flight["events"] if "mission started" in e["reason"])
        assert "mission upload" in note and "arm" in note, note


async def test_a_zone_import_puts_the_new_fence_on_the_docked_drone(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        drone = r.sim.drone(0)
        async with asyncio.timeout(30):
            while not drone.plans.fence:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        before = drone.plans.fence
        corner = destination(DOCK, 200.0, 600.0)
        d = 0.001
        ring = [
            [corner.lon_deg, corner.lat_deg],
            [corner.lon_deg + d, corner.lat_deg],
            [corner.lon_deg + d, corner.lat_deg + d],
            [corner.lon_deg, corner.lat_deg + d],
            [corner.lon_deg, corner.lat_deg],
        ]
        doc = {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                    "properties": {"kind": "exclusion", "name": "Fence test keep-out"},
                }
            ],
        }
        imported = await r.http[Role.ADMIN].post("/zones/import", json=doc)
        assert imported.status_code == 201, imported.text
        async with asyncio.timeout(30):
            while drone.plans.fence is before:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        assert len(drone.plans.fence) == len(before) + 4
