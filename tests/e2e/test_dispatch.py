"""Dispatch end to end (issue 7 acceptance): CAD call in, decision, auto-launch, flight, cancel, CAD out.

Real processes on loopback: `dfr-sim cad serve`, `dfr-sim fleet` (the demo fleet of Colorado
Springs, x20) and `dfr serve`. What the service claims is checked against the simulator's truth and
against what the simulated CAD received.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import Stack, TruthRecorder, wait_for
from tests.e2e.geo import LocalFrame, destination, distance_m, zones_entered

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

DOCKS = {
    "sand-creek": (38.8339, -104.7470),
    "gold-hill": (38.8253, -104.8383),
    "stetson-hills": (38.8957, -104.7178),
}
DRONE_DOCK = {"D1": "sand-creek", "D2": "sand-creek", "D3": "gold-hill", "D4": "stetson-hills"}
RADIUS_M = 3218.7
#: A burglary 1.5 km north of the Sand Creek dock, clear of every zone.
BURGLARY = destination(*DOCKS["sand-creek"], 0.0, 1500.0)
#: Inside the operating area, about 6 km from the nearest dock, clear of every zone.
FAR_AWAY = (38.7700, -104.8000)
#: 40 m inside the KCOS airport keep-out on the line from Sand Creek, 3.19 km from that dock
#: (inside its response radius, so the airspace rule, not the distance, has to decide).
IN_AIRPORT = (38.81659, -104.71770)


def _rule(evaluation: dict[str, Any], name: str) -> dict[str, Any]:
    found = [r for r in evaluation["rules"] if r["rule"] == name]
    assert found, f"no rule {name!r} in {[r['rule'] for r in evaluation['rules']]}"
    rule: dict[str, Any] = found[0]
    return rule


def _flights_of_call(stack: Stack, call_id: int) -> list[dict[str, Any]]:
    rows = stack.api("dispatcher").get("/flights", params={"limit": 500}).json()["data"]
    return [f for f in rows if f["call_id"] == call_id]


def _settled(stack: Stack, call_id: int) -> dict[str, Any]:
    """Re-decide under the call's lock: returns once any background launch for it has finished."""
    response = stack.api("dispatcher").post(f"/calls/{call_id}/evaluate")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _call(stack: Stack, call_id: int) -> dict[str, Any]:
    response = stack.api("dispatcher").get(f"/calls/{call_id}")
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def test_burglary_in_progress_is_flown_by_the_best_drone_and_cancelled_back_to_its_dock(
    stack: Stack,
) -> None:
    lat, lon = BURGLARY
    assert distance_m(lat, lon, *DOCKS["sand-creek"]) == pytest.approx(1500.0, abs=1.0)
    zones_doc = stack.api("dispatcher").get("/zones").json()
    frame = LocalFrame(*DOCKS["sand-creek"])
    zones = frame.exclusion_zones(zones_doc)
    assert any(z.zone_id == "kcos-airport" for z in zones), [z.zone_id for z in zones]

    call_id = stack.post_call("E2E-BURG-1", lat, lon, call_type="BURGLARY", priority=1)
    decision = stack.decision(call_id)

    # Eligible; the recommendation is the eligible drone with the best time to scene, and says so.
    assert decision["eligible"], decision["summary"]
    assert decision["auto_launch"], decision["summary"]
    chosen = decision["recommended"]["drone_id"]
    eligible = {d["drone_id"]: d for d in decision["drones"] if d["eligible"]}
    assert chosen in eligible
    assert eligible[chosen]["eta_s"] == min(d["eta_s"] for d in eligible.values())
    assert DRONE_DOCK[chosen] == "sand-creek"
    assert f"({chosen})" in decision["summary"], decision["summary"]
    runner_up = decision["runner_up"]["drone_id"]
    assert runner_up != chosen and runner_up in eligible
    for far in ("D3", "D4"):  # docks more than 2 miles away
        evaluation = next(d for d in decision["drones"] if d["drone_id"] == far)
        assert not evaluation["eligible"]
        assert not _rule(evaluation, "distance")["passed"]

    with TruthRecorder(stack, chosen) as truth:
        flight_id = wait_for(
            lambda: [f["id"] for f in _flights_of_call(stack, call_id)],
            60,
            f"the auto-launched flight of call {call_id}",
        )[0]
        flight = stack.flight(flight_id)
        assert flight["drone_id"] == chosen
        assert flight["created_by"] == "DFR auto-launch"

        # On scene: over the scene, within the planned orbit radius. (The plan's NAV_LOITER_UNLIM
        # carries the radius, but a PX4 multicopter, like the simulator, holds over the point.)
        stack.wait_flight_state(flight_id, "on_scene", 120)
        radius_m = flight["orbit_radius_m"]
        stack.wait_truth(
            chosen,
            lambda t: distance_m(*_pos(t), lat, lon) <= radius_m + 10.0 and t["armed"],
            60,
            f"over the scene (within {radius_m:.0f} m)",
        )
        over_scene = stack.truth(chosen)
        assert over_scene["armed"] and over_scene["alt_rel_home_m"] > 30.0, over_scene
        assert _call(stack, call_id)["lifecycle"] == "on_scene"

        # The dispatcher cancels: no emergency found.
        response = stack.api("dispatcher").post(
            f"/calls/{call_id}/cancel", json={"reason": "No emergency found on scene."}
        )
        assert response.status_code == 202, response.text

        landed = stack.wait_flight_state(flight_id, {"completed", "aborted"}, 180)
    assert landed["state"] == "completed", landed["state_reason"]

    # Simulator truth: on the ground at its own dock, disarmed.
    at_dock = stack.truth(chosen)
    assert not at_dock["armed"] and at_dock["landed"], at_dock
    assert distance_m(*_pos(at_dock), *DOCKS["sand-creek"]) < 10.0, at_dock

    # The whole flown path (service track and simulator truth) never entered an exclusion zone.
    track = [(c[1], c[0]) for c in landed["track"]["geometry"]["coordinates"]]
    true_path = truth.airborne_path()
    assert len(track) >= 20, f"flown track has only {len(track)} points"
    assert len(true_path) >= 50, f"only {len(true_path)} truth samples in the air"
    assert zones_entered(frame, zones, track) == []
    assert zones_entered(frame, zones, true_path) == []
    # It flew the planned route: every true position is near the planned legs or the orbit.
    legs = [f for f in landed["route"]["features"] if f["geometry"]["type"] == "LineString"]
    assert legs, landed["route"]
    planned = [(c[1], c[0]) for leg in legs for c in leg["geometry"]["coordinates"]]
    route_line = frame.line(planned)
    scene = frame.point(lat, lon)
    off_route = [
        p
        for p in true_path
        if route_line.distance(frame.point(*p)) > 60.0
        and frame.point(*p).distance(scene) > radius_m + 30.0
    ]
    assert off_route == [], f"{len(off_route)} true positions off the planned route"
    assert min(frame.point(*p).distance(scene) for p in true_path) < radius_m + 20.0

    # The flight's states in order.
    states = [e["to_state"] for e in landed["events"] if e["from_state"] != e["to_state"]]
    for expected in ("planned", "uploading", "armed", "en_route", "on_scene", "returning"):
        assert expected in states, states
    assert states[-2:] == ["landed", "completed"], states
    order = [states.index(s) for s in ("uploading", "armed", "en_route", "on_scene", "returning")]
    assert order == sorted(order), states

    # The call is cancelled, and CAD has the unit statuses, the notes and the cancellation, in order.
    assert _call(stack, call_id)["lifecycle"] == "cancelled"
    outbound = wait_for(
        lambda: (
            (rows := _call(stack, call_id)["outbound"])
            and all(o["state"] == "delivered" for o in rows)
            and rows
        ),
        60,
        "every outbound CAD event delivered",
        describe=lambda: str(_call(stack, call_id)["outbound"]),
    )
    received = stack.cad_events("E2E-BURG-1")
    assert [e["body"]["event_id"] for e in received] == [o["event_id"] for o in outbound]
    assert [e["seq"] for e in received] == sorted(e["seq"] for e in received)
    assert all(
        e["body"]["unit"]["id"] == chosen for e in received if e["body"]["kind"] == "unit_status"
    )
    cancel = [e["body"] for e in received if e["body"]["kind"] == "cancel"]
    assert len(cancel) == 1 and cancel[0]["disposition"]["code"] == "10", cancel
    assert cancel[0]["text"] == "No emergency found on scene."
    seen = [_cad_item(e["body"]) for e in received]
    assert seen == [
        ("note", "DFR recommendation: "),
        ("note", f"Drone {chosen} launched by DFR auto-launch"),
        ("unit_status", "Dispatched"),
        ("unit_status", "EnRoute"),
        ("note", f"Drone {chosen} airborne, en route."),
        ("unit_status", "OnScene"),
        ("note", f"Drone {chosen} on scene."),
        ("cancel", "No emergency found on scene."),
        ("unit_status", "Cleared"),
        ("note", f"Drone {chosen} returning to its dock."),
        ("note", f"Drone {chosen} landed."),
        ("note", f"Drone {chosen} back in service."),
    ], seen
    # Every note of the call reached CAD once, in the call's order (the cancellation's note as
    # the cancel event itself).
    call = _call(stack, call_id)
    cad_texts = [b["text"] for e in received if (b := e["body"])["kind"] in ("note", "cancel")]
    call_texts = [n["text"].removeprefix("Cancelled: ") for n in call["notes"]]
    assert cad_texts == call_texts, (cad_texts, call_texts)


