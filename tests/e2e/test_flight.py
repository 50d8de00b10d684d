"""Flight link end to end (issue 5 acceptance, dfr level): pilot commands and a link cut in flight.

`dfr serve` flies simulated drones (`dfr-sim fleet`, x20) over real UDP; each command's effect and
each failsafe is checked against the simulator's own truth, not only against what the service says.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.e2e.conftest import Stack, TruthRecorder
from tests.e2e.geo import LocalFrame, destination, distance_m

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

DOCKS = {
    "sand-creek": (38.8339, -104.7470),
    "stetson-hills": (38.8957, -104.7178),
}
IN_AIRPORT = (38.81659, -104.71770)
#: The vehicle's data-link-loss timeout the service configures (COM_DL_LOSS_T, vehicle seconds).
DL_LOSS_TIMEOUT_S = 10.0
MAV_RESULT_DENIED = 2


def _pos(truth: dict[str, Any]) -> tuple[float, float]:
    return float(truth["lat_deg"]), float(truth["lon_deg"])


def _ack(stack: Stack, flight_id: int, command: str, **params: Any) -> dict[str, Any]:
    response = stack.command(flight_id, command, **params)
    assert response.status_code == 200, f"{command}: {response.status_code} {response.text}"
    body: dict[str, Any] = response.json()
    assert body["command"] == command and body["result"] == "accepted", body
    assert body["attempts"] >= 1
    return body


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_every_pilot_command_is_acknowledged_and_refusals_carry_the_reason(stack: Stack) -> None:
    dock = DOCKS["stetson-hills"]
    target = destination(*dock, 270.0, 1200.0)
    flight_id = stack.start_pilot_flight("D4", *target)
    stack.wait_flight_state(flight_id, "en_route", 60)
    stack.wait_truth("D4", lambda t: t["alt_rel_home_m"] > 20.0, 60, "climbing out")

    _ack(stack, flight_id, "hold")
    stack.wait_truth("D4", lambda t: t["mode"] == "LOITER", 30, "holding")
    _ack(stack, flight_id, "resume")
    stack.wait_truth("D4", lambda t: t["mode"] == "MISSION", 30, "back on its mission")

    # A go-to into the airport keep-out is refused by the geofence; the vehicle hears nothing.
    frame = LocalFrame(*dock)
    airport = next(
        z
        for z in frame.exclusion_zones(stack.api("pilot").get("/zones").json())
        if z.zone_id == "kcos-airport"
    )
    assert airport.area.contains(frame.point(*IN_AIRPORT))
    refused = stack.command(flight_id, "goto", lat=IN_AIRPORT[0], lon=IN_AIRPORT[1])
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert "refused by the geofence" in detail and airport.name in detail, detail
    still = stack.truth("D4")
    assert still["mode"] == "MISSION", still
    events = stack.flight(flight_id)["events"]
    assert not any("pilot command goto" in e["reason"] for e in events), events

    # A legal go-to: the drone flies there and holds.
    point = destination(*dock, 300.0, 500.0)
    _ack(stack, flight_id, "goto", lat=point[0], lon=point[1], alt_agl_m=50.0)
    stack.wait_truth(
        "D4",
        lambda t: distance_m(*_pos(t), *point) < 15.0 and abs(t["alt_rel_home_m"] - 50.0) < 5.0,
        60,
        "at the go-to point, 50 m up",
    )

    # Orbit the target: the vehicle's own orbit mode at the commanded radius.
    _ack(stack, flight_id, "orbit", lat=target[0], lon=target[1], radius_m=80.0, speed_mps=6.0)
    stack.wait_truth(
        "D4",
        lambda t: t["mode"] == "ORBIT" and abs(distance_m(*_pos(t), *target) - 80.0) < 15.0,
        90,
        "orbiting the target at 80 m",
    )

    # The vehicle refuses the next command: its answer is the API's answer, and nothing changes.
    stack.fault("D4", "refuse_next_command", result=MAV_RESULT_DENIED)
    denied = stack.command(flight_id, "rtl")
    assert denied.status_code == 409, denied.text
    detail = denied.json()["detail"]
    assert "D4" in detail and "refused" in detail and "DENIED" in detail, detail
    assert stack.truth("D4")["mode"] == "ORBIT"

    _ack(stack, flight_id, "rtl")
    stack.wait_truth("D4", lambda t: t["mode"] == "RTL", 30, "returning to launch")
    stack.wait_flight_state(flight_id, "returning", 30)
    _ack(stack, flight_id, "land")
    stack.wait_truth("D4", lambda t: t["mode"] == "LAND", 30, "landing")

    done = stack.wait_flight_state(flight_id, {"completed", "aborted"}, 120)
    assert done["state"] == "completed", done["state_reason"]
    final = stack.truth("D4")
    assert final["landed"] and not final["armed"], final
    accepted = [e["reason"] for e in done["events"] if e["reason"].startswith("pilot command ")]
    assert accepted == [
        f"pilot command {c} accepted by the vehicle"
        for c in ("hold", "resume", "goto", "orbit", "rtl", "land")
    ], accepted
    assert stack.command(flight_id, "hold").status_code == 409  # a finished flight takes none


def test_link_cut_in_flight_is_seen_then_the_vehicles_own_return_and_the_flight_completes(
    stack: Stack,
) -> None:
    # D1 from Sand Creek: the Gold Hill dock lies inside the stadium TFR on game nights, when no
    # plan from it is legal, and the test must not depend on the hour it runs at.
    dock = DOCKS["sand-creek"]
    target = destination(*dock, 240.0, 1000.0)
    flight_id = stack.start_pilot_flight("D1", *target)
    stack.wait_flight_state(flight_id, "en_route", 60)
    stack.wait_truth("D1", lambda t: t["alt_rel_home_m"] > 30.0, 60, "cruising")

    cut_s = 3.0 * DL_LOSS_TIMEOUT_S  # vehicle seconds: longer than the vehicle's own timeout
    heard_before = _at(stack.drone_frames()["D1"]["last_seen"])
    with TruthRecorder(stack, "D1") as truth:
        cut_at_s = float(stack.truth("D1")["time_s"])
        stack.fault("D1", "link_cut", duration_s=cut_s)

        lost = stack.wait_flight_state(flight_id, "link_lost", 60)
        # The vehicle's own data-link-loss failsafe, while nobody could command it.
        rtl = stack.wait_truth("D1", lambda t: t["mode"] == "RTL", 60, "its own RTL")
        back = stack.wait_flight_state(flight_id, {"failsafe", "returning"}, 60)
        done = stack.wait_flight_state(flight_id, {"completed", "aborted"}, 120)
    assert done["state"] == "completed", done["state_reason"]

    # Lost while the link was down (the service's watchdog, in vehicle seconds).
    lost_event = next(e for e in lost["events"] if e["to_state"] == "link_lost")
    detected_s = (_at(lost_event["at"]) - heard_before).total_seconds()
    assert 0.0 < detected_s < cut_s, detected_s
    assert lost_event["snapshot"]["link"] == "lost", lost_event
    assert "heartbeat" in lost_event["reason"], lost_event
    rtl_after_s = float(rtl["time_s"]) - cut_at_s
    assert DL_LOSS_TIMEOUT_S - 1.0 <= rtl_after_s < cut_s, rtl_after_s
    assert all(s["mode"] != "RTL" for s in truth.samples if s["time_s"] < cut_at_s)

    # Seen once the link returned: link_lost, then the vehicle's failsafe return, then home.
    states = [(e["from_state"], e["to_state"], e["reason"]) for e in done["events"]]
    changes = [(f, t) for f, t, _ in states if f != t]
    after_lost = changes[changes.index(("en_route", "link_lost")) + 1 :]
    assert after_lost[0][0] == "link_lost" and after_lost[0][1] in ("failsafe", "returning"), (
        changes
    )
    assert back["state"] in ("failsafe", "returning")
    recovered = next(r for f, t, r in states if f == "link_lost" and t != "link_lost")
    assert "RTL" in recovered or "link" in recovered, recovered
    assert [t for _, t in changes[-2:]] == ["landed", "completed"], changes
    assert not any(r.startswith("pilot command") for _, _, r in states)
    final = stack.truth("D1")
    assert final["landed"] and not final["armed"], final
    assert distance_m(*_pos(final), *dock) < 10.0, final


def test_service_crash_during_the_vehicles_own_failsafe_return_is_adopted_and_completes(
    stack: Stack,
) -> None:
    # Last in this module: it restarts the shared service. At x20 the restart outlasts the
    # vehicle's 10 s data-link-loss timeout many times over, so the drone flies home on its own
    # while the service is down; the restarted service must adopt the flight wherever it is.
    dock = DOCKS["sand-creek"]
    flight_id = stack.start_pilot_flight("D2", *destination(*dock, 0.0, 1500.0))
    stack.wait_flight_state(flight_id, "en_route", 60)
    stack.wait_truth(
        "D2",
        lambda t: t["mode"] == "MISSION" and distance_m(*_pos(t), *dock) > 300.0,
        60,
        "en route, 300 m out",
    )
    stack.kill_service()
    stack.wait_truth("D2", lambda t: t["mode"] == "RTL", 60, "its own RTL with no ground station")
    stack.start_service()
    stack.wait_links_up()
    done = stack.wait_flight_state(flight_id, {"completed", "aborted"}, 120)
    assert done["state"] == "completed", done["state_reason"]
    reasons = [e["reason"] for e in done["events"]]
    assert any(r.startswith("adopted after restart") for r in reasons), reasons
    changes = [e["to_state"] for e in done["events"] if e["from_state"] != e["to_state"]]
    assert changes[-2:] == ["landed", "completed"], changes
    final = stack.truth("D2")
    assert final["landed"] and not final["armed"], final
    assert distance_m(*_pos(final), *dock) < 10.0, final
