"""A call ended while its drone is being launched or is arriving: the drone stays down or goes home.

Over real MAVLink with the simulator in this process (tests/dfr/flight_rig.py).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from dfr.models import Role
from flight.mavlink_link import MavlinkVehicleLink
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


async def test_a_call_cancelled_as_the_drone_arrives_is_not_undone_by_the_arrival_orbit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with rig(tmp_path) as r:
        call_id = await r.post_call("RECALL-2", destination(DOCK, 0.0, 600.0), "SUSP", 3)
        launched = await r.launch(call_id)
        assert launched.status_code == 202, launched.text
        flight_id = int(launched.json()["flight_id"])
        recalls: list[asyncio.Task[None]] = []
        send_orbit = MavlinkVehicleLink.orbit

        async def orbit_racing_a_recall(link: MavlinkVehicleLink, *args: Any, **kwargs: Any) -> Any:
            # The call ends while the arrival's orbit is on its way to the vehicle: the recall must
            # be the vehicle's last word, whichever reaches it first.
            recall = asyncio.create_task(r.flights.recall(flight_id, "call ended on arrival"))
            recalls.append(recall)
            await asyncio.wait([recall], timeout=1.0)
            return await send_orbit(link, *args, **kwargs)

        monkeypatch.setattr(MavlinkVehicleLink, "orbit", orbit_racing_a_recall)
        await r.wait_state(flight_id, {"on_scene"}, timeout_s=90.0)
        async with asyncio.timeout(30.0):
            while not recalls:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        await recalls[0]
        # Home at once: a drone left orbiting would stay on scene until its battery ran low.
        await r.wait_state(flight_id, {"returning", "landed", "completed"}, timeout_s=30.0)
        done = await r.wait_state(flight_id, {"completed", "aborted"}, timeout_s=120.0)
        phases = [e["to_state"] for e in done["events"]]
        assert done["state"] == "completed", phases
        reasons = " | ".join(f"{e['to_state']}: {e['reason']}" for e in done["events"])
        assert "returning" in phases and "failsafe" not in phases, reasons
        assert "on_scene" not in phases[phases.index("returning") :], reasons
        statuses = [
            p["unit"]["status"] for p in r.outbox(call_id) if isinstance(p.get("unit"), dict)
        ]
        assert len(statuses) == len(set(statuses)), statuses
        assert r.d1().landed and not r.d1().armed