def _cad_item(body: dict[str, Any]) -> tuple[str, str]:
    """(kind, unit status or the start of the text) of an event CAD received."""
    if body["kind"] == "unit_status":
        return "unit_status", str(body["unit"]["status"])
    text = str(body["text"])
    if text.startswith("DFR recommendation: "):
        return body["kind"], "DFR recommendation: "
    if " launched by " in text:
        return body["kind"], text.split(";")[0]
    return body["kind"], text


def _pos(snapshot: dict[str, Any]) -> tuple[float, float]:
    return float(snapshot["lat_deg"]), float(snapshot["lon_deg"])


def test_call_beyond_the_response_radius_is_not_eligible_and_names_the_distance(
    stack: Stack,
) -> None:
    lat, lon = FAR_AWAY
    nearest_m = min(distance_m(lat, lon, *d) for d in DOCKS.values())
    assert nearest_m > RADIUS_M + 1000.0
    call_id = stack.post_call("E2E-FAR-1", lat, lon, call_type="BURGLARY", priority=1)
    decision = stack.decision(call_id)
    assert not decision["eligible"], decision["summary"]
    assert decision["recommended"] is None
    for evaluation in decision["drones"]:
        rule = _rule(evaluation, "distance")
        assert not rule["passed"], rule
        dock_m = distance_m(lat, lon, *DOCKS[evaluation["dock_id"]])
        miles = [float(m) for m in re.findall(r"(\d+\.\d+) mi\b", rule["reason"])]
        assert any(abs(m - dock_m / 1609.344) < 0.011 for m in miles), (rule["reason"], dock_m)
        assert "radius" in rule["reason"], rule["reason"]
    assert " mi " in decision["summary"], decision["summary"]

    # Nothing flies: not on its own, and not when a dispatcher asks.
    settled = _settled(stack, call_id)
    assert not settled["eligible"]
    response = stack.api("dispatcher").post(f"/calls/{call_id}/launch", json={})
    assert response.status_code == 409, response.text
    assert " mi " in response.json()["detail"], response.json()
    assert _flights_of_call(stack, call_id) == []
    assert _call(stack, call_id)["lifecycle"] == "new"


