"""A call ended while its drone is still being launched: the launch stops and the drone stays down.

Over real MAVLink with the simulator in this process (tests/dfr/flight_rig.py).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dfr.models import Role
from geofence import destination
from tests.dfr.flight_rig import DOCK, SPEEDUP, rig

pytestmark = [pytest.mark.integration, pytest.mark.sim, pytest.mark.timeout(240)]

SCENE = destination(DOCK, 0.0, 1500.0)
#: Simulated seconds the vehicle hears nothing, so the plan upload is stalled when the call ends.
DEAF_SIM_S = 20.0


async def test_a_call_cancelled_during_the_launch_never_takes_off(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        call_id = await r.post_call("RECALL-1", SCENE, "SUSP", 3)
        drone = r.sim.drone(0)
        drone.fault_link_cut(DEAF_SIM_S, inbound=True, outbound=False)
        async with r.recording_truth() as seen:
            launched = await r.launch(call_id)
            assert launched.status_code == 202, launched.text
            flight_id = int(launched.json()["flight_id"])
            await r.wait_state(flight_id, {"uploading"}, timeout_s=30.0)
            cancelled = await r.http[Role.DISPATCHER].post(
                f"/calls/{call_id}/cancel", json={"reason": "no emergency found"}
            )
            assert cancelled.status_code == 202, cancelled.text
            aborted = await r.wait_state(flight_id, {"aborted"}, timeout_s=30.0)
            # Well past the end of the link cut: the stalled upload would have finished by now.
            await asyncio.sleep((DEAF_SIM_S + 30.0) / SPEEDUP)
        assert seen and not any(s.armed for s in seen), "the drone armed after its call ended"
        assert drone.snapshot().landed and not drone.snapshot().armed
        reasons = [e["reason"] for e in (await r.flight(flight_id))["events"]]
        assert not any("mission started" in reason for reason in reasons), reasons
        assert aborted["state"] == "aborted"
        assert r.flights.active_flight_of("D1") is None
