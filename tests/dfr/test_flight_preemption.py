"""Preemption over real MAVLink: a priority-1 call takes an airborne drone from a priority-3 call.

The service (flight links and dispatcher, HTTP through ASGI) and the PX4-compatible simulator run
in this process on free loopback UDP ports, time sped up. The demo fleet is reduced to D1 at the
Sand Creek dock; the agency's preemption rule comes from the fleet file's `[policy]`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dfr.errors import ConflictError
from flight import PlanRejectedError
from geofence import GeoPoint, destination, distance_m
from simulator.vehicle import DroneSnapshot
from tests.dfr.flight_rig import DOCK, Rig, rig

pytestmark = [pytest.mark.integration, pytest.mark.sim, pytest.mark.timeout(240)]

#: Call A (low priority) 1.5 km north of the dock, call B (priority 1) 1.5 km west: both clear.
SCENE_A = destination(DOCK, 0.0, 1500.0)
SCENE_B = destination(DOCK, 270.0, 1500.0)
#: Far outside the operating area: no legal plan reaches it.
OUTSIDE = GeoPoint(38.40, -104.20)
MAV_RESULT_FAILED = 4
ALLOWED = "[policy.preemption]\nallowed = true\nmin_priority_gap = 2\n"
NOT_ALLOWED = "[policy.preemption]\nallowed = false\n"


def _near(snap: DroneSnapshot, point: GeoPoint, radius_m: float) -> bool:
    return distance_m(GeoPoint(snap.lat_deg, snap.lon_deg), point) <= radius_m


def _statuses(outbox: list[dict[str, Any]]) -> list[str]:
    return [str(e["unit"]["status"]) for e in outbox if e["kind"] == "unit_status"]


def _texts(outbox: list[dict[str, Any]]) -> list[str]:
    return [str(e["text"]) for e in outbox if e["kind"] == "note"]


async def _flying_a_then_b(r: Rig) -> tuple[int, int, int]:
    """Call A (SUSP, priority 3) launched and en route, then call B (priority 1) posted.

    Returns (call A, flight A, call B).
    """
    call_a = await r.post_call("PRE-A", SCENE_A, "SUSP", 3)
    launched = await r.launch(call_a)
    assert launched.status_code == 202, launched.text
    flight_a = int(launched.json()["flight_id"])
    await r.wait_state(flight_a, {"en_route"})
    # Well on its way to A, high enough that the new route is flown at cruise altitude.
    await r.wait_truth(
        lambda s: s.alt_rel_home_m > 60.0 and not _near(s, DOCK, 300.0), "left the dock"
    )
    call_b = await r.post_call("PRE-B", SCENE_B, "BURGLARY", 1)
    return call_a, flight_a, call_b


async def _at_scene_a(r: Rig, flight_a: int) -> dict[str, Any]:
    """Flight A once on scene, with the vehicle armed over scene A."""
    at_a = await r.wait_state(flight_a, {"on_scene"})
    await r.wait_truth(lambda s: _near(s, SCENE_A, 80.0) and s.armed, "reached scene A")
    return at_a


async def test_a_priority_1_call_takes_the_drone_from_a_priority_3_call_in_the_air(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path, ALLOWED) as r:
        call_a, flight_a, call_b = await _flying_a_then_b(r)

        async with r.recording_truth():
            launched = await r.launch(call_b)
            assert launched.status_code == 202, launched.text
            flight_b = int(launched.json()["flight_id"])
            assert flight_b != flight_a
            at_b = await r.wait_state(flight_b, {"on_scene"})
            await r.wait_truth(lambda s: _near(s, SCENE_B, 60.0), "reached scene B")

        # The vehicle flew to B without landing: armed and in the air all the way.
        assert r.truth and all(s.armed and not s.landed for s in r.truth), [
            (s.armed, s.landed, s.mode) for s in r.truth if not s.armed or s.landed
        ]
        assert min(distance_m(GeoPoint(s.lat_deg, s.lon_deg), SCENE_A) for s in r.truth) > 100.0

        # A's flight ended in the air with the reason; B's flight took over en route.
        ended = await r.flight(flight_a)
        assert ended["state"] == "completed", ended["state_reason"]
        reason = f"reassigned to higher-priority call {call_b} (priority 1)"
        assert ended["state_reason"] == reason
        assert [e["to_state"] for e in ended["events"] if e["from_state"] != e["to_state"]][
            -1:
        ] == ["completed"]
        states_b = [e["to_state"] for e in at_b["events"] if e["from_state"] != e["to_state"]]
        assert states_b[:4] == ["planned", "uploading", "armed", "en_route"], states_b
        assert "on_scene" in states_b and "landed" not in states_b, states_b
        assert at_b["drone_id"] == "D1" and at_b["call_id"] == call_b

        # Both calls know, and CAD will be told: notes and unit statuses in the outbox.
        out_a, out_b = r.outbox(call_a), r.outbox(call_b)
        assert f"Drone D1 {reason}." in _texts(out_a), _texts(out_a)
        assert _statuses(out_a)[-1] == "AssignmentCancelled", _statuses(out_a)
        launched_note = next(t for t in _texts(out_b) if " launched by " in t)
        assert launched_note.endswith(f"; taken in the air from call {call_a}."), launched_note
        assert _statuses(out_b)[:3] == ["Dispatched", "EnRoute", "OnScene"], _statuses(out_b)
        dispatched = next(e for e in out_b if e["kind"] == "unit_status")
        assert dispatched["unit"]["eta_s"] is not None

        # B is flown; A is back in the queue and was decided again (no other drone to send).
        assert (await r.call(call_b))["lifecycle"] == "on_scene"
        assert (await r.call(call_a))["lifecycle"] == "recommended"
        assert [f["id"] for f in await r.flights_of(call_a)] == [flight_a]


async def test_without_preemption_in_the_policy_the_launch_is_refused_and_the_flight_flies_on(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path, NOT_ALLOWED) as r:
        call_a, flight_a, call_b = await _flying_a_then_b(r)
        refused = await r.launch(call_b)
        assert refused.status_code == 409, refused.text
        detail = refused.json()["detail"]
        assert "D1 may not fly this call" in detail and "does not allow preemption" in detail

        assert await r.flights_of(call_b) == []
        flying = await r.flight(flight_a)
        assert flying["state"] == "en_route" and flying["call_id"] == call_a
        await _at_scene_a(r, flight_a)
        assert not any("reassigned" in t for t in _texts(r.outbox(call_a)))


async def test_a_reassignment_refused_by_geofence_or_vehicle_leaves_the_old_flight_flying(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path, ALLOWED) as r:
        call_a, flight_a, call_b = await _flying_a_then_b(r)

        # No legal plan from where the drone is: refused before anything is sent.
        with pytest.raises(PlanRejectedError, match="outside the operating area"):
            await r.flights.retask(
                "D1", OUTSIDE, call_id=call_b, reason="test", from_call_id=call_a
            )
        assert r.flights.active_flight_of("D1") == flight_a

        # The vehicle refuses to start the new mission: its own mission goes back on and on.
        r.sim.drone(0).fault_refuse_next_command(MAV_RESULT_FAILED)
        with pytest.raises(ConflictError, match="did not take the new mission"):
            await r.flights.retask(
                "D1", SCENE_B, call_id=call_b, reason="test", from_call_id=call_a
            )
        assert r.flights.active_flight_of("D1") == flight_a
        assert await r.flights_of(call_b) == []
        at_a = await _at_scene_a(r, flight_a)
        notes = [e["reason"] for e in at_a["events"] if e["from_state"] == e["to_state"]]
        assert any(
            "reassignment refused by the vehicle" in n and "back on the vehicle" in n for n in notes
        ), notes
        assert (await r.call(call_a))["lifecycle"] == "on_scene"