def test_call_inside_the_airport_zone_gets_a_stand_off_or_is_refused_with_the_reason(
    stack: Stack,
) -> None:
    lat, lon = IN_AIRPORT
    frame = LocalFrame(*DOCKS["sand-creek"])
    zones = frame.exclusion_zones(stack.api("dispatcher").get("/zones").json())
    airport = next(z for z in zones if z.zone_id == "kcos-airport")
    assert airport.area.contains(frame.point(lat, lon))
    assert distance_m(lat, lon, *DOCKS["sand-creek"]) < RADIUS_M

    # A call type the policy flies but never auto-launches: the decision alone is under test.
    call_id = stack.post_call("E2E-KCOS-1", lat, lon, call_type="SUSP", priority=2)
    decision = stack.decision(call_id)
    sand_creek = [d for d in decision["drones"] if d["dock_id"] == "sand-creek"]
    assert sand_creek
    for evaluation in sand_creek:
        assert _rule(evaluation, "distance")["passed"]
        airspace = _rule(evaluation, "airspace")
        standoff = airspace["details"].get("standoff_m")
        if evaluation["eligible"]:
            # Flown to a stand-off point outside the zone, and the reason says so.
            assert airspace["passed"] and standoff is not None and standoff > 0, airspace
            assert "stand-off" in airspace["reason"].lower(), airspace["reason"]
        else:
            # Refused: the airspace rule fails and names the airport zone.
            assert not airspace["passed"], airspace
            assert airport.name in airspace["reason"], (airport.name, airspace["reason"])
            assert "stand-off" in airspace["reason"], airspace["reason"]
    if not decision["eligible"]:
        assert airport.name in decision["summary"], decision["summary"]
    assert _settled(stack, call_id) is not None
    assert _flights_of_call(stack, call_id) == []


def test_wind_over_the_limit_makes_a_call_ineligible_and_names_the_wind(stack: Stack) -> None:
    pilot = stack.api("pilot")
    response = pilot.put("/weather", json={"wind_speed_mps": 20.0})
    assert response.status_code == 200, response.text
    try:
        assert stack.api("dispatcher").get("/weather").json()["weather"]["wind_speed_mps"] == 20.0
        lat, lon = destination(*DOCKS["sand-creek"], 270.0, 1500.0)
        call_id = stack.post_call("E2E-WIND-1", lat, lon, call_type="BURGLARY", priority=1)
        decision = stack.decision(call_id)
        assert not decision["eligible"], decision["summary"]
        weather_rules = [r for r in decision["call_rules"] if r["rule"] == "weather"]
        assert weather_rules and not weather_rules[0]["passed"], decision["call_rules"]
        reason = weather_rules[0]["reason"]
        assert "wind" in reason.lower() and "20.0 m/s" in reason, reason
        assert "wind" in decision["summary"].lower(), decision["summary"]
        assert not _settled(stack, call_id)["eligible"]
        assert _flights_of_call(stack, call_id) == []
    finally:
        pilot.delete("/weather")
